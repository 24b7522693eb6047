package formatguard_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/immunix/immunix/formatguard"
	"github.com/immunix/immunix/internal/testenv"
)

// chainedC uses what each wrapped header declares, then passes a
// format with more directives than arguments.
const chainedC = `
#include <err.h>
#include <stdio.h>
#include <syslog.h>
#include <wchar.h>
int main(int argc, char **argv) {
	FILE *f = stdout;
	wchar_t w = L'x';
	(void)w;
	if (argc < 0) { err(1, "x"); syslog(LOG_INFO, "x"); }
	fprintf(f, argc > 1 ? argv[1] : "plain\n");
	return 0;
}
`

// TestHeadersChained: two directories of the wrappers on one include path,
// as when immunix-cc (its own -isystem) drives a gcc whose default specs
// already add the zero-process mode's. Each wrapper must pass on to the
// next one, so the real header is still read: before, the second
// wrapper's guard was already defined and <stdio.h> declared nothing
// ("unknown type name 'FILE'"). FormatGuard still stops a format with more
// directives than arguments, and a harmless call runs.
func TestHeadersChained(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs C programs: skipped with -short")
	}
	t.Setenv("IMMUNIX_CACHE_DIR", t.TempDir())
	var dirs []string
	for _, name := range []string{"a", "b"} {
		dir := filepath.Join(t.TempDir(), name)
		sub, err := fs.Sub(formatguard.Headers, "include")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(dir, sub); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	for _, cc := range testenv.Compilers() {
		t.Run(cc, func(t *testing.T) {
			testenv.NeedsTool(t, cc)
			exe := buildWithRuntime(t, cc, chainedC, "-Wno-format-security", "-isystem", dirs[0], "-isystem", dirs[1])
			if out, halted := runMemo(t, exe); halted || out != "plain\n" {
				t.Fatalf("harmless call: output %q, halted %v", out, halted)
			}
			if out, halted := runMemo(t, exe, "%s%s%s%n\n"); !halted {
				t.Fatalf("format attack through the chained wrappers was not stopped: output %q", out)
			}
		})
	}
}
