package ccwrap

import (
	"errors"
	"strings"
	"testing"
)

var (
	gcc12   = Caps{Kind: "gcc", Version: "12.2.0", X86: true, Canary: true, StackClash: true, CET: true, Fortify3: true, DefaultPIE: true}
	clang14 = Caps{Kind: "clang", Version: "14.0.6", X86: true, Canary: true, StackClash: true, CET: true, Fortify3: true}
	clang16 = Caps{Kind: "clang", Version: "16.0.6", X86: true, Canary: true, StackClash: true, CET: true, Fortify3: true}
)

func decideArgs(t *testing.T, args string, pol Policy, caps Caps) Plan {
	t.Helper()
	inv, err := Parse(strings.Fields(args), nil)
	if err != nil {
		t.Fatal(err)
	}
	return Decide(inv, pol, caps)
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

func TestBoundsLevels(t *testing.T) {
	max := Policy{Level: LevelMax}
	cases := []struct {
		name    string
		args    string
		pol     Policy
		caps    Caps
		want    []string // flags that must be added
		notWant []string // flags that must not
		on      []Protection
		noUBSan bool
	}{
		{"default level adds none of the opt-in flags", "-O2 -c a.c", Policy{}, gcc12, nil,
			[]string{"-fsanitize=bounds", "-ftrivial-auto-var-init=zero", "-fzero-call-used-regs=used-gpr"}, nil, false},
		{"gcc max, compile", "-O2 -c a.c", max, gcc12,
			[]string{"-fsanitize=bounds", "-fno-sanitize-recover=bounds", "-ftrivial-auto-var-init=zero", "-fzero-call-used-regs=used-gpr"},
			[]string{"-D_GLIBCXX_ASSERTIONS", "-fsanitize=object-size"}, []Protection{Bounds, AutoInit, ZeroRegs}, false},
		{"gcc max, compile and link: empty libubsan", "-O2 a.c -o a", max, gcc12,
			[]string{"-fsanitize=bounds"}, nil, []Protection{Bounds}, true},
		{"gcc max, -r link needs no libubsan", "-O2 -r a.c -o a.o", max, gcc12,
			[]string{"-fsanitize=bounds"}, nil, []Protection{Bounds}, false},
		{"gcc max, C++", "-O2 -c a.cc", max, gcc12, []string{"-D_GLIBCXX_ASSERTIONS"}, nil, []Protection{CXXAssert}, false},
		// Every candidate is in max (BENCHMARKS.md): the default level adds
		// none of them, C++ included.
		{"default level, C++: no candidate", "-O2 -c a.cc", Policy{}, gcc12, nil,
			[]string{"-D_GLIBCXX_ASSERTIONS", "-fsanitize=bounds", "-ftrivial-auto-var-init=zero", "-fzero-call-used-regs=used-gpr"}, nil, false},
		{"default level, clang C++: no candidate", "-O2 -c a.cc", Policy{}, clang14, nil,
			[]string{"-D_GLIBCXX_ASSERTIONS", "-fsanitize=array-bounds", "-fsanitize=object-size", "-ftrivial-auto-var-init=zero"}, nil, false},
		{"default level, C: no cxxassert", "-O2 -c a.c", Policy{}, gcc12, nil, []string{"-D_GLIBCXX_ASSERTIONS"}, nil, false},
		{"clang 14 max", "-O2 -c a.c", max, clang14,
			[]string{"-fsanitize=array-bounds", "-fno-sanitize-recover=array-bounds", "-fno-sanitize-link-runtime",
				"-fsanitize=object-size", "-ftrivial-auto-var-init=zero",
				"-enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang"},
			[]string{"-fzero-call-used-regs=used-gpr"}, []Protection{Bounds, ObjSize, AutoInit}, false},
		{"clang 16 max", "-O2 -c a.c", max, clang16,
			[]string{"-fzero-call-used-regs=used-gpr", "-ftrivial-auto-var-init=zero"},
			[]string{"-enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang"}, []Protection{ZeroRegs}, false},
		{"clang object-size needs optimisation", "-O0 -c a.c", max, clang14, []string{"-fsanitize=array-bounds"},
			[]string{"-fsanitize=object-size"}, []Protection{Bounds}, false},
		{"user's -fsanitize=address stays in charge", "-O2 -fsanitize=address a.c", max, gcc12, nil,
			[]string{"-fsanitize=bounds", "-fno-sanitize-recover=bounds"}, nil, false},
		{"user's -fsanitize=undefined gives bounds with their runtime", "-O2 -fsanitize=undefined a.c", max, gcc12, nil,
			[]string{"-fsanitize=bounds"}, []Protection{Bounds}, false},
		{"freestanding gets none", "-O2 -ffreestanding -c a.c", max, gcc12, nil,
			[]string{"-fsanitize=bounds"}, nil, false},
		{"bare link gets no bounds", "-O2 -nostdlib a.c -o a", max, gcc12, nil,
			[]string{"-fsanitize=bounds"}, nil, false},
		{"unknown compiler", "-O2 -c a.c", max, Caps{Kind: "unknown"}, nil,
			[]string{"-fsanitize=bounds", "-fsanitize=array-bounds"}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := decideArgs(t, c.args, c.pol, c.caps)
			for _, f := range c.want {
				if !hasFlag(p.CompileFlags, f) {
					t.Errorf("missing %s in %q", f, p.CompileFlags)
				}
			}
			for _, f := range c.notWant {
				if hasFlag(p.CompileFlags, f) {
					t.Errorf("unexpected %s in %q", f, p.CompileFlags)
				}
			}
			for _, x := range c.on {
				if !p.CompileRec.Has(x) {
					t.Errorf("%s not on: %+v", x, p.CompileRec)
				}
			}
			if p.NoUBSan != c.noUBSan {
				t.Errorf("NoUBSan = %v, want %v", p.NoUBSan, c.noUBSan)
			}
		})
	}
}

