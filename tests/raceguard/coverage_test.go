package raceguard

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestNotCovered pins what RaceGuard does not see (docs/raceguard.md),
// with the same attack: a create made with the raw openat system call, and
// a static program (nothing to export the wrappers from, so immunix-cc
// links no RaceGuard into it). Both are raced through under immunix too;
// immunix check says so for the static one.
func TestNotCovered(t *testing.T) {
	testenv.NeedsRoot(t)
	root := openDir(t)
	src, _ := filepath.Abs("testdata/victim.c")
	sink := testenv.NewSyslog(t)
	env := []string{"IMMUNIX_SYSLOG_SOCKET=" + sink.Path, "IMMUNIX_CONFIG=/nonexistent/immunix.conf", "IMMUNIX_RACEGUARD="}
	n := 0
	for _, cc := range testenv.Compilers() {
		dyn := filepath.Join(root, "victim-"+cc)
		build(t, cc, true, src, dyn)
		static := filepath.Join(root, "victim-static-"+cc)
		build(t, cc, true, src, static, "-static")
		for _, c := range []struct{ name, exe, pattern string }{
			{"raw-syscall", dyn, "access-rawopen"},
			{"static", static, "access-open"},
		} {
			t.Run(cc+"/"+c.name, func(t *testing.T) {
				n++
				s := newScene(t, root, 0, n)
				name := filepath.Join(s.shared, "name")
				res := runVictim(t, c.exe, 0, env, func(string) {
					asUser(t, otherUID, "ln", "-s", s.target, name)
				}, c.pattern, name)
				if res.code != 0 || readFile(t, s.target) != victimData {
					t.Errorf("want the write through (not covered), got %v, target %q", res, readFile(t, s.target))
				}
				if a := raceAlerts(sink.Take()); len(a) != 0 {
					t.Errorf("alerts: %v", a)
				}
			})
		}
		t.Run(cc+"/check", func(t *testing.T) {
			plain := filepath.Join(root, "victim-plain-"+cc)
			build(t, cc, false, src, plain)
			stripped := dyn + "-stripped"
			if out, err := exec.Command("strip", "-o", stripped, dyn).CombinedOutput(); err != nil {
				t.Fatalf("strip: %v\n%s", err, out)
			}
			got := verdicts(t, "raceguard", dyn, stripped, plain, static)
			want := []string{"pass", "pass", "fail", "fail"}
			for i := range want {
				if got[i][0] != want[i] {
					t.Errorf("file %d: raceguard %v, want %s", i, got[i], want[i])
				}
			}
			// The wrappers are the runtime's, built without a canary on
			// purpose: not counted against the program.
			if c := verdicts(t, "canary", dyn)[0]; c[0] != "pass" {
				t.Errorf("canary of the immunix build: %v", c)
			}
		})
	}
}

// verdicts runs immunix check --policy immunix on files and returns each
// file's [status, value] of property prop.
func verdicts(t *testing.T, prop string, files ...string) [][2]string {
	t.Helper()
	cmd := exec.Command(filepath.Join(testenv.Binaries(t), "immunix"), append([]string{"check", "-f", "json", "--policy", "immunix"}, files...)...)
	out, err := cmd.Output()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("immunix check: %v", err)
	}
	var rep struct {
		Files []struct {
			Path    string
			Results []struct{ Property, Status, Value string }
		}
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("immunix check: %v\n%s", err, out)
	}
	var v [][2]string
	for _, f := range rep.Files {
		r := [2]string{"absent", ""}
		for _, x := range f.Results {
			if x.Property == prop {
				r = [2]string{x.Status, x.Value}
			}
		}
		v = append(v, r)
	}
	if len(v) != len(files) {
		fmt.Fprintln(os.Stderr, string(out))
		t.Fatalf("immunix check reported %d files, want %d", len(v), len(files))
	}
	return v
}
