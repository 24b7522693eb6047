package raceguard

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

const victimData = "victim data\n"

// The patterns of testdata/victim.c and the probe and create each alert
// must name.
var patterns = []struct {
	name, probe, call string
}{
	{"access-open", "access", "open"},
	{"stat-fopen", "stat", "fopen"},
	{"mktemp-open", "mktemp", "open"},
	{"tmpnam-fopen", "tmpnam", "fopen"},
	{"probe-mkdir", "stat", "mkdir"},
	{"probe-rename", "stat", "rename"},
}

// What the attacker plants under the victim's name.
const (
	plantSymlink  = "symlink"  // to a file (a directory for probe-mkdir) the victim may write
	plantHardlink = "hardlink" // to that file
	plantOwn      = "own"      // a file (a directory for probe-mkdir) of the attacker's, mode 0666/0777
)

// scene is one victim run's world: a sticky world-writable directory (or
// /tmp for tmpnam), the target the attacker aims at, owned by the victim.
type scene struct {
	shared, target, targetDir string
}

func newScene(t *testing.T, root string, victimUID int, n int) scene {
	t.Helper()
	d := filepath.Join(root, fmt.Sprint(n))
	s := scene{shared: filepath.Join(d, "shared"), targetDir: filepath.Join(d, "target")}
	s.target = filepath.Join(s.targetDir, "file")
	for _, dir := range []string{d, s.shared, s.targetDir} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(s.shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.target, []byte("orig\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{s.targetDir, s.target} {
		if err := os.Chown(p, victimUID, victimUID); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// plant makes what the attacker puts under name.
func plant(t *testing.T, s scene, uid int, pattern, kind, name string) {
	t.Helper()
	mk := pattern == "probe-mkdir"
	switch {
	case kind == plantSymlink && mk:
		asUser(t, uid, "ln", "-s", s.targetDir, name)
	case kind == plantSymlink:
		asUser(t, uid, "ln", "-s", s.target, name)
	case kind == plantHardlink:
		asUser(t, uid, "ln", s.target, name)
	case kind == plantOwn && mk:
		asUser(t, uid, "mkdir", "-m", "777", name)
	case kind == plantOwn:
		asUser(t, uid, "sh", "-c", `umask 0; printf 'attacker\n' > "$1"`, "sh", name)
	}
}

// kernelStops says whether the kernel already stops the plain victim:
//   - fs.protected_symlinks=1: a symlink of another user followed as the
//     last component of a path in a sticky world-writable directory (not
//     as an inner one: probe-mkdir's "NAME/out" goes through);
//   - fs.protected_regular=1: an existing file of another user opened with
//     O_CREAT there;
//   - the sticky bit itself: an ordinary user's rename onto an entry of
//     another user's inode fails with EPERM whatever the sysctls say.
//
// The directory's owner, root, is never the attacker here.
func kernelStops(protected bool, victim, attacker int, pattern, kind string) bool {
	if victim == attacker {
		return false
	}
	if pattern == "probe-rename" {
		return victim != 0 && kind != plantHardlink // a link to the victim's own inode passes the sticky check
	}
	if !protected || pattern == "probe-mkdir" {
		return false
	}
	return kind == plantSymlink || kind == plantOwn // not a hard link to the victim's own file
}

// TestRaceAttacks runs every pattern against every attack: the plain build
// is raced (it writes through the attacker's name wherever the kernel's
// protected_* sysctls do not stop it); the immunix build leaves the target
// and the attacker's file untouched, refuses the call and raises one
// kind=raceguard alert naming the path, the probe and the create.
func TestRaceAttacks(t *testing.T) {
	testenv.NeedsRoot(t)
	root := openDir(t)
	exes := victims(t, root)
	sink := testenv.NewSyslog(t)
	world(t, sink)
	env := []string{"IMMUNIX_SYSLOG_SOCKET=" + sink.Path, "IMMUNIX_CONFIG=/nonexistent/immunix.conf", "IMMUNIX_RACEGUARD="}
	// The attacker links to a file it does not own.
	sysctl(t, "protected_hardlinks", "0")
	n := 0
	for _, protected := range []bool{false, true} {
		v := map[bool]string{false: "0", true: "1"}[protected]
		t.Run("protected="+v, func(t *testing.T) {
			sysctl(t, "protected_symlinks", v)
			sysctl(t, "protected_regular", v)
			for _, victim := range []int{0, userUID} {
				for _, attacker := range []int{victim, otherUID} {
					for _, p := range patterns {
						for _, kind := range []string{plantSymlink, plantHardlink, plantOwn} {
							if p.name == "probe-mkdir" && kind == plantHardlink {
								continue // a non-directory there: the later open fails ENOTDIR in every build
							}
							for _, cc := range testenv.Compilers() {
								name := fmt.Sprintf("victim%d/attacker%d/%s/%s/%s", victim, attacker, p.name, kind, cc)
								t.Run(name, func(t *testing.T) {
									for _, imm := range []bool{false, true} {
										n++
										s := newScene(t, root, victim, n)
										attackOnce(t, s, exes[cc][imm], imm, protected, victim, attacker, p.name, p.probe, p.call, kind, sink, env)
									}
								})
							}
						}
					}
				}
			}
		})
	}
}

func attackOnce(t *testing.T, s scene, exe string, imm, protected bool, victim, attacker int, pattern, probe, call, kind string, sink *testenv.Syslog, env []string) {
	t.Helper()
	arg := filepath.Join(s.shared, "name")
	if pattern == "mktemp-open" {
		arg = s.shared
	}
	var planted string
	res := runVictim(t, exe, victim, env, func(name string) {
		planted = name
		plant(t, s, attacker, pattern, kind, name)
	}, pattern, arg)
	if pattern == "tmpnam-fopen" {
		defer os.RemoveAll(planted)
	}
	if planted == "" {
		t.Fatalf("victim never reached its window: %v, stdout %q", res, res.stdout)
	}
	alerts := raceAlerts(sink.Take())
	target, targetName := s.target, "target"
	if pattern == "probe-mkdir" {
		target = filepath.Join(s.targetDir, "out")
	}
	tag := map[bool]string{false: "plain", true: "immunix"}[imm]

	if !imm {
		if len(alerts) != 0 {
			t.Errorf("plain: alerts %v", alerts)
		}
		stops := kernelStops(protected, victim, attacker, pattern, kind)
		switch {
		case stops:
			if res.code != 3 || readFile(t, target) == victimData {
				t.Errorf("plain, kernel protected: want the create refused by the kernel, got %v, %s %q", res, targetName, readFile(t, target))
			}
		case pattern == "probe-rename":
			// rename replaces the planted entry: nothing is written
			// through it, but the victim silently destroyed the
			// attacker's name and believes it made a new one.
			if fi, err := os.Lstat(planted); err != nil || !fi.Mode().IsRegular() || res.code != 0 || readFile(t, planted) != victimData || readFile(t, target) != "orig\n" {
				t.Errorf("plain rename: %v, name %q, target %q", res, readFile(t, planted), readFile(t, target))
			}
		case kind == plantOwn && pattern == "probe-mkdir":
			if res.code != 0 || readFile(t, filepath.Join(planted, "out")) != victimData {
				t.Errorf("plain: want the write into the attacker's directory, got %v", res)
			}
		case kind == plantOwn:
			if res.code != 0 || readFile(t, planted) != victimData {
				t.Errorf("plain: want the write into the attacker's file, got %v, file %q", res, readFile(t, planted))
			}
		default:
			if res.code != 0 || readFile(t, target) != victimData {
				t.Errorf("plain: want the write through the %s, got %v, target %q", kind, res, readFile(t, target))
			}
		}
		return
	}

	// immunix
	if kind == plantOwn && pattern == "probe-mkdir" && attacker == victim {
		// A directory of the victim's own effective user is what a
		// parallel "mkdir -p" makes: not counted as a race
		// (docs/raceguard.md).
		if len(alerts) != 0 || res.code != 0 {
			t.Errorf("%s: own directory of the same user: %v, alerts %v", tag, res, alerts)
		}
		return
	}
	if res.code != 3 || !strings.Contains(res.stderr, "File exists") {
		t.Errorf("%s: want the create refused with EEXIST, got %v", tag, res)
	}
	if got := readFile(t, target); got == victimData {
		t.Errorf("%s: wrote through to the target", tag)
	}
	if readFile(t, s.target) != "orig\n" {
		t.Errorf("%s: target changed: %q", tag, readFile(t, s.target))
	}
	switch {
	case kind == plantOwn && pattern == "probe-mkdir":
		if readFile(t, filepath.Join(planted, "out")) != "<absent>" {
			t.Errorf("%s: wrote into the attacker's directory", tag)
		}
	case kind == plantOwn:
		if readFile(t, planted) != "attacker\n" {
			t.Errorf("%s: attacker's file changed: %q", tag, readFile(t, planted))
		}
	}
	if len(alerts) == 0 {
		t.Fatalf("%s: no kind=raceguard alert on the syslog socket (stderr %q)", tag, res.stderr)
	}
	want := fmt.Sprintf(" path=%s probe=%s call=%s action=refuse ", planted, probe, call)
	if !strings.Contains(alerts[0], want) || !strings.Contains(alerts[0], fmt.Sprintf(" uid=%d ", victim)) ||
		!strings.HasPrefix(alerts[0], "<81>immunix[") || !strings.Contains(alerts[0], " exe="+exeOf(t, exe)+" ") {
		t.Errorf("%s: alert %q, want %q", tag, alerts[0], want)
	}
}

func exeOf(t *testing.T, p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
