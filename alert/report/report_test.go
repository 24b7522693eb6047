package report

import (
	"testing"
	"time"

	"github.com/immunix/immunix/alert"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.Local)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.Local),
		"2026-11-01 08:30:00":  time.Date(2026, 11, 1, 8, 30, 0, 0, time.Local),
		"2026-11-01T08:30:00Z": time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC),
	} {
		got, err := ParseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-3d", "7x"} {
		if _, err := ParseSince(bad, now); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
}

func TestFilter(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a := alert.Alert{Kind: "stackguard", Exe: "/bin/x", Time: at}
	for _, tt := range []struct {
		name string
		f    Filter
		want bool
	}{
		{"empty keeps all", Filter{}, true},
		{"since before", Filter{Since: at.Add(-time.Hour)}, true},
		{"since after", Filter{Since: at.Add(time.Hour)}, false},
		{"kind", Filter{Kinds: []string{"formatguard", "stackguard"}}, true},
		{"other kind", Filter{Kinds: []string{"formatguard"}}, false},
		{"exe", Filter{Exes: []string{"/bin/x"}}, true},
		{"other exe", Filter{Exes: []string{"/bin/y"}}, false},
	} {
		if got := tt.f.Keep(&a); got != tt.want {
			t.Errorf("%s: Keep = %v, want %v", tt.name, got, tt.want)
		}
	}
	undated := alert.Alert{Kind: "stackguard"}
	if !(Filter{Since: at}).Keep(&undated) {
		t.Error("an alert without a time stamp must pass --since")
	}
}
