package formatguard

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/formatguard"
	"github.com/immunix/immunix/internal/testenv"
)

// callWith returns a unit calling printf with a non-literal format and n
// arguments after it.
func callWith(n int) string {
	args := make([]string, n)
	for i := range args {
		args[i] = fmt.Sprint(i)
	}
	return "#include <stdio.h>\nint f(const char *fmt) { return printf(fmt, " + strings.Join(args, ", ") + "); }\n"
}

// TestArgumentCapacity: a call with Capacity arguments is counted exactly;
// one more does not compile (never a wrong count), so immunix-cc falls back
// to compiling the unit without FormatGuard.
func TestArgumentCapacity(t *testing.T) {
	inc := includeDir(t)
	dir := t.TempDir()
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		for _, n := range []int{formatguard.MaxCountedArgs, formatguard.MaxCountedArgs + 1} {
			p := filepath.Join(dir, fmt.Sprintf("n%d.c", n))
			if err := os.WriteFile(p, []byte(callWith(n)), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(cc, "-isystem", inc, "-E", p).CombinedOutput()
			if n <= formatguard.MaxCountedArgs {
				// C: the count, then the classes of the first 8 arguments
				// (docs/formatguard.md "Types, not only counts").
				if err != nil || !strings.Contains(string(out), fmt.Sprintf("__immunix_fg_printf((%du | ", n)) {
					t.Errorf("%s: a call with %d arguments is not counted as %du: %v\n%s", cc, n, n, err, tailOf(out))
				}
				continue
			}
			if err := exec.Command(cc, "-isystem", inc, "-c", "-o", os.DevNull, p).Run(); err == nil {
				t.Errorf("%s: a call with %d arguments compiled with the FormatGuard headers; it must fail rather than be miscounted", cc, n)
			}
		}
	}
}

func tailOf(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
