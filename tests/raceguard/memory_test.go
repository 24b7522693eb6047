package raceguard

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/immunix/immunix/guardlib"
	"github.com/immunix/immunix/internal/testenv"
)

// TestTableBounded: RaceGuard's memory is its static data, fixed at build
// time: every data and bss symbol of its archive together stays within
// 64 KiB, and it never allocates (no malloc family among its undefined
// symbols), whatever a program does.
func TestTableBounded(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		t.Run(cc, func(t *testing.T) {
			testenv.NeedsTool(t, cc)
			a, err := guardlib.Archive(guardlib.Target{Compiler: []string{cc}})
			if err != nil {
				t.Fatal(err)
			}
			rg := filepath.Join(filepath.Dir(a), guardlib.RaceGuardArchiveName)
			out, err := exec.Command("nm", "-S", rg).Output()
			if err != nil {
				t.Fatalf("nm -S %s: %v", rg, err)
			}
			total := 0
			for _, l := range strings.Split(string(out), "\n") {
				f := strings.Fields(l)
				switch {
				case len(f) == 2 && f[0] == "U":
					switch f[1] {
					case "malloc", "calloc", "realloc", "free", "mmap", "brk", "sbrk":
						t.Errorf("RaceGuard calls %s", f[1])
					}
				case len(f) == 4 && strings.Contains("bBdDrR", f[2]):
					n, err := strconv.ParseUint(f[1], 16, 64)
					if err != nil {
						t.Fatalf("nm line %q: %v", l, err)
					}
					total += int(n)
				}
			}
			t.Logf("%s: RaceGuard's data, bss and read-only data: %d bytes", cc, total)
			if total == 0 || total > 64<<10 {
				t.Errorf("RaceGuard's static data is %d bytes, want 1..65536", total)
			}
		})
	}
}
