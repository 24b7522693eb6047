package boundsguard

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// indexSrc indexes a stack array with an index from input: an access
// through %rsp/%rbp plus an index register at every optimisation level.
const indexSrc = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
	int a[16];
	memset(a, 0, sizeof a);
	int n = argc > 1 ? atoi(argv[1]) : 0;
	a[n] = 7;
	printf("%d\n", a[n / 2] + a[15 - n]);
	return 0;
}
`

// boundsVerdict runs `immunix check -f json` on path and returns the bounds
// property's status and value.
func boundsVerdict(t *testing.T, bin, path string) (string, string) {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, "immunix-tools"), "check", "-f", "json", path).Output()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("immunix check %s: %v", path, err)
		}
	}
	var rep struct {
		Files []struct {
			Results []struct {
				Property, Status, Value string
			}
		}
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("immunix check json: %v\n%s", err, out)
	}
	for _, f := range rep.Files {
		for _, r := range f.Results {
			if r.Property == "bounds" {
				return r.Status, r.Value
			}
		}
	}
	t.Fatalf("no bounds property in %s", out)
	return "", ""
}

// TestCheckBounds: `immunix check` tells the bounds level from the code,
// for gcc and clang: a program built without BoundsGuard whose functions
// index stack arrays fails, the same program with BoundsGuard passes, and
// its stripped copy is unknown (the hidden handler has no symbol left).
// The build stamp plays no part: the program built with the user's
// -fno-sanitize=bounds under the max level has a stamp and still fails.
func TestCheckBounds(t *testing.T) {
	bin := testenv.Binaries(t)
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	testenv.NeedsTool(t, "strip")
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		t.Run(cc, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "index.c")
			if err := os.WriteFile(src, []byte(indexSrc), 0o644); err != nil {
				t.Fatal(err)
			}
			build := func(name string, env []string, extra ...string) string {
				exe := filepath.Join(dir, name)
				if o, err := immunixCC(t, bin, cc, env, append(append([]string{"-O2"}, extra...), src, "-o", exe)...); err != nil {
					t.Fatalf("%s: %v\n%s", name, err, o)
				}
				return exe
			}
			without := build("without", []string{"IMMUNIX_DISABLE=bounds"})
			with := build("with", boundsEnv)
			userOff := build("user-off", boundsEnv, "-fno-sanitize=bounds")
			stripped := filepath.Join(dir, "stripped")
			if o, err := exec.Command("strip", "-o", stripped, with).CombinedOutput(); err != nil {
				t.Fatalf("strip: %v\n%s", err, o)
			}
			for _, c := range []struct {
				exe, status, value string
			}{
				{without, "fail", "none:"},
				{userOff, "fail", "none:"},
				{with, "pass", "bounds:"},
				{stripped, "unknown", "stripped"},
			} {
				st, val := boundsVerdict(t, bin, c.exe)
				if st != c.status || !strings.Contains(val, c.value) {
					t.Errorf("%s: bounds %s %q, want %s with %q", filepath.Base(c.exe), st, val, c.status, c.value)
				}
			}
		})
	}
}
