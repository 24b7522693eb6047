package distro

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// driverName matches the compiler drivers a package build may call by name.
var driverName = regexp.MustCompile(`^(cc|c\+\+|([a-z0-9_]+-linux-gnu-)?(gcc|g\+\+|clang|clang\+\+)(-[0-9.]+)?)$`)

// TestInstallImage checks the tree scripts/install-image.sh installs (the
// same steps as the Dockerfile, under a temporary root instead of /; the
// apt step runs for real on this machine and installs what is missing).
func TestInstallImage(t *testing.T) {
	im := InstallImage(t)

	out, err := exec.Command(im.Immunix(), "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "immunix ") {
		t.Errorf("immunix --version: %v %q", err, out)
	}
	out, err = exec.Command(im.CC(), "--immunix-version").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) == 0 {
		t.Errorf("immunix-cc --immunix-version: %v %q", err, out)
	}
	a, errA := os.Stat(im.CC())
	b, errB := os.Stat(filepath.Join(im.Bin(), "immunix-c++"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("immunix-c++ is not a hard link of immunix-cc: %v %v", errA, errB)
	}

	// Every compiler driver this machine has is in the farm, as a relative
	// link to immunix-cc.
	entries, err := os.ReadDir("/usr/bin")
	if err != nil {
		t.Fatal(err)
	}
	var drivers []string
	for _, e := range entries {
		if driverName.MatchString(e.Name()) {
			drivers = append(drivers, e.Name())
		}
	}
	if len(drivers) < 6 {
		t.Fatalf("found only %v in /usr/bin", drivers)
	}
	for _, n := range drivers {
		link := filepath.Join(im.Farm(), n)
		target, err := os.Readlink(link)
		if err != nil {
			t.Errorf("masquerade farm lacks %s: %v", n, err)
			continue
		}
		if filepath.IsAbs(target) {
			t.Errorf("%s -> %s: want a relative link (the tree must work under any root)", n, target)
		}
		if got, err := filepath.EvalSymlinks(link); err != nil || got != im.CC() {
			t.Errorf("%s resolves to %s (%v), want %s", n, got, err, im.CC())
		}
	}

	// The prebuilt runtime, for every name and ABI, where immunix-cc's
	// guardlib looks for it (KEY/libimmunix-guard.a), with every file the
	// link line names (guardlib.OutputFiles): names sharing a compiler
	// binary share its files through links, all of them.
	libdir := filepath.Join(im.Root, "usr", "lib", "immunix")
	for _, n := range drivers {
		for _, abi := range []string{"", "-m32", "-mx32"} {
			key, err := exec.Command(im.Immunix(), "guardlib", "--print-key", "--cc", "/usr/bin/"+n, "--abi", abi).Output()
			if err != nil {
				t.Fatalf("immunix guardlib --print-key --cc %s --abi %q: %v", n, abi, err)
			}
			if err := guardlib.CheckPrebuilt(filepath.Join(libdir, strings.TrimSpace(string(key)))); err != nil {
				t.Errorf("prebuilt runtime for %s %s: %v", n, abi, err)
			}
		}
	}

	for _, f := range []string{im.MacroFile("macros.immunix"), im.MacroFile("macros.subdomain")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("RPM macros: %v", err)
		}
	}
	if fi, err := os.Stat(filepath.Join(im.Root, "etc", "subdomain.d")); err != nil || !fi.IsDir() {
		t.Errorf("no profile directory etc/subdomain.d: %v", err)
	}
	// The profile.d script, run by a login shell, puts the farm first.
	prof := filepath.Join(im.Root, "etc", "profile.d", "immunix.sh")
	got, err := exec.Command("sh", "-c", `PATH=/usr/bin:/bin; . "$1"; command -v gcc`, "sh", prof).Output()
	if err != nil || strings.TrimSpace(string(got)) != filepath.Join(im.Farm(), "gcc") {
		t.Errorf("after %s, gcc is %q (%v); want the farm's", prof, got, err)
	}
}

