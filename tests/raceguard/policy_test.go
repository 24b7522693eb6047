package raceguard

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestPolicy: IMMUNIX_RACEGUARD and the configuration file choose refuse
// (default), kill or off; the environment overrides the file; a bad value
// is one line on stderr and refuse; a set-uid program ignores both the
// environment and IMMUNIX_CONFIG and never goes below refuse.
func TestPolicy(t *testing.T) {
	testenv.NeedsRoot(t)
	root := openDir(t)
	exes := victims(t, root)
	sink := testenv.NewSyslog(t)
	world(t, sink)
	conf := func(v string) string {
		p := filepath.Join(root, "conf-"+v)
		if err := os.WriteFile(p, []byte("# site policy\nIMMUNIX_DISABLE=now\nIMMUNIX_RACEGUARD=\""+v+"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, env, conf string
		setuid          bool
		want            string // refuse, kill, off
		stderr          string
	}{
		{name: "default", want: "refuse"},
		{name: "env-kill", env: "kill", want: "kill"},
		{name: "env-off", env: "off", want: "off"},
		{name: "env-refuse", env: "refuse", want: "refuse"},
		{name: "conf-kill", conf: "kill", want: "kill"},
		{name: "conf-off", conf: "off", want: "off"},
		{name: "env-over-conf", env: "kill", conf: "off", want: "kill"},
		{name: "env-bad", env: "sometimes", want: "refuse", stderr: "immunix: environment: IMMUNIX_RACEGUARD=sometimes is not refuse, kill or off; using refuse\n"},
		{name: "setuid-env-off", env: "off", conf: "off", setuid: true, want: "refuse"},
	}
	n := 0
	for _, cc := range testenv.Compilers() {
		for _, c := range cases {
			t.Run(cc+"/"+c.name, func(t *testing.T) {
				n++
				exe := exes[cc][true]
				victim := 0
				if c.setuid {
					// A set-uid root copy run by an ordinary user.
					exe = filepath.Join(root, "suid-"+cc)
					data, err := os.ReadFile(exes[cc][true])
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(exe, data, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.Chmod(exe, os.ModeSetuid|0o755); err != nil {
						t.Fatal(err)
					}
					victim = userUID
				}
				s := newScene(t, root, 0, 1000+n)
				env := []string{"IMMUNIX_SYSLOG_SOCKET=" + sink.Path, "IMMUNIX_RACEGUARD=" + c.env, "IMMUNIX_CONFIG=/nonexistent/immunix.conf"}
				if c.conf != "" {
					env[2] = "IMMUNIX_CONFIG=" + conf(c.conf)
				}
				name := filepath.Join(s.shared, "name")
				res := runVictim(t, exe, victim, env, func(string) {
					asUser(t, otherUID, "ln", "-s", s.target, name)
				}, "access-open", name)
				alerts := raceAlerts(sink.Take())
				if c.setuid {
					// AT_SECURE: the socket override is ignored too, so
					// the alert is read from stderr.
					alerts = raceAlerts(strings.Split(res.stderr, "\n"))
				}
				target := readFile(t, s.target)
				switch c.want {
				case "off":
					if res.code != 0 || target != victimData || len(alerts) != 0 {
						t.Errorf("off: want the plain behaviour, got %v, target %q, alerts %v", res, target, alerts)
					}
				case "refuse":
					if res.code != 3 || target != "orig\n" || len(alerts) != 1 || !strings.Contains(alerts[0], " action=refuse ") {
						t.Errorf("refuse: %v, target %q, alerts %v", res, target, alerts)
					}
				case "kill":
					if res.signal != syscall.SIGABRT || target != "orig\n" || len(alerts) != 1 || !strings.Contains(alerts[0], " action=kill ") {
						t.Errorf("kill: %v, target %q, alerts %v", res, target, alerts)
					}
				}
				if c.stderr != "" && !strings.HasPrefix(res.stderr, c.stderr) {
					t.Errorf("stderr %q, want it to start with %q", res.stderr, c.stderr)
				}
			})
		}
	}
}
