package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/cli"
	"github.com/immunix/immunix/internal/testenv"
)

// TestLean keeps the heavy packages out of this binary: immunix run
// starts before every confined program, and their initialisers and size
// cost every start (they belong to immunix-tools).
func TestLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	heavy := []string{
		"github.com/immunix/immunix/check",
		"github.com/immunix/immunix/subdomain/learn",
		"github.com/klauspost/compress",
		"github.com/ulikunitz/xz",
		"golang.org/x/arch",
		"github.com/elastic/go-seccomp-bpf",
		"encoding/xml",
		"compress/gzip",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, h := range heavy {
			if dep == h || strings.HasPrefix(dep, h+"/") {
				t.Errorf("immunix links %s: move the command that needs it to immunix-tools", dep)
			}
		}
	}
}

// TestUsageListsEveryCommand: the lean binary's usage names the
// commands immunix-tools serves too.
func TestUsageListsEveryCommand(t *testing.T) {
	code, out, _ := runMain(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, name := range []string{"alerts", "check", "guardlib", "learn", "run"} {
		if !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("usage does not list %s:\n%s", name, out)
		}
	}
	for _, c := range cli.Tools {
		if !strings.Contains(out, c.Summary) {
			t.Errorf("usage lacks the summary of %s", c.Name)
		}
	}
}

// TestForward: check and learn exec immunix-tools, found next to the
// program or in PREFIX/lib/immunix, with the command and its arguments;
// without it, one line and exit 127.
func TestForward(t *testing.T) {
	exe := func(p string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	side := t.TempDir()
	exe(filepath.Join(side, "immunix"))
	exe(filepath.Join(side, "immunix-tools"))
	prefix := t.TempDir()
	exe(filepath.Join(prefix, "bin", "immunix"))
	exe(filepath.Join(prefix, "lib", "immunix", "immunix-tools"))
	linked := t.TempDir()
	os.Symlink(filepath.Join(prefix, "bin", "immunix"), filepath.Join(linked, "immunix"))
	none := t.TempDir()
	exe(filepath.Join(none, "immunix"))
	for _, tc := range []struct {
		name      string
		exe       string
		args      []string
		wantPath  string
		wantArgv  []string
		wantCode  int
		wantError string
	}{
		{"next to it", filepath.Join(side, "immunix"), []string{"check", "--policy", "strict", "a b"},
			filepath.Join(side, "immunix-tools"), []string{"immunix-tools", "check", "--policy", "strict", "a b"}, 0, ""},
		{"prefix lib", filepath.Join(prefix, "bin", "immunix"), []string{"learn", "--", "true"},
			filepath.Join(prefix, "lib", "immunix", "immunix-tools"), []string{"immunix-tools", "learn", "--", "true"}, 0, ""},
		{"through a symlink", filepath.Join(linked, "immunix"), []string{"check"},
			filepath.Join(prefix, "lib", "immunix", "immunix-tools"), []string{"immunix-tools", "check"}, 0, ""},
		{"help check", filepath.Join(side, "immunix"), []string{"help", "check"},
			filepath.Join(side, "immunix-tools"), []string{"immunix-tools", "check", "--help"}, 0, ""},
		{"run --complain", filepath.Join(side, "immunix"), []string{"run", "--complain", "-p", "x.sd", "--", "true"},
			filepath.Join(side, "immunix-tools"), []string{"immunix-tools", "run", "--complain", "-p", "x.sd", "--", "true"}, 0, ""},
		{"missing", filepath.Join(none, "immunix"), []string{"check", "x"}, "", nil, cli.ExitNoTools, "immunix check: immunix-tools not found"},
	} {
		var gotPath string
		var gotArgv []string
		var se bytes.Buffer
		env := &cli.Env{Stdout: &bytes.Buffer{}, Stderr: &se, Getenv: os.Getenv, Executable: tc.exe,
			Exec: func(path string, argv []string) error { gotPath, gotArgv = path, argv; return nil }}
		code := registry.Main(env, tc.args)
		if code != tc.wantCode || gotPath != tc.wantPath || !slices.Equal(gotArgv, tc.wantArgv) {
			t.Errorf("%s: exit %d, exec %q %q; want %d, %q %q", tc.name, code, gotPath, gotArgv, tc.wantCode, tc.wantPath, tc.wantArgv)
		}
		if tc.wantError != "" && (!strings.HasPrefix(se.String(), tc.wantError) || strings.Count(se.String(), "\n") != 1) {
			t.Errorf("%s: stderr %q, want one line starting %q", tc.name, se.String(), tc.wantError)
		}
	}
}

// TestForwardedForReal runs the built binaries: immunix check and learn
// behave as immunix-tools check and learn, with their help, exit codes,
// stdin and stdout.
func TestForwardedForReal(t *testing.T) {
	bin := testenv.Binaries(t)
	immunix := filepath.Join(bin, "immunix")
	run := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(immunix, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, so.String(), se.String()
	}
	if code, out, _ := run("", "check", "--help"); code != 0 || !strings.Contains(out, "Usage: immunix check") {
		t.Errorf("immunix check --help: exit %d\n%s", code, out)
	}
	if code, out, _ := run("", "help", "learn"); code != 0 || !strings.Contains(out, "Usage: immunix learn") {
		t.Errorf("immunix help learn: exit %d\n%s", code, out)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	code, out, _ := run("", "check", missing)
	direct := exec.Command(filepath.Join(bin, "immunix-tools"), "check", missing)
	tout, err := direct.Output()
	tcode := 0
	if ee, ok := err.(*exec.ExitError); ok {
		tcode = ee.ExitCode()
	}
	if code != 2 || code != tcode || out != string(tout) || !strings.Contains(out, "1 unreadable") {
		t.Errorf("immunix check MISSING: exit %d\n%s\nimmunix-tools check MISSING: exit %d\n%s", code, out, tcode, tout)
	}
	if code, _, _ := run("", "bogus"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	testenv.NeedsTool(t, "strace")
	dir := t.TempDir()
	code, out, errs := run("from stdin\n", "learn", "--no-keep-trace", "-o", filepath.Join(dir, "p.sd"), "--", "/bin/sh", "-c", "cat; exit 3")
	if code != 3 || out != "from stdin\n" {
		t.Errorf("immunix learn -- sh -c 'cat; exit 3': exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
