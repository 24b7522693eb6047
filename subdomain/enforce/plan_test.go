package enforce

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"

	"github.com/immunix/immunix/subdomain"
)

func mustParse(t *testing.T, text string) *subdomain.Profile {
	t.Helper()
	p, err := subdomain.Parse("test", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNoLandlock simulates a kernel without Landlock through the
// KernelABI hook: enforcing must refuse with a reason, not run unconfined.
func TestNoLandlock(t *testing.T) {
	old := KernelABI
	KernelABI = func() int { return 0 }
	defer func() { KernelABI = old }()
	_, err := Compile(mustParse(t, "# /bin/true 1\n/etc/x r\n"), KernelABI())
	if err == nil || !strings.Contains(err.Error(), "no Landlock") || !strings.Contains(err.Error(), "--complain") {
		t.Fatalf("Compile on ABI 0 = %v", err)
	}
}

func TestNotesPerABI(t *testing.T) {
	p := mustParse(t, "# /bin/true 1\n/etc/hostname r\nnetwork tcp connect 80\nsignal outside\nnetwork unix abstract\n")
	for _, tt := range []struct {
		abi       int
		want, not string
		handleNet bool
		audit     bool
	}{
		{1, "ABI 1 < 2: renames", "", false, false},
		{3, "ABI 3 < 4: TCP bind/connect rules are not enforced", "ABI 3 < 3", false, false},
		{5, "ABI 5 < 7: denials are not audited", "TCP", true, false},
		{5, "ABI 5 < 7", "", true, false},
		{7, "pathname unix sockets", "ABI 7 <", true, true},
	} {
		pl, err := Compile(p, tt.abi)
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(pl.Notes, "\n")
		if !strings.Contains(notes, tt.want) || tt.not != "" && strings.Contains(notes, tt.not) {
			t.Errorf("ABI %d notes:\n%s\nwant %q, not %q", tt.abi, notes, tt.want, tt.not)
		}
		if pl.HandleNet != tt.handleNet || pl.Audit != tt.audit {
			t.Errorf("ABI %d: HandleNet %v Audit %v", tt.abi, pl.HandleNet, pl.Audit)
		}
		if pl.Handled&^abiFS[min(tt.abi, 7)] != 0 {
			t.Errorf("ABI %d handles rights the kernel lacks: %v", tt.abi, landlock.AccessFSSet(pl.Handled))
		}
	}
}

func TestRights(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "conf"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "log"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(dir, "spool"), 0o755)
	p := mustParse(t, "# /bin/true 1\n"+
		dir+"/conf r\n"+
		dir+"/log wc\n"+
		dir+"/new.txt rwc\n"+
		dir+"/spool/* rwc\n"+
		dir+"/absent r\n"+
		"/dev/null rw\n"+
		"/usr/bin/env ix\n"+
		"syscall mount\n")
	pl, err := Compile(p, 7)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, g := range pl.Paths {
		got[g.Path] = g.Rights
	}
	check := func(path string, want, not uint64) {
		t.Helper()
		r, ok := got[path]
		if !ok {
			t.Errorf("no grant on %s (plan:\n%s)", path, pl)
			return
		}
		if r&want != want || r&not != 0 {
			t.Errorf("%s: rights %v, want %v and not %v", path, landlock.AccessFSSet(r), landlock.AccessFSSet(want), landlock.AccessFSSet(not))
		}
	}
	check(dir+"/conf", ll.AccessFSReadFile, ll.AccessFSWriteFile|ll.AccessFSExecute)
	check(dir+"/log", ll.AccessFSWriteFile|ll.AccessFSTruncate, ll.AccessFSReadFile)
	check(dir, ll.AccessFSMakeReg|ll.AccessFSWriteFile|ll.AccessFSReadFile, ll.AccessFSExecute) // new.txt is created in dir
	check(dir+"/spool", ll.AccessFSMakeReg|ll.AccessFSRemoveFile|ll.AccessFSReadDir, ll.AccessFSExecute)
	check("/dev/null", ll.AccessFSReadFile|ll.AccessFSWriteFile|ll.AccessFSIoctlDev, 0)
	check("/usr/bin/env", ll.AccessFSExecute|ll.AccessFSReadFile, ll.AccessFSWriteFile)
	check("/bin/true", ll.AccessFSExecute, 0) // the program itself
	if _, ok := got[dir+"/absent"]; ok {
		t.Error("a missing path got a grant")
	}
	if !strings.Contains(strings.Join(pl.Notes, "\n"), "do not exist now") {
		t.Errorf("no note on the missing path: %v", pl.Notes)
	}
	for _, b := range pl.Blocked {
		if b == "mount" {
			t.Error("granted mount is blocked")
		}
	}
	if len(pl.Blocked) != len(subdomain.DangerousSyscalls)-1 {
		t.Errorf("blocked %d calls, want %d", len(pl.Blocked), len(subdomain.DangerousSyscalls)-1)
	}
}

func TestAuditFields(t *testing.T) {
	f := ParseAuditFields(`audit(1795726290.861:2): domain=16ad3e623 blockers=fs.read_file path="/dev/null" dev="devtmpfs" ino=3`)
	if f["domain"] != "16ad3e623" || f["blockers"] != "fs.read_file" || f["path"] != "/dev/null" || f["ino"] != "3" {
		t.Errorf("fields = %v", f)
	}
	// audit writes strings with odd bytes in hex
	f = ParseAuditFields(`audit(1.2:3): domain=1 blockers=fs.read_file path=2F746D702F6120620A ino=3`)
	if f["path"] != "/tmp/a b\n" {
		t.Errorf("hex path = %q", f["path"])
	}
}

// TestScopeRefused: below Landlock ABI 6 a profile that relies on the
// signal and abstract unix scopes is refused, not run without them.
func TestScopeRefused(t *testing.T) {
	_, err := Compile(mustParse(t, "# /bin/true 1\n/etc/hostname r\n"), 5)
	if err == nil || !strings.Contains(err.Error(), "ABI 5 cannot keep the program from signalling") {
		t.Fatalf("Compile on ABI 5 = %v", err)
	}
	if _, err := Compile(mustParse(t, "# /bin/true 1\n/etc/hostname r\nsignal outside\n"), 5); err == nil {
		t.Fatalf("Compile on ABI 5 without network unix abstract succeeded")
	}
}

// TestIssue13Rights: a directory r rule lists it and reads nothing
// beneath; /proc/@{pid} rules are the program's own /proc/self entries
// and other /proc patterns are not granted; a c rule under a missing
// directory grants nothing (not the nearest ancestor).
func TestIssue13Rights(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data", "sub"), 0o755)
	p := mustParse(t, "# /bin/true 1\n"+
		"/ r\n"+
		dir+"/data/ r\n"+
		"/proc/@{pid}/oom_score_adj w\n"+
		"/proc/@{pid}/task/@{pid}/comm r\n"+
		"/proc/*/stat r\n"+
		dir+"/missing/app/state.db wc\n"+
		dir+"/newdir/ c\n"+
		"signal outside\nnetwork unix abstract\nnetwork udp\n")
	pl, err := Compile(p, 7)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, g := range pl.Paths {
		got[g.Path] = g.Rights
	}
	want := map[string]uint64{
		"/":                        ll.AccessFSReadDir,
		dir + "/data":              ll.AccessFSReadDir,
		"/proc/self/oom_score_adj": ll.AccessFSWriteFile | ll.AccessFSTruncate,
		"/proc/self/task":          ll.AccessFSReadFile | ll.AccessFSReadDir,
		dir:                        dirMakeRights,
	}
	for path, r := range want {
		if got[path] != r {
			t.Errorf("%s: %v, want %v", path, landlock.AccessFSSet(got[path]), landlock.AccessFSSet(r))
		}
	}
	for _, path := range []string{"/proc", dir + "/missing", dir + "/missing/app"} {
		if r, ok := got[path]; ok {
			t.Errorf("%s granted %v", path, landlock.AccessFSSet(r))
		}
	}
	if len(got) != len(want)+2 { // + the program and its ELF interpreter
		t.Errorf("grants %v", pl)
	}
	notes := strings.Join(pl.Notes, "\n")
	for _, n := range []string{"/proc/*/stat", "missing/app/state.db", "network udp", "signal outside"} {
		if !strings.Contains(notes, n) {
			t.Errorf("no note naming %q:\n%s", n, notes)
		}
	}
	if pl.Scoped != 0 || !pl.UDP {
		t.Errorf("scopes %#x, UDP %v; want 0 (signal outside, network unix abstract) and true", pl.Scoped, pl.UDP)
	}
	pl, _ = Compile(mustParse(t, "# /bin/true 1\n"), 7)
	if pl.Scoped != ll.ScopeSignal|ll.ScopeAbstractUnixSocket || pl.UDP {
		t.Errorf("default scopes %#x, UDP %v", pl.Scoped, pl.UDP)
	}
}
