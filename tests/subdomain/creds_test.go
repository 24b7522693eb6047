package subdomain_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The supervisor performs a confined program's metadata calls (issue 13
// item 1): it must do so with the program's credentials, not its own
// (root's), or a program that dropped to an ordinary user would change,
// through a w rule, files the kernel would not let it change (a
// confused deputy). A program started as root drops to uid 1000
// (groups, gids and uids) and attacks a root-owned 0600 file its
// profile grants w on: each call gets from the supervisor what the
// kernel answers the same program unconfined, the file is unchanged,
// and no alert is raised (the kernel said no, as it would have
// unconfined). A file uid 1000 owns it may change.
func TestEscapeMetadataCredentials(t *testing.T) {
	dir, exe := attackSetup(t)
	os.Chmod(dir, 0o755) // uid 1000 may look names up below it
	work := filepath.Join(dir, "work")
	os.Mkdir(work, 0o755)
	rootf := filepath.Join(work, "root-owned")
	own := filepath.Join(work, "own")
	reset := func() {
		for f, uid := range map[string]int{rootf: 0, own: 1000} {
			os.Remove(f)
			os.WriteFile(f, []byte("x"), 0o600)
			os.Chmod(f, 0o600)
			os.Chown(f, uid, uid)
		}
	}
	// A file in a directory only root may search.
	private := filepath.Join(work, "private")
	os.Mkdir(private, 0o700)
	hidden := filepath.Join(private, "f")
	// As root, the program writes the files: w rules on them.
	prof, _ := learnProfile(t, dir, "creds.sd", exe, "create", rootf, "create", own, "create", hidden)
	attack := []string{exe, "drop", "1000", "chmod", rootf, "0666", "chown", rootf, "1000",
		"utimens", rootf, "setxattr", rootf}
	ops := []string{"chmod", "chown", "utimens", "setxattr"}
	unchanged := func(what string) {
		t.Helper()
		fi, err := os.Stat(rootf)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o600 || st.Uid != 0 || fi.ModTime().Unix() == 1 {
			t.Errorf("%s: the root-owned file changed: mode %v uid %d mtime %v", what, fi.Mode(), st.Uid, fi.ModTime())
		}
		for _, x := range []string{"user.immunix", "security.capability"} {
			if _, err := unix.Getxattr(rootf, x, make([]byte, 64)); err == nil {
				t.Errorf("%s: the root-owned file got %s", what, x)
			}
		}
	}
	reset()
	u := unconfined(t, dir, attack...)
	wantOK(t, "unconfined", u, "drop")
	for _, op := range ops {
		if u[op] == "" || u[op][:2] == "ok" {
			t.Fatalf("unconfined uid 1000: %s = %q, want an error (all: %v)", op, u[op], u)
		}
	}
	unchanged("unconfined")
	reset()
	sink := newSyslog(t)
	got, alerts, r := confinedOps(t, dir, prof, sink, attack...)
	wantOK(t, "confined", got, "drop")
	for _, op := range ops {
		wantErr(t, "confined uid 1000, what the kernel answers it unconfined", got, op, u[op])
	}
	unchanged("confined")
	if len(alerts) != 0 {
		t.Errorf("alerts for calls the kernel refused (as it does unconfined): %v", bodies(alerts))
	}
	// The lookup is the program's too: a directory it may not search
	// (EACCES unconfined) hides the file from it confined.
	u = unconfined(t, dir, exe, "drop", "1000", "chmod", hidden, "0666")
	wantErr(t, "unconfined uid 1000, in a root 0700 directory", u, "chmod", "EACCES")
	sink = newSyslog(t)
	got, alerts, _ = confinedOps(t, dir, prof, sink, exe, "drop", "1000", "chmod", hidden, "0666")
	wantErr(t, "confined uid 1000, in a root 0700 directory", got, "chmod", "EACCES")
	if len(alerts) != 0 {
		t.Errorf("alerts for a lookup the kernel refused: %v", bodies(alerts))
	}
	if fi, err := os.Stat(hidden); err != nil || fi.Mode().Perm() == 0o666 {
		t.Errorf("the hidden file changed: %v %v", fi, err)
	}
	// security.capability is refused by the profile's rule (a
	// privileged copy) before the kernel is asked: alerted, as is a
	// listen on no port; the alerts name the program's uid.
	reset()
	sink = newSyslog(t)
	got, alerts, _ = confinedOps(t, dir, prof, sink, exe, "drop", "1000", "setcap", rootf, "listen0")
	wantErr(t, "confined uid 1000", got, "setcap", "EPERM")
	wantErr(t, "confined uid 1000", got, "listen0", "EPERM")
	wantAlert(t, alerts, "setxattr", rootf)
	wantAlert(t, alerts, "listen", "0")
	for _, a := range alerts {
		if a.UID != 1000 {
			t.Errorf("the alert names uid %d, not the program's (1000): %s", a.UID, a.Body())
		}
	}
	unchanged("confined setcap")
	// Its own file: changed, as the kernel lets it, with no alert.
	reset()
	sink = newSyslog(t)
	got, alerts, _ = confinedOps(t, dir, prof, sink, exe, "drop", "1000", "chmod", own, "0640", "utimens", own, "chown", own, "1000")
	for _, op := range []string{"drop", "chmod", "utimens", "chown"} {
		wantOK(t, "confined uid 1000 on its own file", got, op)
	}
	if fi, err := os.Stat(own); err != nil || fi.Mode().Perm() != 0o640 || fi.ModTime().Unix() != 1 {
		t.Errorf("its own file not changed as asked: %v %v", fi, err)
	}
	if len(alerts) != 0 {
		t.Errorf("alerts for allowed changes: %v", bodies(alerts))
	}
	// uid 1000 keeping CAP_FOWNER (3) only: it may chmod the root file,
	// not chown it, confined as unconfined: the supervisor takes on
	// its capabilities too.
	reset()
	capOps := []string{exe, "dropcap", "1000", "3", "chmod", rootf, "0640", "chown", rootf, "1000"}
	u = unconfined(t, dir, capOps...)
	wantOK(t, "unconfined", u, "dropcap")
	wantOK(t, "unconfined, CAP_FOWNER", u, "chmod")
	wantErr(t, "unconfined, no CAP_CHOWN", u, "chown", "EPERM")
	reset()
	sink = newSyslog(t)
	got, alerts, _ = confinedOps(t, dir, prof, sink, capOps...)
	wantOK(t, "confined", got, "dropcap")
	wantOK(t, "confined, CAP_FOWNER", got, "chmod")
	wantErr(t, "confined, no CAP_CHOWN", got, "chown", "EPERM")
	if fi, err := os.Stat(rootf); err != nil || fi.Mode().Perm() != 0o640 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("root file: %v %v, want 0640 owned by root", fi, err)
	}
	if len(alerts) != 0 {
		t.Errorf("alerts: %v", bodies(alerts))
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
}
