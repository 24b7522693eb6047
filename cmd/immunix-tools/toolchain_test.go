package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/cli"
)

// TestToolchainConfigUsage: --help documents the command; a missing --out,
// or both compilers turned off, is a usage error in one line.
func TestToolchainConfigUsage(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		return registry.Main(env, args), out.String(), errb.String()
	}
	code, out, _ := run("toolchain-config", "--help")
	for _, w := range []string{"--out", "immunix.specs", "immunix-clang.cfg", "gcc/specs"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("toolchain-config --help: exit %d, no %q:\n%s", code, w, out)
		}
	}
	if code, _, errOut := run("toolchain-config"); code != 2 || !strings.Contains(errOut, "--out DIR is required") {
		t.Errorf("toolchain-config without --out: exit %d, stderr %q", code, errOut)
	}
	// Both compilers turned off is a usage error, not a missing compiler.
	if code, _, errOut := run("toolchain-config", "--out", t.TempDir(), "--gcc", "", "--clang", ""); code != 2 || !strings.Contains(errOut, "--gcc and --clang are both empty") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("toolchain-config --gcc '' --clang '': exit %d, stderr %q", code, errOut)
	}
}
