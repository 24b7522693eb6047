package ccwrap

import (
	"strings"
	"testing"
)

// TestZeroProcessCoversDefaults: every protection the default level adds,
// for gcc and clang, has a gcc spec; the specs carry the user's opposites
// and the bare links' exclusions; a level beyond the mode is refused.
func TestZeroProcessCoversDefaults(t *testing.T) {
	for _, caps := range []Caps{
		{Kind: "gcc", Version: "12.2.0", X86: true, Canary: true, StackClash: true, CET: true, Fortify3: true, DefaultPIE: true},
		{Kind: "clang", Version: "14.0.6", X86: true, Canary: true, StackClash: true, CET: true, Fortify3: true},
	} {
		on, off, err := defaultProtections(Policy{}, caps)
		if err != nil || len(off) != 0 {
			t.Fatalf("%s: %v, off %v", caps.Kind, err, off)
		}
		a := zpAssets{fgDir: "/fg", runtimeDir: "/rt", stampDir: "/st", notes: map[string]string{}}
		for _, k := range linkNoteKinds {
			a.notes[k.name] = "/note/" + k.name + ".o"
		}
		g, err := gccSpecs(on, a)
		if err != nil {
			t.Fatalf("%s: %v", caps.Kind, err)
		}
		for _, want := range []string{
			"fno-stack-protector|fstack-protector|fstack-protector-explicit:-D__IMMUNIX_UOFF_canary",
			"D_FORTIFY_SOURCE*|U_FORTIFY_SOURCE:-D__IMMUNIX_UOFF_fortify",
			"%{!O*:;O0:;ffreestanding:;nostdlib:",
			"-isystem /fg -D__IMMUNIX_ON_formatguard",
			"no-pie|nopie:-D__IMMUNIX_UOFF_pie",
			"%{E|M|MM|fsyntax-only|ffreestanding:;:-idirafter /st -include immunix-stamp.h}",
		} {
			if !strings.Contains(g.self, want) {
				t.Errorf("%s: *self_spec lacks %q:\n%s", caps.Kind, want, g.self)
			}
		}
		for _, want := range []string{"nostdlib:;nostartfiles:;ffreestanding:;T*:;r:;:-z relro", "--wrap=__stack_chk_fail", "/note/no-pie.o"} {
			if !strings.Contains(g.link, want) {
				t.Errorf("%s: *link lacks %q:\n%s", caps.Kind, want, g.link)
			}
		}
		if !strings.HasPrefix(g.lib, "%{nodefaultlibs:;m16:;nostdlib:") || !strings.Contains(g.lib, "%{m32:;mx32:;:%{shared:/rt/") {
			t.Errorf("%s: *lib: %s", caps.Kind, g.lib)
		}
		on, _, err = defaultProtections(Policy{Level: LevelMax}, caps)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gccSpecs(on, a); err == nil || !strings.Contains(err.Error(), "use immunix-cc") {
			t.Errorf("%s at level max: err %v, want a refusal", caps.Kind, err)
		}
	}
}

// TestZeroProcessOtherABIs: the runtime and the link notes of each other
// ABI are chosen by its flag; an ABI whose static links cannot take the
// runtime gives them neither; an ABI without assets gives nothing.
func TestZeroProcessOtherABIs(t *testing.T) {
	caps := Caps{Kind: "gcc", Version: "12.2.0", X86: true, Canary: true, StackClash: true, CET: true, Fortify3: true, DefaultPIE: true}
	on, _, err := defaultProtections(Policy{}, caps)
	if err != nil {
		t.Fatal(err)
	}
	notes := func(dir string, kinds ...string) map[string]string {
		m := map[string]string{}
		for _, k := range kinds {
			m[k] = dir + "/" + k + ".o"
		}
		return m
	}
	all := []string{"bare", "shared", "static", "static-pie", "no-pie", "exe"}
	a := zpAssets{fgDir: "/fg", runtimeDir: "/rt", stampDir: "/st", notes: notes("/note", all...),
		abis: map[string]zpABI{"m32": {runtimeDir: "/rt32", notes: notes("/note32", "bare", "shared", "no-pie", "exe")}}}
	g, err := gccSpecs(on, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"%{m32:%{shared:/rt32/libimmunix-guard-shlib.a;static|static-pie:;:/rt32/libimmunix-raceguard.a /rt32/libimmunix-guard.a};mx32:;:%{shared:/rt/",
	} {
		if !strings.Contains(g.lib, want) {
			t.Errorf("*lib lacks %q:\n%s", want, g.lib)
		}
	}
	for _, want := range []string{
		"%{r|T*|m16:;:%{m32:%{nostdlib|nostartfiles|ffreestanding:/note32/bare.o;shared:/note32/shared.o;static:;static-pie:;no-pie|nopie:/note32/no-pie.o;:/note32/exe.o};mx32:;:%{",
		"--dynamic-list=/rt32/",
	} {
		if !strings.Contains(g.link, want) {
			t.Errorf("*link lacks %q:\n%s", want, g.link)
		}
	}
}

// TestDefaultSpecsSplice: the parts are spliced into a dumped specs file.
func TestDefaultSpecsSplice(t *testing.T) {
	dump := "*cpp:\n%{posix:-D_POSIX_SOURCE}\n\n*link:\n--eh-frame-hdr\n\n*lib:\n-lc\n\n*self_spec:\n\n\n"
	got, err := gccParts{self: "SELF", link: "LINK", lib: "LIB"}.defaultSpecs(dump)
	if err != nil {
		t.Fatal(err)
	}
	want := "*cpp:\n%{posix:-D_POSIX_SOURCE}\n\n*link:\n--eh-frame-hdr LINK\n\n*lib:\nLIB -lc\n\n*self_spec:\nSELF\n\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if _, err := (gccParts{}).defaultSpecs("*cpp:\n\n"); err == nil {
		t.Error("a dump without *link was accepted")
	}
}
