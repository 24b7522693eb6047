package logline

import (
	"errors"
	"slices"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, fields := range [][]Field{
		nil,
		{{"mode", "compile"}},
		{{"dir", "/home/a b/src"}, {"out", "-"}, {"notes", `fortify: not optimising; probe: x="y"`}},
		{{"cc", ""}, {"detail", "tab\there\nnewline"}, {"v", "é\x00\xff"}},
		{{"k", `"`}, {"k2", `\`}, {"k3", "="}},
	} {
		line := Encode(fields)
		got, err := Parse(line + "\n")
		if err != nil {
			t.Errorf("Parse(%q): %v", line, err)
			continue
		}
		if !slices.Equal(got, fields) {
			t.Errorf("round trip of %q: got %q, want %q", line, got, fields)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, line := range []string{
		"novalue",
		"=x",
		`k="unterminated`,
		`k="a"b`,
		`"k"=v`,
	} {
		if _, err := Parse(line); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q): %v, want ErrSyntax", line, err)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("dir", "/a b", "notes", `x="1"; y`)
	f.Add("k", "", "k2", "\xff\n")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		for _, k := range []string{k1, k2} {
			if k == "" {
				return
			}
			for _, r := range k {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
					return
				}
			}
		}
		in := []Field{{k1, v1}, {k2, v2}}
		got, err := Parse(Encode(in))
		if err != nil {
			t.Fatalf("Parse(Encode(%q)): %v", in, err)
		}
		if !slices.Equal(got, in) {
			t.Fatalf("round trip: got %q, want %q", got, in)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add(`time=2026-12-02T00:00:00Z pid=1 mode=compile dir="/a b" notes="x; y"`)
	f.Add(`k="\xff" k2=`)
	f.Fuzz(func(t *testing.T, line string) {
		fields, err := Parse(line)
		if err != nil {
			return
		}
		again, err := Parse(Encode(fields))
		if err != nil || !slices.Equal(again, fields) {
			t.Fatalf("re-encoding %q: %q, %v", fields, again, err)
		}
	})
}