// TestMasqueradeNames builds a program through every name in the farm, by
// bare name with the farm first in PATH (as a build calling "gcc" or
// "x86_64-linux-gnu-g++-12" would), plus -m32 and -mx32 through gcc as
// Debian's zlib does; every output must carry immunix's notes, and the
// native programs must run and pass immunix check --policy immunix.
func TestMasqueradeNames(t *testing.T) {
	im := InstallImage(t)
	entries, err := os.ReadDir(im.Farm())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cSrc := filepath.Join(dir, "m.c")
	cxxSrc := filepath.Join(dir, "m.cc")
	if err := os.WriteFile(cSrc, []byte("#include <stdio.h>\n#include <string.h>\nint main(int argc, char **argv)\n{\n\tchar buf[64];\n\tstrncpy(buf, argv[0], sizeof buf - 1);\n\tbuf[sizeof buf - 1] = 0;\n\tprintf(argc > 5 ? argv[1] : \"%zu\\n\", strlen(buf));\n\treturn 0;\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cxxSrc, []byte("#include <cstdio>\n#include <string>\nint main(int argc, char **argv)\n{\n\tstd::string s(argv[0]);\n\tstd::printf(argc > 5 ? argv[1] : \"%zu\\n\", s.size());\n\treturn 0;\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := im.Env(CleanEnv())
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	type build struct{ name, abi string }
	var builds []build
	for _, e := range entries {
		builds = append(builds, build{e.Name(), ""})
	}
	builds = append(builds, build{"gcc", "-m32"}, build{"gcc", "-mx32"}, build{"clang", "-m32"})
	var native []string
	for _, b := range builds {
		src := cSrc
		if strings.Contains(b.name, "++") {
			src = cxxSrc
		}
		exe := filepath.Join(out, strings.TrimPrefix(b.name+b.abi, "."))
		args := []string{"-O2", "-o", exe, src}
		if b.abi != "" {
			args = append([]string{b.abi}, args...)
		}
		if o, err := Run(dir, env, b.name, args...); err != nil {
			t.Errorf("%s %s: %v\n%s", b.name, b.abi, err, o)
			continue
		}
		if b.abi == "" {
			native = append(native, exe)
			if o, err := Run(dir, env, exe); err != nil {
				t.Errorf("run the program %s built: %v\n%s", b.name, err, o)
			}
		} else if r := testenv.ProbeABI(b.abi); r.Runs {
			if o, err := Run(dir, env, exe); err != nil {
				t.Errorf("run the %s program %s built: %v\n%s", b.abi, b.name, err, o)
			}
		} else {
			t.Logf("kernel: %s: %s built and checked, not run", r.Reason, exe)
		}
	}
	elfs, err := LinkedELFs(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(elfs) != len(builds) {
		t.Errorf("%d programs built, want %d", len(elfs), len(builds))
	}
	for _, bad := range Unstamped(elfs) {
		t.Errorf("not built through immunix-cc: %s", bad)
	}
	// clang++ with glibc 2.36 compiles no FORTIFY wrapper at all: glibc
	// defines __fortify_function in C++ only for GCC >= 4.3, and clang
	// says it is GCC 4.2. immunix check judges fortify from the calls the
	// code makes, so its programs fail fortify, truthfully; everything
	// else must pass, and the fortify verdict is pinned so that a change
	// is noticed.
	var others, clangxx []string
	for _, exe := range native {
		if strings.Contains(filepath.Base(exe), "clang++") {
			clangxx = append(clangxx, exe)
		} else {
			others = append(others, exe)
		}
	}
	if o, code, err := im.Check("immunix", others...); err != nil || code != 0 {
		t.Errorf("immunix check --policy immunix: exit %d %v\n%s", code, err, o)
	}
	if len(clangxx) > 0 {
		if o, code, err := im.Check("immunix", append([]string{"--allow", "fortify"}, clangxx...)...); err != nil || code != 0 {
			t.Errorf("immunix check --policy immunix --allow fortify (clang++): exit %d %v\n%s", code, err, o)
		}
		if o, code, _ := im.Check("immunix", clangxx...); code == 0 || !strings.Contains(o, "failed fortify") {
			t.Errorf("clang++ programs pass fortify: glibc now fortifies C++ under clang? update the test and docs\n%s", o)
		}
	}
}

// TestDockerfile: the image installs the .debs debian/ builds (the README's
// layout) in a stage both images share, and the default one puts the farm
// first in PATH; the zeroproc target installs immunix-zeroproc instead.
// tests/image builds both for real with podman (make test-image); this keeps
// the file's shape in the fast suite.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM debian:12 AS build$`),
		regexp.MustCompile(`(?m)^RUN (.*\\\n)*.*bash scripts/install\.sh --build-only --debs /debs`),
		regexp.MustCompile(`(?m)^FROM debian:12 AS tools$`),
		regexp.MustCompile(`(?m)^RUN (.*\\\n)*.*/debs/immunix_\*\.deb \\\n`),
		regexp.MustCompile(`(?m)^FROM tools AS zeroproc\nRUN apt-get install .*/var/cache/immunix/immunix-zeroproc_\*\.deb`),
		regexp.MustCompile(`(?m)^FROM tools\nRUN apt-get install .*/var/cache/immunix/immunix-masquerade_\*\.deb`),
		regexp.MustCompile(`(?m)^ENV PATH=/usr/lib/immunix/bin:`),
	} {
		if !want.MatchString(df) {
			t.Errorf("Dockerfile has no line matching %s", want)
		}
	}
	// The default image is the last stage (the farm in PATH); the zeroproc
	// stage has no farm.
	stages := strings.Split(df, "\nFROM ")
	if last := stages[len(stages)-1]; !strings.HasPrefix(last, "tools\n") || !strings.Contains(last, "\nENV PATH=/usr/lib/immunix/bin:") {
		t.Errorf("the last stage (the default image) is not FROM tools with the farm first in PATH:\nFROM %s", last)
	}
	for _, st := range stages {
		if strings.HasPrefix(st, "tools AS zeroproc\n") && strings.Contains(st, "/usr/lib/immunix/bin") {
			t.Errorf("the zeroproc stage names the masquerade directory:\nFROM %s", st)
		}
	}
	// The Go toolchain and the CA bundle are mounts, never copied in.
	for _, bad := range []string{"COPY --from=go", "ca-certificates.crt /", "ADD "} {
		if strings.Contains(df, bad) {
			t.Errorf("Dockerfile contains %q", bad)
		}
	}
}
