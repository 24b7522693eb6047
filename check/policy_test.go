package check

import (
	"strings"
	"testing"
)

func TestPolicyString(t *testing.T) {
	tests := []struct {
		level   Level
		require []string
		allow   []string
		strict  bool
		want    string
	}{
		{Basic, nil, nil, false, "basic: relro=partial-or-full pie noexecstack wx"},
		{Strong, nil, nil, false, "strong: canary fortify relro=full now pie noexecstack wx"},
		{Immunix, nil, nil, false, "immunix: canary fortify formatguard raceguard stamp relro=full now pie noexecstack wx"},
		{Strong, []string{"cet", "rpath"}, []string{"now"}, true, "strong: canary fortify relro=full pie noexecstack wx cet rpath (unknown fails)"},
		{Basic, nil, []string{"relro", "pie", "noexecstack", "wx"}, false, "basic: "},
	}
	for _, tt := range tests {
		p, err := NewPolicy(tt.level)
		if err != nil {
			t.Fatal(err)
		}
		orig := p.String()
		q := p
		for _, r := range tt.require {
			if q, err = q.WithRequire(r); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range tt.allow {
			if q, err = q.WithAllow(a); err != nil {
				t.Fatal(err)
			}
		}
		q = q.WithStrict(tt.strict)
		if got := q.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		if p.String() != orig {
			t.Errorf("%s: With* changed the original policy: %q", tt.level, p.String())
		}
	}
	if _, err := NewPolicy("paranoid"); err == nil || !strings.Contains(err.Error(), "unknown policy level") {
		t.Errorf("bad level: %v", err)
	}
	p, _ := NewPolicy(Strong)
	if _, err := p.WithRequire("aslr"); err == nil {
		t.Error("unknown property accepted")
	}
}

func TestPolicyFailures(t *testing.T) {
	results := []Result{
		{Property: PRelro, Status: Fail, Value: "partial"},
		{Property: PCanary, Status: Unknown, Value: "stripped static"},
		{Property: PFortify, Status: NA},
		{Property: PPIE, Status: Fail, Value: "no (ET_EXEC)"},
		{Property: PCET, Status: Fail, Value: "none"},
	}
	tests := []struct {
		level  Level
		strict bool
		want   string
	}{
		{Basic, false, "pie"},
		{Strong, false, "relro pie"},
		{Strong, true, "canary relro pie"},
	}
	for _, tt := range tests {
		p, _ := NewPolicy(tt.level)
		p = p.WithStrict(tt.strict)
		if got := strings.Join(p.Failures(results), " "); got != tt.want {
			t.Errorf("%s strict=%v: got %q, want %q", tt.level, tt.strict, got, tt.want)
		}
	}
}
