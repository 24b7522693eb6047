package distro

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
	"github.com/immunix/immunix/subdomain"
)

// TestRPMMacros: what rpmbuild/macros.immunix makes rpm expand, as installed
// by the image (with its root).
func TestRPMMacros(t *testing.T) {
	testenv.NeedsTool(t, "rpm")
	im := InstallImage(t)
	eval := func(defines []string, expr string) string {
		args := []string{"--load", im.MacroFile("macros.immunix"), "--load", im.MacroFile("macros.subdomain")}
		for _, d := range defines {
			args = append(args, "--define", d)
		}
		out, err := exec.Command("rpm", append(args, "--eval", expr)...).CombinedOutput()
		if err != nil {
			t.Fatalf("rpm --eval %s: %v\n%s", expr, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, c := range []struct {
		defines []string
		expr    string
		want    []string // lines that must appear
		wantNot []string
	}{
		{nil, "%{__cc}", []string{im.CC()}, nil},
		{nil, "%{__cxx}", []string{filepath.Join(im.Bin(), "immunix-c++")}, nil},
		{nil, "%{__cpp}", []string{im.CC() + " -E"}, nil},
		{nil, "%{__spec_build_pre}", []string{
			`PATH="` + im.Farm() + `:$PATH"; export PATH`,
			`CC="${CC:-` + im.CC() + `}"; export CC`,
		}, nil},
		{nil, "%{__spec_check_pre}", []string{`CC="${CC:-` + im.CC() + `}"; export CC`}, nil},
		{[]string{"_immunix_masquerade 0"}, "%{__spec_build_pre}",
			[]string{`CC="${CC:-` + im.CC() + `}"; export CC`}, []string{im.Farm()}},
		{[]string{"_immunix_level max"}, "%{__spec_build_pre}",
			[]string{`IMMUNIX_LEVEL="${IMMUNIX_LEVEL:-max}"; export IMMUNIX_LEVEL`}, nil},
		{nil, "%{__spec_build_pre}", nil, []string{"IMMUNIX_LEVEL"}},
		{nil, "%subdomain_install prof/usr.bin.x", []string{"/etc/subdomain.d/usr.bin.x"}, nil},
		{nil, "%subdomain_install prof/x.sd usr.bin.y", []string{"/etc/subdomain.d/usr.bin.y"}, nil},
		{nil, "%subdomain_files usr.bin.y", []string{"%dir /etc/subdomain.d", "%config(noreplace) /etc/subdomain.d/usr.bin.y"}, nil},
	} {
		got := eval(c.defines, c.expr)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("rpm %v --eval %q: no %q in\n%s", c.defines, c.expr, w, got)
			}
		}
		for _, w := range c.wantNot {
			if strings.Contains(got, w) {
				t.Errorf("rpm %v --eval %q: unexpected %q in\n%s", c.defines, c.expr, w, got)
			}
		}
	}
}

// TestRPMBuild runs the real rpmbuild with the image's macros on a small C
// package (testdata/rpm/greet.spec: a shared library built with $(CC), a
// program built with a hard-coded cc, a %check, and a SubDomain profile in a
// subpackage). Every ELF in the .rpm must carry immunix's notes, `immunix
// check --policy immunix` must pass on it, and the profile must land in
// /etc/subdomain.d as a config file that parses.
func TestRPMBuild(t *testing.T) {
	for _, tool := range []string{"rpmbuild", "rpm2cpio", "cpio"} {
		testenv.NeedsTool(t, tool)
	}
	im := InstallImage(t)
	top := t.TempDir()
	srcs := filepath.Join(top, "SOURCES")
	if err := os.MkdirAll(srcs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := TarDir(filepath.Join("testdata", "rpm", "greet-1.0"), filepath.Join(srcs, "greet-1.0.tar.gz")); err != nil {
		t.Fatal(err)
	}
	prof, err := os.ReadFile(filepath.Join("testdata", "rpm", "usr.bin.greet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srcs, "usr.bin.greet"), prof, 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := filepath.Abs(filepath.Join("testdata", "rpm", "greet.spec"))
	if err != nil {
		t.Fatal(err)
	}
	immLog := filepath.Join(top, "immunix.log")
	env := Setenv(Setenv(CleanEnv(), "IMMUNIX_CACHE_DIR", im.Cache), "IMMUNIX_LOG", immLog)
	out, rpms, err := RPMBuild(im, top, spec, env)
	if err != nil {
		t.Fatal(err)
	}
	var main, sub string
	for _, r := range rpms {
		switch {
		case strings.HasPrefix(filepath.Base(r), "greet-subdomain-"):
			sub = r
		case strings.HasPrefix(filepath.Base(r), "greet-1.0-"):
			main = r
		}
	}
	if main == "" || sub == "" {
		t.Fatalf("rpmbuild wrote %v; want greet and greet-subdomain\n%s", rpms, tail(out, 30))
	}

	data, err := os.ReadFile(immLog)
	if err != nil {
		t.Fatalf("immunix-cc never ran under rpmbuild (no IMMUNIX_LOG): %v\n%s", err, tail(out, 40))
	}
	sum := ParseImmunixLog(string(data))
	t.Logf("immunix-cc under rpmbuild: %s", sum)
	if sum.Modes["link"] < 2 {
		t.Errorf("want the library and the program linked through immunix-cc: %s", sum)
	}

	tree := filepath.Join(top, "x-greet")
	if err := ExtractRPM(main, tree); err != nil {
		t.Fatal(err)
	}
	elfs, err := LinkedELFs(tree)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range elfs {
		names = append(names, e.Path)
	}
	for _, want := range []string{"usr/bin/greet", "usr/lib64/libgreet.so.1"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s holds %v; want %s", filepath.Base(main), names, want)
		}
	}
	for _, bad := range Unstamped(elfs) {
		t.Errorf("not built through immunix-cc: %s", bad)
	}
	if out, code, err := im.Check("immunix", main); err != nil || code != 0 {
		t.Errorf("immunix check --policy immunix %s: exit %d %v\n%s", filepath.Base(main), code, err, out)
	}

	// The profile subpackage.
	conf, err := RPMQuery(sub, "-c")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(conf, []string{"/etc/subdomain.d/usr.bin.greet"}) {
		t.Errorf("config files of %s: %v; want /etc/subdomain.d/usr.bin.greet", filepath.Base(sub), conf)
	}
	subTree := filepath.Join(top, "x-sub")
	if err := ExtractRPM(sub, subTree); err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(subTree, "etc", "subdomain.d", "usr.bin.greet"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := subdomain.Parse("usr.bin.greet", shipped)
	if err != nil {
		t.Fatalf("the shipped profile does not parse: %v", err)
	}
	if p.Program != "/usr/bin/greet" {
		t.Errorf("shipped profile is for %q; want /usr/bin/greet", p.Program)
	}
}

// TestRPMImmunixSpec packages immunix itself with rpmbuild/immunix.spec
// from a vendored source tarball of this tree, and checks the package's
// contents: binaries, prebuilt runtime, macros, profile directory, and the
// masquerade subpackage. Slow (a Go build inside rpmbuild): IMMUNIX_REBUILD=1.
func TestRPMImmunixSpec(t *testing.T) {
	needRebuild(t)
	for _, tool := range []string{"rpmbuild", "git", "go"} {
		testenv.NeedsTool(t, tool)
	}
	im := InstallImage(t)
	root := testenv.ModuleRoot(t)
	top := t.TempDir()
	srcs := filepath.Join(top, "SOURCES")
	stage := filepath.Join(top, "stage", "immunix-0.1.0")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	// The tracked files as they are in the working tree, then vendored.
	if out, err := Run(root, CleanEnv(), "sh", "-c", `git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$1"`, "sh", stage); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := Run(stage, CleanEnv(), "go", "mod", "vendor"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := os.MkdirAll(srcs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := TarDir(stage, filepath.Join(srcs, "immunix-0.1.0.tar.gz")); err != nil {
		t.Fatal(err)
	}
	env := Setenv(CleanEnv(), "IMMUNIX_CACHE_DIR", im.Cache)
	out, rpms, err := RPMBuild(im, top, filepath.Join(root, "rpmbuild", "immunix.spec"), env)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]string{}
	for _, r := range rpms {
		list, err := RPMQuery(r, "-l")
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(r)] = list
	}
	var mainList, masqList []string
	for name, list := range files {
		switch {
		case strings.HasPrefix(name, "immunix-masquerade-"):
			masqList = list
		case strings.HasPrefix(name, "immunix-0.1.0-"):
			mainList = list
		}
	}
	if mainList == nil || masqList == nil {
		t.Fatalf("rpmbuild wrote %v; want immunix and immunix-masquerade\n%s", rpms, tail(out, 30))
	}
	for _, want := range []string{"/usr/bin/immunix", "/usr/bin/immunix-cc", "/usr/bin/immunix-c++",
		"/usr/lib/immunix/immunix-tools", "/usr/lib/rpm/macros.d/macros.immunix", "/usr/lib/rpm/macros.d/macros.subdomain", "/etc/subdomain.d"} {
		if !slices.Contains(mainList, want) {
			t.Errorf("immunix package lacks %s", want)
		}
	}
	archives := 0
	for _, f := range mainList {
		if strings.HasPrefix(f, "/usr/lib/immunix/") && strings.HasSuffix(f, "/libimmunix-guard.a") {
			archives++
		}
	}
	if archives < 3 {
		t.Errorf("immunix package has %d prebuilt runtime archives; want gcc and clang, native, -m32, -mx32", archives)
	}
	for _, want := range []string{"/usr/lib/immunix/bin/gcc", "/usr/lib/immunix/bin/cc", "/usr/lib/immunix/bin/clang", "/etc/profile.d/immunix.sh"} {
		if !slices.Contains(masqList, want) {
			t.Errorf("immunix-masquerade package lacks %s", want)
		}
	}
}
