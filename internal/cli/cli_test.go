package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	var reg Registry
	var got []string
	reg.Register(Command{Name: "run", Summary: "run it", Run: func(env *Env, args []string) int {
		got = args
		return 7
	}})
	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring
		wantArgs []string
	}{
		{nil, 2, "", "Usage: immunix COMMAND", nil},
		{[]string{"--help"}, 0, "  run  run it", "", nil},
		{[]string{"help", "run"}, 7, "", "", []string{"--help"}},
		{[]string{"--version"}, 0, "immunix ", "", nil},
		{[]string{"run", "-x", "y"}, 7, "", "", []string{"-x", "y"}},
		{[]string{"bogus"}, 2, "", `immunix: unknown command "bogus"`, nil},
	} {
		got = nil
		var so, se bytes.Buffer
		code := reg.Main(&Env{Stdout: &so, Stderr: &se}, tc.args)
		if code != tc.code || !strings.Contains(so.String(), tc.stdout) || !strings.Contains(se.String(), tc.stderr) ||
			strings.Join(got, " ") != strings.Join(tc.wantArgs, " ") {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q, args %q", tc.args, code, so.String(), se.String(), got)
		}
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a name registered twice did not panic")
		}
	}()
	var reg Registry
	reg.Register(Command{Name: "x"})
	reg.Register(Command{Name: "x"})
}

func TestFindTools(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	exe := filepath.Join(bin, "immunix")
	os.WriteFile(exe, nil, 0o755)
	if _, err := FindTools(exe); err == nil || !strings.Contains(err.Error(), "immunix-tools not found") {
		t.Errorf("no tools: err = %v", err)
	}
	lib := filepath.Join(dir, "lib", "immunix", ToolsName)
	os.MkdirAll(filepath.Dir(lib), 0o755)
	os.WriteFile(lib, nil, 0o644)
	if _, err := FindTools(exe); err == nil {
		t.Error("a tools file that is not executable was accepted")
	}
	os.Chmod(lib, 0o755)
	if p, err := FindTools(exe); err != nil || p != lib {
		t.Errorf("FindTools = %q, %v; want %q", p, err, lib)
	}
	next := filepath.Join(bin, ToolsName)
	os.WriteFile(next, nil, 0o755)
	if p, err := FindTools(exe); err != nil || p != next {
		t.Errorf("FindTools = %q, %v; want %q (next to the program first)", p, err, next)
	}
}
