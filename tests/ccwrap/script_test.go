package ccwrap_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs testdata/script/*.txtar: the setups a user writes by
// hand (masquerade directories, wrapper scripts), where a script reads
// better than Go. $IMMUNIX_BIN holds immunix-cc; "exitcode N CMD ARGS"
// runs CMD and wants exit code N.
func TestScripts(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	bin := testenv.Binaries(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("IMMUNIX_BIN", bin)
			e.Setenv("IMMUNIX_CACHE_DIR", cacheDir)
			e.Setenv("IMMUNIX_CONFIG", "/nonexistent/immunix.conf")
			e.Setenv("PATH", os.Getenv("PATH"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: exitcode N CMD ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				if ee, ok := err.(*exec.ExitError); ok {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", filepath.Base(args[1]), got, want)
				}
			},
		},
	})
}
