package subdomain_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
	"github.com/immunix/immunix/subdomain/enforce"
)

// The supervisor's stand-in (immunix-supervise, subdomain/enforce/supervise/
// immunix-supervise.c) holds the supervisor's descriptors while there is
// nothing to supervise and starts the Go supervisor at the first denial or
// seccomp notification; a run with neither ends without it. Every
// arrangement must alert the same denials: the stand-in installed beside
// immunix, none (a plain go build), and one another user could have
// replaced, which must never run.
func TestStandIn(t *testing.T) {
	dir, exe := attackSetup(t)
	testenv.NeedsTool(t, "strace")
	prof, _ := learnProfile(t, dir, "standin.sd", exe, "opendir", dir)
	bins := testenv.Binaries(t)

	// copyImmunix puts a copy of immunix (not a link: the stand-in is
	// looked for beside the program's real path) into a new directory.
	copyImmunix := func(t *testing.T) string {
		t.Helper()
		d := filepath.Join(t.TempDir(), "bin")
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(bins, "immunix"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "immunix"), data, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// hostile writes a stand-in that records it ran, as another user's
	// program put in its place would.
	hostile := func(t *testing.T, d string, mode os.FileMode) string {
		t.Helper()
		mark := filepath.Join(d, "hostile-ran")
		stub := filepath.Join(d, enforce.StubName)
		if err := os.WriteFile(stub, []byte("#!/bin/sh\ntouch "+mark+"\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(stub, mode); err != nil {
			t.Fatal(err)
		}
		return mark
	}

	for _, tc := range []struct {
		name string
		// setup returns the immunix to run and the hostile stand-in's
		// mark ("" when there is none).
		setup func(t *testing.T) (bin, mark string)
		// standIn: the stand-in runs (and the Go supervisor only when a
		// denial wakes it); note: what -v says of the arrangement.
		standIn bool
		note    string
	}{
		{name: "installed", setup: func(t *testing.T) (string, string) { return filepath.Join(bins, "immunix"), "" }, standIn: true},
		{name: "absent", setup: func(t *testing.T) (string, string) {
			return filepath.Join(copyImmunix(t), "immunix"), ""
		}, note: "no stand-in for the supervisor, which starts at once if the run needs one: immunix-supervise not found"},
		{name: "writable by others", setup: func(t *testing.T) (string, string) {
			d := copyImmunix(t)
			return filepath.Join(d, "immunix"), hostile(t, d, 0o777)
		}, note: "is writable by group or others: not trusted"},
		{name: "in a directory writable by others", setup: func(t *testing.T) (string, string) {
			d := copyImmunix(t)
			mark := hostile(t, d, 0o755)
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(d, "immunix"), mark
		}, note: "is writable by group or others: not trusted"},
		{name: "a link into a directory writable by others", setup: func(t *testing.T) (string, string) {
			// The link and its directory are root's and 0755; the file
			// it names is root's and 0755 too, but another user can
			// rename another file over it.
			d := copyImmunix(t)
			open := filepath.Join(t.TempDir(), "open")
			if err := os.Mkdir(open, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(open, 0o777); err != nil {
				t.Fatal(err)
			}
			mark := hostile(t, open, 0o755)
			if err := os.Symlink(filepath.Join(open, enforce.StubName), filepath.Join(d, enforce.StubName)); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(d, "immunix"), mark
		}, note: "is writable by group or others: not trusted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, mark := tc.setup(t)
			before, err := enforce.KernelAuditEnabled()
			if err != nil {
				t.Fatal(err)
			}
			// A run with nothing to supervise, then one with a denial.
			for _, denial := range []bool{false, true} {
				attack := []string{"opendir", dir}
				if denial {
					attack = append(attack, "read", "/etc/shadow")
				}
				trace := filepath.Join(t.TempDir(), "trace")
				sink := newSyslog(t)
				argv := append([]string{"strace", "-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o", trace,
					bin, "run", "-v", "--profile", prof, "--", exe}, attack...)
				r := runCommand(t, dir, sink, "", argv...)
				got := ops(r.stdout)
				wantOK(t, "confined", got, "opendir")
				alerts := sink.Alerts(t)
				data, err := os.ReadFile(trace)
				if err != nil {
					t.Fatal(err)
				}
				execs := string(data)
				ranStub := strings.Contains(execs, "/"+enforce.StubName+"\"")
				ranGo := strings.Contains(execs, `["immunix", "`+enforce.SupervisorCommand+`"`)
				if denial {
					wantErr(t, "confined", got, "read", "EACCES")
					wantAlert(t, alerts, "read", "/etc/shadow")
				} else if len(alerts) != 0 {
					t.Errorf("alerts for a run with no denial: %v", bodies(alerts))
				}
				if ranStub != tc.standIn {
					t.Errorf("denial=%v: the stand-in ran: %v, want %v", denial, ranStub, tc.standIn)
				}
				// The Go supervisor: at once without the stand-in; with
				// it, only when a denial woke it.
				if want := !tc.standIn || denial; ranGo != want {
					t.Errorf("denial=%v: the Go supervisor started: %v, want %v", denial, ranGo, want)
				}
				if tc.note != "" && !strings.Contains(r.stderr, tc.note) {
					t.Errorf("-v does not say %q:\n%s", tc.note, r.stderr)
				}
				if tc.note == "" && strings.Contains(r.stderr, "no stand-in for the supervisor") {
					t.Errorf("-v says there is no stand-in:\n%s", r.stderr)
				}
				if mark != "" {
					if _, err := os.Stat(mark); err == nil {
						t.Errorf("an untrusted stand-in ran")
					}
				}
				if after, err := enforce.KernelAuditEnabled(); err != nil || after != before {
					t.Errorf("denial=%v: the audit switch is %d after the run, %d before (%v)", denial, after, before, err)
				}
				if t.Failed() {
					t.Logf("stderr:\n%s\nexecs:\n%s", r.stderr, execs)
					return
				}
			}
		})
	}

	// The control: the same hostile stand-in, trusted (owned by root and
	// writable by no one else), runs in the supervisor's place. The
	// ownership check is all that stops the ones above.
	t.Run("control: a trusted stand-in runs", func(t *testing.T) {
		d := copyImmunix(t)
		mark := hostile(t, d, 0o755)
		before, err := enforce.KernelAuditEnabled()
		if err != nil {
			t.Fatal(err)
		}
		runCommand(t, dir, nil, "", filepath.Join(d, "immunix"), "run", "--profile", prof, "--", exe, "opendir", dir)
		// No supervisor released the audit switch: as after a killed run.
		if _, err := os.Stat(auditStateFile); err == nil {
			os.Remove(auditStateFile)
			if err := enforce.SetKernelAuditEnabled(before); err != nil {
				t.Errorf("restore the audit to %d: %v", before, err)
			}
		}
		if _, err := os.Stat(mark); err != nil {
			t.Fatalf("the stand-in beside immunix did not run: %v", err)
		}
	})
}

// TestStandInByHand: immunix-supervise run by hand, or by an immunix of
// another version, says so in one line and exits 2; with no hand-over on
// descriptor 3 there is nothing to supervise.
func TestStandInByHand(t *testing.T) {
	stub := filepath.Join(testenv.Binaries(t), enforce.StubName)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "started by immunix run only, of the same version"},
		{[]string{"1", "1423", "/bin/false", "immunix"}, 2, "of the same version"},
		{[]string{"2", "x", "/bin/false", "immunix"}, 2, "bad record types: x"},
		{[]string{"2", "1423", "/bin/false", "immunix"}, 0, ""},
	} {
		cmd := exec.Command(stub, tc.args...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if code != tc.code || !strings.Contains(string(out), tc.want) || (tc.want != "" && len(lines) != 1) {
			t.Errorf("immunix-supervise %v: exit %d, %q; want exit %d and one line with %q", tc.args, code, out, tc.code, tc.want)
		}
	}
}

// TestStandInBuilds: the stand-in builds warning-free (-Wall -Wextra
// -Werror, scripts/build-supervise.sh) with gcc and clang.
func TestStandInBuilds(t *testing.T) {
	root := testenv.ModuleRoot(t)
	for _, cc := range testenv.Compilers() {
		t.Run(cc, func(t *testing.T) {
			testenv.NeedsTool(t, cc)
			out := filepath.Join(t.TempDir(), enforce.StubName)
			cmd := exec.Command("bash", filepath.Join(root, "scripts", "build-supervise.sh"), out)
			cmd.Env = append(os.Environ(), "CC="+cc)
			if msg, err := cmd.CombinedOutput(); err != nil || len(msg) != 0 {
				t.Fatalf("CC=%s build-supervise.sh: %v\n%s", cc, err, msg)
			}
		})
	}
}
