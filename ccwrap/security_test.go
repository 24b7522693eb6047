package ccwrap

import (
	"strings"
	"testing"
)

// Each line of the lists is a command line and the protection it must
// leave in force (good) or turn off as the user's own choice (bad).
var goodFlags = []struct {
	args string
	p    Protection
}{
	{"-fstack-protector-strong", Canary},
	{"-fstack-protector-all", Canary},
	{"-fno-stack-protector -fstack-protector-strong", Canary},
	{"-fstack-clash-protection", StackClash},
	{"-fcf-protection", CET},
	{"-fcf-protection=full", CET},
	{"-D_FORTIFY_SOURCE=2", Fortify},
	{"-D_FORTIFY_SOURCE=3", Fortify},
	{"-D _FORTIFY_SOURCE=3", Fortify},
	{"-Wp,-D_FORTIFY_SOURCE=2", Fortify},
	{"-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2", Fortify},
	{"-Xpreprocessor -D_FORTIFY_SOURCE=2", Fortify},
	{"-Wformat-security", FormatSec},
	{"-Werror=format-security", FormatSec},
	{"-Wformat=2", FormatSec},
	{"-fPIE", PIE},
	{"-fpie", PIE},
	{"-fPIC", PIE},
	{"-Wl,-z,relro", RELRO},
	{"-Wl,-z,norelro -Wl,-z,relro", RELRO},
	{"-Wl,-zrelro", RELRO},
	{"-z relro", RELRO},
	{"-Xlinker -z -Xlinker relro", RELRO},
	{"-Wl,-z,relro,-z,now", Now},
	{"-Wl,-z,noexecstack", NoExecStack},
}

var badFlags = []struct {
	args string
	p    Protection
}{
	{"-fno-stack-protector", Canary},
	{"-fstack-protector", Canary},
	{"-fstack-protector-explicit", Canary},
	{"-fstack-protector-strong -fno-stack-protector", Canary},
	{"-fno-stack-clash-protection", StackClash},
	{"-fcf-protection=none", CET},
	{"-fcf-protection=branch", CET},
	{"-fcf-protection=return", CET},
	{"-U_FORTIFY_SOURCE", Fortify},
	{"-U _FORTIFY_SOURCE", Fortify},
	{"-D_FORTIFY_SOURCE", Fortify},
	{"-D_FORTIFY_SOURCE=1", Fortify},
	{"-D_FORTIFY_SOURCE=0", Fortify},
	{"-D_FORTIFY_SOURCE=2 -U_FORTIFY_SOURCE", Fortify},
	{"-Wp,-U_FORTIFY_SOURCE", Fortify},
	{"-Wp,-D,_FORTIFY_SOURCE=1", Fortify},
	{"-Xpreprocessor -U_FORTIFY_SOURCE", Fortify},
	{"-Wno-format-security", FormatSec},
	{"-Wno-format", FormatSec},
	{"-Wformat=0", FormatSec},
	{"-fno-pie", PIE},
	{"-fno-PIE", PIE},
	{"-fno-pic", PIE},
	{"-no-pie", PIE},
	{"-specs=/usr/share/dpkg/no-pie-compile.specs", PIE},
	{"--specs=/usr/share/dpkg/no-pie-link.specs", PIE},
	{"-Wl,-z,norelro", RELRO},
	{"-Wl,-z,relro,-z,norelro", RELRO},
	{"-Xlinker -z -Xlinker norelro", RELRO},
	{"-z norelro", RELRO},
	{"-Wl,-znorelro", RELRO},
	{"-Wl,-z,lazy", Now},
	{"-Wl,-z,execstack", NoExecStack},
	{"-z execstack", NoExecStack},
}

func decideFor(t *testing.T, args string) Plan {
	t.Helper()
	a := append(strings.Fields(args), "-O2", "x.c", "-o", "x")
	inv, err := Parse(a, nil)
	if err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return Decide(inv, Policy{}, flavours[0].caps)
}

func recordOf(p *Plan, x Protection) *Record {
	switch x {
	case RELRO, Now, NoExecStack:
		return &p.LinkRec
	}
	return &p.CompileRec
}

func TestGoodFlags(t *testing.T) {
	for _, tt := range goodFlags {
		p := decideFor(t, tt.args)
		r := recordOf(&p, tt.p)
		if !r.Has(tt.p) {
			t.Errorf("%q: %s not in force: on=%v user-off=%v", tt.args, tt.p, r.On, r.UserOff)
		}
		// Never duplicated: the user's flag is not added again.
		for _, f := range append(append([]string{}, p.CompileFlags...), p.LinkFlags...) {
			if containsField(tt.args, f) {
				t.Errorf("%q: immunix added %q again", tt.args, f)
			}
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, tt := range badFlags {
		p := decideFor(t, tt.args)
		r := recordOf(&p, tt.p)
		if r.Has(tt.p) {
			t.Errorf("%q: %s still in force: on=%v", tt.args, tt.p, r.On)
		}
		found := false
		for _, u := range r.UserOff {
			found = found || u == tt.p
		}
		if !found || r.Flags[tt.p] == "" {
			t.Errorf("%q: %s not recorded as user-off with its flag: user-off=%v flags=%v", tt.args, tt.p, r.UserOff, r.Flags)
		}
	}
}

func containsField(args, f string) bool {
	for _, a := range strings.Fields(args) {
		if a == f {
			return true
		}
	}
	return false
}
