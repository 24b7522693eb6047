package zeroproc

import (
	"os"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs testdata/script/*.txtar: the zero-process mode as a
// user sets it up by hand, where a script reads better than Go.
// $IMMUNIX_BIN holds immunix; $ZP is toolchain-config's directory and
// $ZPBIN its prefixed clang links (testenv.ZeroProc).
func TestScripts(t *testing.T) {
	z := testenv.ZeroProcess(t)
	bin := testenv.Binaries(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("IMMUNIX_BIN", bin)
			e.Setenv("ZP", z.Dir)
			e.Setenv("ZPBIN", z.Bin)
			e.Setenv("PATH", os.Getenv("PATH"))
			return nil
		},
	})
}