// The user's opposites: respected (nothing added) and recorded as user-off
// with the flag that said it; last one wins.
func TestBoundsOpposites(t *testing.T) {
	max := Policy{Level: LevelMax}
	cases := []struct {
		args string
		p    Protection
		flag string
		off  string // the flag that must not be added
	}{
		{"-fno-sanitize=bounds", Bounds, "-fno-sanitize=bounds", "-fsanitize=bounds"},
		{"-fno-sanitize=undefined", Bounds, "-fno-sanitize=undefined", "-fsanitize=bounds"},
		{"-fno-sanitize=all", Bounds, "-fno-sanitize=all", "-fsanitize=bounds"},
		{"-fsanitize=undefined -fno-sanitize=bounds,alignment", Bounds, "-fno-sanitize=bounds,alignment", "-fsanitize=bounds"},
		{"-fno-sanitize=array-bounds", Bounds, "-fno-sanitize=array-bounds", "-fsanitize=bounds"},
		{"-ftrivial-auto-var-init=uninitialized", AutoInit, "-ftrivial-auto-var-init=uninitialized", "-ftrivial-auto-var-init=zero"},
		{"-ftrivial-auto-var-init=zero -ftrivial-auto-var-init=uninitialized", AutoInit, "-ftrivial-auto-var-init=uninitialized", "-ftrivial-auto-var-init=zero"},
		{"-fno-sanitize=object-size", ObjSize, "-fno-sanitize=object-size", "-fsanitize=object-size"},
		{"-fzero-call-used-regs=skip", ZeroRegs, "-fzero-call-used-regs=skip", "-fzero-call-used-regs=used-gpr"},
		{"-x c++ -U_GLIBCXX_ASSERTIONS", CXXAssert, "-U_GLIBCXX_ASSERTIONS", "-D_GLIBCXX_ASSERTIONS"},
		{"-x c++ -Wp,-U_GLIBCXX_ASSERTIONS", CXXAssert, "-U_GLIBCXX_ASSERTIONS", "-D_GLIBCXX_ASSERTIONS"},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			caps := gcc12
			if c.p == ObjSize {
				caps = clang14
			}
			p := decideArgs(t, "-O2 -c "+c.args+" a.c", max, caps)
			if hasFlag(p.CompileFlags, c.off) {
				t.Errorf("%s added despite %s: %q", c.off, c.args, p.CompileFlags)
			}
			if p.CompileRec.Has(c.p) || p.CompileRec.Flags[c.p] != c.flag {
				t.Errorf("%s: want user-off by %q, got %+v", c.p, c.flag, p.CompileRec)
			}
		})
	}
	// The user's own -D_GLIBCXX_ASSERTIONS and -ftrivial-auto-var-init=pattern
	// count as on, and nothing is repeated.
	p := decideArgs(t, "-O2 -c -D_GLIBCXX_ASSERTIONS -ftrivial-auto-var-init=pattern a.cc", max, gcc12)
	if !p.CompileRec.Has(CXXAssert) || !p.CompileRec.Has(AutoInit) || hasFlag(p.CompileFlags, "-D_GLIBCXX_ASSERTIONS") || hasFlag(p.CompileFlags, "-ftrivial-auto-var-init=zero") {
		t.Errorf("user's own: %q %+v", p.CompileFlags, p.CompileRec)
	}
}

// IMMUNIX_DISABLE=bounds at the max level records bounds as off by policy;
// at the default level the opt-in protections are not recorded at all (off
// means turned off by IMMUNIX_DISABLE).
func TestBoundsPolicyRecord(t *testing.T) {
	dis, _ := ParseProtections("bounds")
	p := decideArgs(t, "-O2 -c a.c", Policy{Level: LevelMax, Disabled: dis}, gcc12)
	if hasFlag(p.CompileFlags, "-fsanitize=bounds") || !containsProtection(p.CompileRec.Off, Bounds) {
		t.Errorf("disabled: %q %+v", p.CompileFlags, p.CompileRec)
	}
	p = decideArgs(t, "-O2 -c a.c", Policy{}, gcc12)
	for _, x := range []Protection{Bounds, AutoInit, ZeroRegs, ObjSize, CXXAssert} {
		if ProtectionLevel[x] > LevelDefault && (containsProtection(p.CompileRec.Off, x) || p.CompileRec.Has(x)) {
			t.Errorf("default level records %s: %+v", x, p.CompileRec)
		}
	}
}

func containsProtection(ps []Protection, p Protection) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func TestLevelConfig(t *testing.T) {
	read := func(data string) func(string) ([]byte, error) {
		return func(string) ([]byte, error) { return []byte(data), nil }
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	p, err := LoadPolicy("/etc/immunix/immunix.conf", read("IMMUNIX_LEVEL=max\n"), env(nil))
	if err != nil || p.Level != LevelMax {
		t.Fatalf("config file: %v %v", p.Level, err)
	}
	p, err = LoadPolicy("/etc/immunix/immunix.conf", read("IMMUNIX_LEVEL=max\n"), env(map[string]string{"IMMUNIX_LEVEL": "default"}))
	if err != nil || p.Level != LevelDefault {
		t.Fatalf("environment over file: %v %v", p.Level, err)
	}
	_, err = LoadPolicy("/etc/immunix/immunix.conf", read(""), env(map[string]string{"IMMUNIX_LEVEL": "maximum"}))
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `unknown level "maximum"`) {
		t.Fatalf("bad level: %v", err)
	}
}
