package deb

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The paths immunix-zeroproc writes at install, outside its file list.
const (
	zpDir   = "/usr/lib/immunix/zeroproc"
	zpLinks = "/var/lib/immunix-zeroproc/links"
)

const cxxProg = `#include <cstdio>
#include <cstring>
int main(int argc, char **argv)
{
	char buf[32];
	std::strncpy(buf, argv[0], sizeof buf - 1);
	buf[sizeof buf - 1] = 0;
	std::printf("%zu %d\n", std::strlen(buf), argc);
	return 0;
}
`

// gccState is what tells gcc's behaviour: where its default specs file
// is, what "gcc -v" says it reads, and the bytes of a program it builds.
type gccState struct {
	specsPath, reads string
	program          [32]byte
}

func gccNow(t *testing.T, work string) gccState {
	t.Helper()
	libgcc := strings.TrimSpace(run(t, "", nil, "gcc", "-print-libgcc-file-name"))
	src := filepath.Join(work, "state.c")
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(work, "state")
	out := run(t, work, cleanEnv(), "gcc", "-v", "-O2", "-o", exe, src)
	var reads string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Reading specs from ") || l == "Using built-in specs." {
			reads = l
		}
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	return gccState{specsPath: filepath.Join(filepath.Dir(libgcc), "specs"), reads: reads, program: sha256.Sum256(data)}
}

// checked is "immunix check --policy immunix --format json" on one file:
// its exit code, each property's status and the stamp's mode list.
type checked struct {
	code   int
	failed []string // the properties the policy requires that fail
	status map[string]string
	mode   []string
	out    string
}

