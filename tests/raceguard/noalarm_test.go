package raceguard

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// tree lists dir's entries with their type and content, for comparing what
// two builds of a program left behind.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := rel + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			line += fmt.Sprintf(" %q", readFile(t, p))
		}
		out = append(out, line)
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestNoAttackerSameBehaviour: without an attacker every victim pattern
// behaves exactly as the plain build: exit status, output (names aside),
// the files it leaves, and no alert.
func TestNoAttackerSameBehaviour(t *testing.T) {
	root := openDir(t)
	exes := victims(t, root)
	sink := testenv.NewSyslog(t)
	env := []string{"IMMUNIX_SYSLOG_SOCKET=" + sink.Path, "IMMUNIX_CONFIG=/nonexistent/immunix.conf", "IMMUNIX_RACEGUARD="}
	for _, p := range patterns {
		for _, cc := range testenv.Compilers() {
			t.Run(p.name+"/"+cc, func(t *testing.T) {
				var got [2]string
				for i, imm := range []bool{false, true} {
					d := filepath.Join(root, fmt.Sprintf("%s-%s-%v", p.name, cc, imm))
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
					arg := filepath.Join(d, "name")
					if p.name == "mktemp-open" {
						arg = d
					}
					var name string
					res := runVictim(t, exes[cc][imm], os.Getuid(), env, func(n string) { name = n }, p.name, arg)
					if p.name == "tmpnam-fopen" {
						got[i] = readFile(t, name)
						os.Remove(name)
					}
					got[i] += fmt.Sprintf("exit %d signal %v stderr %q\n%s", res.code, res.signal, res.stderr, tree(t, d))
					got[i] = strings.ReplaceAll(got[i], filepath.Base(name), "NAME")
					if res.code != 0 {
						t.Errorf("immunix=%v: %v", imm, res)
					}
				}
				if got[0] != got[1] {
					t.Errorf("plain and immunix builds differ:\nplain:\n%s\nimmunix:\n%s", got[0], got[1])
				}
				if a := raceAlerts(sink.Take()); len(a) != 0 {
					t.Errorf("alerts: %v", a)
				}
			})
		}
	}
}

// TestNoFalseAlarm: programs that probe, create, remove and create again,
// overflow the table, run threads sharing a log file, fork, and chdir
// between a relative probe and the create: they succeed under immunix as
// they do plainly, and raise no alert.
func TestNoFalseAlarm(t *testing.T) {
	root := openDir(t)
	src, _ := filepath.Abs("testdata/benign.c")
	sink := testenv.NewSyslog(t)
	env := []string{"IMMUNIX_SYSLOG_SOCKET=" + sink.Path, "IMMUNIX_CONFIG=/nonexistent/immunix.conf", "IMMUNIX_RACEGUARD="}
	for _, cc := range testenv.Compilers() {
		for _, imm := range []bool{false, true} {
			exe := filepath.Join(root, fmt.Sprintf("benign-%s-%v", cc, imm))
			build(t, cc, imm, src, exe, "-pthread")
			for _, mode := range []string{"cycle", "threads", "fork", "chdir"} {
				t.Run(fmt.Sprintf("%s/%s/immunix=%v", mode, cc, imm), func(t *testing.T) {
					d := filepath.Join(root, fmt.Sprintf("%s-%s-%v", mode, cc, imm))
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
					res := runVictim(t, exe, os.Getuid(), env, nil, mode, d)
					if res.code != 0 || res.signal != 0 || res.stdout != mode+" done\n" {
						t.Errorf("%v, stdout %q", res, res.stdout)
					}
					if a := raceAlerts(sink.Take()); len(a) != 0 {
						t.Errorf("alerts: %v", a)
					}
				})
			}
		}
	}
}
