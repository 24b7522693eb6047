// Package cbuild compiles small C and C++ programs for tests.
//
// Example:
//
//	exe := cbuild.Build(t, "gcc", `int main(void){return 0;}`, "-O2")
//	out, err := exec.Command(exe).CombinedOutput()
package cbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Build writes src to a temporary file (main.c, or main.cc when cc looks like
// a C++ compiler), compiles it with cc and flags into an executable, and
// returns the executable's path. Any failure fails the test with the
// compiler's output.
func Build(t testing.TB, cc, src string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	name := "main.c"
	if strings.Contains(filepath.Base(cc), "++") {
		name = "main.cc"
	}
	srcPath := filepath.Join(dir, name)
	if err := os.WriteFile(srcPath, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "prog")
	args := append(append([]string{}, flags...), "-o", exe, srcPath)
	cmd := exec.Command(cc, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	return exe
}
