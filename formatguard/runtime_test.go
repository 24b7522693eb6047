package formatguard_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/formatguard"
	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// TestRuntimeWarningFree compiles the runtime sources as guardlib does, with
// -Wall -Wextra -Werror, under gcc and clang.
func TestRuntimeWarningFree(t *testing.T) {
	root := testenv.ModuleRoot(t)
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		args := append(append([]string{}, guardlib.CFlags...), "-Werror", "-I", filepath.Join(root, "guardlib", "runtime"),
			"-o", os.DevNull, filepath.Join(root, "formatguard", "runtime", "formatguard.c"))
		if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
		}
	}
}

// checkerProg calls one checker directly: argv = checker-name count format.
const checkerProg = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
` + "CHECKERS" + `
int main(int argc, char **argv)
{
	unsigned n;
	wchar_t w[256];
	if (argc != 4)
		return 2;
	n = (unsigned)atoi(argv[2]);
	mbstowcs(w, argv[3], 256);
	CALLS
	return 3;
}
`

// TestCheckers runs every checker on formats that must pass and formats
// that must raise the alert and halt, linked with the real runtime archive.
func TestCheckers(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs a program per wrapped function: skipped with -short")
	}
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	var decls, calls strings.Builder
	for _, f := range formatguard.Wrapped() {
		ch, ty := f.Checker(), "char"
		arg := "argv[3]"
		if f.Wide {
			ty, arg = "wchar_t", "w"
		}
		decls.WriteString("const " + ty + " *" + ch + "(unsigned, const " + ty + " *);\n")
		calls.WriteString("\tif (strcmp(argv[1], \"" + f.Name + "\") == 0) { if (" + ch + "(n, " + arg + ") != " + arg + ") return 4; puts(\"passed\"); return 0; }\n")
	}
	src := strings.Replace(strings.Replace(checkerProg, "CHECKERS", decls.String(), 1), "CALLS", calls.String(), 1)
	cases := []struct {
		n      string
		format string
		halt   bool
	}{
		{"0", "plain", false},
		{"0", "100%%", false},
		{"0", "%m", false},
		{"1", "%d", false},
		{"1", "%1$s %1$s", false},
		{"2", "%*d", false},
		{"3", "%-*.*f", false},
		{"2", "%2$s %1$d", false},
		{"5", "%d", false},
		{"0", "%d", true},
		{"1", "%d%d", true},
		{"1", "%*d", true},
		{"2", "%3$s", true},
		{"1", "%1$*2$d", true},
		{"8", "%n", true},
		{"8", "%1$hhn", true},
		{"0", "%2147483647$d", true},
	}
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		exe := buildWithRuntime(t, cc, src)
		for _, f := range formatguard.Wrapped() {
			for _, c := range cases {
				cmd := exec.Command(exe, f.Name, c.n, c.format)
				cmd.Env = []string{"IMMUNIX_SYSLOG_SOCKET=/nonexistent"}
				out, err := cmd.Output()
				ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
				halted := ws.Signaled() && ws.Signal() == syscall.SIGABRT
				if halted != c.halt || !c.halt && (err != nil || string(out) != "passed\n") {
					t.Errorf("%s %s(%s, %q): halted=%v err=%v out=%q, want halt=%v", cc, f.Checker(), c.n, c.format, halted, err, out, c.halt)
				}
			}
		}
	}
}
