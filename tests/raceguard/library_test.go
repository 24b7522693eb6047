package raceguard

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestLibraries: a shared library built without immunix (linked at start-up,
// or dlopened later) makes the probe or the create; the executable's
// exported wrappers see it. Without an attacker nothing is alerted; with
// a symlink planted in the window the plain build writes through and the
// immunix build refuses and alerts.
func TestLibraries(t *testing.T) {
	testenv.NeedsRoot(t)
	root := openDir(t)
	lib := filepath.Join(root, "libprobe.so")
	libSrc, _ := filepath.Abs("testdata/libprobe.c")
	userSrc, _ := filepath.Abs("testdata/libuser.c")
	build(t, "gcc", false, libSrc, lib, "-shared", "-fPIC", "-D_FORTIFY_SOURCE=2")
	sink := testenv.NewSyslog(t)
	env := []string{"IMMUNIX_SYSLOG_SOCKET=" + sink.Path, "IMMUNIX_CONFIG=/nonexistent/immunix.conf", "IMMUNIX_RACEGUARD=", "LD_LIBRARY_PATH=" + root}
	n := 0
	for _, cc := range testenv.Compilers() {
		for _, imm := range []bool{false, true} {
			exe := filepath.Join(root, fmt.Sprintf("libuser-%s-%v", cc, imm))
			build(t, cc, imm, userSrc, exe, "-L"+root, "-lprobe")
			for _, mode := range []struct{ name, probe, call string }{
				{"libprobe-fopen", "stat", "fopen"},
				{"access-dlcreate", "access", "open"},
			} {
				for _, attack := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/immunix=%v/attack=%v", mode.name, cc, imm, attack), func(t *testing.T) {
						n++
						s := newScene(t, root, 0, n)
						name := filepath.Join(s.shared, "name")
						res := runVictim(t, exe, 0, env, func(string) {
							if attack {
								asUser(t, otherUID, "ln", "-s", s.target, name)
							}
						}, mode.name, name, lib)
						alerts := raceAlerts(sink.Take())
						switch {
						case !attack:
							if res.code != 0 || readFile(t, name) != victimData || len(alerts) != 0 {
								t.Errorf("%v, file %q, alerts %v", res, readFile(t, name), alerts)
							}
						case !imm:
							if res.code != 0 || readFile(t, s.target) != victimData {
								t.Errorf("plain: want the write through, got %v, target %q", res, readFile(t, s.target))
							}
						default:
							if res.code != 3 || readFile(t, s.target) != "orig\n" || len(alerts) != 1 ||
								!strings.Contains(alerts[0], fmt.Sprintf(" probe=%s call=%s ", mode.probe, mode.call)) {
								t.Errorf("immunix: %v, target %q, alerts %v", res, readFile(t, s.target), alerts)
							}
						}
					})
				}
			}
		}
	}
}