func checkJSON(t *testing.T, path string) checked {
	t.Helper()
	cmd := exec.Command("immunix", "check", "--policy", "immunix", "--format", "json", path)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	c := checked{status: map[string]string{}, out: out.String() + errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		c.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	var rep struct {
		Files []struct {
			Failed  []string
			Results []struct {
				Property string
				Status   string
				Lists    map[string][]string
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Files) != 1 {
		t.Fatalf("immunix check %s: %v\n%s", path, err, c.out)
	}
	c.failed = rep.Files[0].Failed
	for _, r := range rep.Files[0].Results {
		c.status[r.Property] = r.Status
		if r.Property == "stamp" {
			c.mode = r.Lists["mode"]
		}
	}
	return c
}

// clangDir is the directory of clang's real executable, where clang 14
// looks for a prefixed name's configuration file.
func clangDir(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("clang")
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(real)
}

// checkZeroProcLifecycle: immunix-zeroproc installed next to immunix makes
// plain gcc, cc and g++ build in the mode (immunix check --policy immunix
// passes, the stamp says specs) and immunix-clang in clang's (config),
// while plain clang is unchanged; the user's -fno-stack-protector wins; a
// specs file it did not write is refused by dpkg-reconfigure and left
// alone; a trigger on gcc's directory writes the mode again; remove leaves
// gcc exactly as before (gcc -v reads its built-in specs, a program it
// builds has the same bytes); reinstall works; purge leaves nothing (the
// caller's snapshot comparison).
func checkZeroProcLifecycle(t *testing.T, debs string) {
	main, _ := filepath.Glob(filepath.Join(debs, "immunix_*.deb"))
	zp, _ := filepath.Glob(filepath.Join(debs, "immunix-zeroproc_*.deb"))
	if len(main) != 1 || len(zp) != 1 {
		t.Fatalf("install.sh --debs kept %v %v, want one immunix and one immunix-zeroproc package", main, zp)
	}
	work := t.TempDir()
	before := gccNow(t, work)
	if before.reads != "Using built-in specs." {
		t.Fatalf("before the install gcc -v says %q, want its built-in specs: is a specs file installed (%s)?", before.reads, before.specsPath)
	}
	cdir := clangDir(t)
	cfgs := []string{filepath.Join(cdir, "immunix-clang.cfg"), filepath.Join(cdir, "immunix-clang++.cfg")}

	installed := true
	t.Cleanup(func() {
		if installed {
			exec.Command("apt-get", "purge", "-y", "-qq", "immunix-zeroproc", "immunix").Run()
		}
	})
	install := func() {
		t.Helper()
		out := run(t, "", cleanEnv(), "apt-get", "install", "-y", "--no-install-recommends", main[0], zp[0])
		if !strings.Contains(out, "immunix-zeroproc: the zero-process mode is the default of gcc immunix-clang immunix-clang++") {
			t.Errorf("the configure step did not say what it made the default:\n%s", out)
		}
	}
	install()

	// The links, recorded; the mode's files.
	for _, l := range append([]string{before.specsPath}, cfgs...) {
		target, err := os.Readlink(l)
		if err != nil || !strings.HasPrefix(target, zpDir+"/") {
			t.Errorf("%s: link to %q (%v), want one into %s", l, target, err, zpDir)
		}
	}
	if data, err := os.ReadFile(zpLinks); err != nil || strings.Count(string(data), "\n") != 3 {
		t.Errorf("%s: %q %v, want the three links", zpLinks, data, err)
	}
	for _, p := range []string{zpDir + "/gcc/specs", zpDir + "/immunix.specs", zpDir + "/immunix-clang.cfg", "/usr/bin/immunix-clang", "/usr/bin/immunix-clang++", "/usr/share/man/man1/immunix-clang.1.gz"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("installed layout: %v", err)
		}
	}

	// Plain gcc, cc and g++ (and the immunix-clang names) build in the mode
	// with no flag, and pass the gate; plain clang does not read it.
	if err := os.WriteFile(filepath.Join(work, "p.c"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "p.cc"), []byte(cxxProg), 0o644); err != nil {
		t.Fatal(err)
	}
	if now := gccNow(t, work); now.reads != "Reading specs from "+before.specsPath {
		t.Errorf("installed: gcc -v says %q", now.reads)
	}
	builds := []struct {
		cc, src, mode string
		failed        []string
	}{
		{"gcc", "p.c", "specs", nil}, {"cc", "p.c", "specs", nil}, {"g++", "p.cc", "specs", nil},
		{"immunix-clang", "p.c", "config", nil},
		// glibc 2.36 defines no FORTIFY wrapper in C++ under clang (it
		// asks for GCC >= 4.3, clang says 4.2), whoever builds it:
		// tests/distro's TestMasqueradeNames pins it for immunix-cc.
		{"immunix-clang++", "p.cc", "config", []string{"fortify"}},
	}
	for _, b := range builds {
		exe := filepath.Join(work, "p-"+b.cc)
		run(t, work, cleanEnv(), b.cc, "-O2", "-o", exe, b.src)
		run(t, work, cleanEnv(), exe)
		if c := checkJSON(t, exe); !slices.Equal(c.failed, b.failed) || !slices.Equal(c.mode, []string{b.mode}) {
			t.Errorf("%s: immunix check --policy immunix: failed %v, stamp mode %v; want %v and [%s]\n%s", b.cc, c.failed, c.mode, b.failed, b.mode, c.out)
		}
	}
	t.Logf("immunix check --policy immunix, plain gcc:\n%s", run(t, work, cleanEnv(), "immunix", "check", "--policy", "immunix", "--progress", "never", "--color", "never", filepath.Join(work, "p-gcc")))
	run(t, work, cleanEnv(), "clang", "-O2", "-o", "p-clang", "p.c")
	if c := checkJSON(t, filepath.Join(work, "p-clang")); c.code == 0 || c.status["stamp"] == "pass" {
		t.Errorf("plain clang built in the mode (exit %d, stamp %s): clang 14 reads no configuration under its own name\n%s", c.code, c.status["stamp"], c.out)
	}
	// immunix-cc driving the gcc that reads the mode (what IMMUNIX_LEVEL=max
	// or the FormatGuard retry need): both add their protections, two
	// directories of FormatGuard headers are on the include path, and the
	// result passes the gate with both stamps. Its own capability probe
	// runs with the mode in force too (a fresh cache).
	env := append(cleanEnv(), "IMMUNIX_CC=gcc", "IMMUNIX_CACHE_DIR="+t.TempDir())
	run(t, work, env, "immunix-cc", "-O2", "-o", "p-wrapped", "p.c")
	run(t, work, cleanEnv(), filepath.Join(work, "p-wrapped"))
	if c := checkJSON(t, filepath.Join(work, "p-wrapped")); c.code != 0 || !slices.Equal(c.mode, []string{"specs", "wrapper"}) {
		t.Errorf("immunix-cc over the mode's gcc: exit %d, failed %v, stamp mode %v; want 0, none, [specs wrapper]\n%s", c.code, c.failed, c.mode, c.out)
	}
	// The user's opposite wins, as with immunix-cc.
	run(t, work, cleanEnv(), "gcc", "-O2", "-fno-stack-protector", "-o", "p-nossp", "p.c")
	if c := checkJSON(t, filepath.Join(work, "p-nossp")); c.code != 1 || c.status["canary"] != "fail" || c.status["fortify"] != "pass" || !slices.Equal(c.mode, []string{"specs"}) {
		t.Errorf("gcc -fno-stack-protector: exit %d, canary %s, fortify %s, mode %v; want 1, fail, pass, [specs]\n%s", c.code, c.status["canary"], c.status["fortify"], c.mode, c.out)
	}

	// A specs file immunix did not write: dpkg-reconfigure refuses it in one
	// line and leaves it, and gcc, alone.
	foreign := []byte("*self_spec:\n\n\n")
	if err := os.Remove(before.specsPath); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(before.specsPath, foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-reconfigure", "-fnoninteractive", "immunix-zeroproc").CombinedOutput()
	want := "immunix-zeroproc: " + before.specsPath + " exists and immunix-zeroproc did not write it"
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("dpkg-reconfigure over a foreign specs file: %v, want a failure saying %q:\n%s", err, want, out)
	}
	if data, err := os.ReadFile(before.specsPath); err != nil || !bytes.Equal(data, foreign) {
		t.Errorf("the foreign specs file was changed: %q %v", data, err)
	}
	if _, err := os.Stat(zpDir + "/gcc/specs"); err != nil {
		t.Errorf("the refused configure changed the mode's files: %v", err)
	}
	if err := os.Remove(before.specsPath); err != nil {
		t.Fatal(err)
	}
	run(t, "", nil, "dpkg-reconfigure", "-fnoninteractive", "immunix-zeroproc")
	if target, err := os.Readlink(before.specsPath); err != nil || target != zpDir+"/gcc/specs" {
		t.Errorf("after dpkg-reconfigure: %s -> %q (%v)", before.specsPath, target, err)
	}

	// gcc upgraded: dpkg activates the file trigger on its directory, and
	// the postinst writes the mode again (a file put into the old tree is
	// gone).
	marker := filepath.Join(zpDir, "written-before-the-trigger")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "", nil, "dpkg-trigger", "--no-await", filepath.Dir(before.specsPath))
	out2 := run(t, "", nil, "dpkg", "--triggers-only", "immunix-zeroproc")
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the trigger on %s did not write the mode again:\n%s", filepath.Dir(before.specsPath), out2)
	}
	if now := gccNow(t, work); now.reads != "Reading specs from "+before.specsPath {
		t.Errorf("after the trigger: gcc -v says %q", now.reads)
	}

	// Remove: gcc is exactly as before.
	afterRemove := func(what string) {
		t.Helper()
		if now := gccNow(t, work); now != before {
			t.Errorf("after %s: gcc reads %q and builds %x, before %q and %x", what, now.reads, now.program, before.reads, before.program)
		}
		for _, p := range append([]string{before.specsPath, zpDir, filepath.Dir(zpLinks)}, cfgs...) {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("after %s, %s is still there", what, p)
			}
		}
	}
	run(t, "", nil, "apt-get", "remove", "-y", "-qq", "immunix-zeroproc")
	afterRemove("apt-get remove immunix-zeroproc")

	// Reinstall, then purge both.
	install()
	exe := filepath.Join(work, "p-again")
	run(t, work, cleanEnv(), "gcc", "-O2", "-o", exe, "p.c")
	if c := checkJSON(t, exe); c.code != 0 || !slices.Equal(c.mode, []string{"specs"}) {
		t.Errorf("reinstalled: immunix check: exit %d, mode %v\n%s", c.code, c.mode, c.out)
	}
	run(t, "", nil, "apt-get", "purge", "-y", "-qq", "immunix-zeroproc", "immunix")
	installed = false
	afterRemove("apt-get purge immunix-zeroproc immunix")
}
