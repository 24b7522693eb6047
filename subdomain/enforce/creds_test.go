package enforce

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const statusRoot = `Name:	cat
Umask:	0022
State:	R (running)
Tgid:	42
Pid:	42
Uid:	0	0	0	0
Gid:	0	0	0	0
FDSize:	64
Groups:	
NStgid:	42
CapInh:	0000000000000000
CapPrm:	000001ffffffffff
CapEff:	000001ffffffffff
CapBnd:	000001ffffffffff
CapAmb:	0000000000000000
NoNewPrivs:	1
`

func TestParseCreds(t *testing.T) {
	rootC := &creds{groups: []uint32{}, capPrm: 0x1ffffffffff, capEff: 0x1ffffffffff}
	user := strings.NewReplacer("Uid:\t0\t0\t0\t0", "Uid:\t1000\t1001\t1002\t1003",
		"Gid:\t0\t0\t0\t0", "Gid:\t100\t101\t102\t103", "Groups:\t", "Groups:\t4 24 1000 ",
		"CapPrm:\t000001ffffffffff", "CapPrm:\t0000000000000000", "CapEff:\t000001ffffffffff", "CapEff:\t0000000000000000",
		"CapInh:\t0000000000000000", "CapInh:\t0000000000000400").Replace(statusRoot)
	for _, tc := range []struct {
		name, in string
		want     *creds // nil: an error
	}{
		{"root", statusRoot, rootC},
		{"user", user, &creds{uid: [4]uint32{1000, 1001, 1002, 1003}, gid: [4]uint32{100, 101, 102, 103},
			groups: []uint32{4, 24, 1000}, capInh: 0x400}},
		{"empty", "", nil},
		{"short: no CapEff", strings.Replace(statusRoot, "CapEff:", "CapEfx:", 1), nil},
		{"truncated", statusRoot[:strings.Index(statusRoot, "CapInh")], nil},
		{"three uids", strings.Replace(statusRoot, "Uid:\t0\t0\t0\t0", "Uid:\t0\t0\t0", 1), nil},
		{"five gids", strings.Replace(statusRoot, "Gid:\t0\t0\t0\t0", "Gid:\t0\t0\t0\t0\t0", 1), nil},
		{"uid -1", strings.Replace(statusRoot, "Uid:\t0\t0\t0\t0", "Uid:\t0\t4294967295\t0\t0", 1), nil},
		{"uid over 32 bits", strings.Replace(statusRoot, "Uid:\t0\t0\t0\t0", "Uid:\t0\t4294967296\t0\t0", 1), nil},
		{"negative uid", strings.Replace(statusRoot, "Uid:\t0\t0\t0\t0", "Uid:\t0\t-5\t0\t0", 1), nil},
		{"group not a number", strings.Replace(statusRoot, "Groups:\t", "Groups:\t4 x", 1), nil},
		{"group -1", strings.Replace(statusRoot, "Groups:\t", "Groups:\t4294967295", 1), nil},
		{"Uid twice", statusRoot + "Uid:\t1000\t1000\t1000\t1000\n", nil},
		{"CapEff twice", statusRoot + "CapEff:\t0000000000000000\n", nil},
		{"cap short", strings.Replace(statusRoot, "CapEff:\t000001ffffffffff", "CapEff:\t1ff", 1), nil},
		{"cap not hex", strings.Replace(statusRoot, "CapEff:\t000001ffffffffff", "CapEff:\t000001fffffffffg", 1), nil},
		{"cap two words", strings.Replace(statusRoot, "CapEff:\t000001ffffffffff", "CapEff:\t000001ffffffffff 0", 1), nil},
		{"too many groups", strings.Replace(statusRoot, "Groups:\t", "Groups:\t"+strings.Repeat("1 ", ngroupsMax+1), 1), nil},
	} {
		got, err := parseCreds([]byte(tc.in))
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%s: parsed as %v, want an error", tc.name, got)
		case tc.want != nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != nil && !got.equal(tc.want):
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseCredsOwn(t *testing.T) {
	c, err := readCreds("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	if int(c.uid[0]) != os.Getuid() || int(c.uid[1]) != os.Geteuid() || int(c.gid[1]) != os.Getegid() {
		t.Errorf("own creds %v: uid %d euid %d egid %d", c, os.Getuid(), os.Geteuid(), os.Getegid())
	}
}

func needsRoot(t *testing.T) *creds {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: switches a thread to another user")
	}
	cur, err := readCreds("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	return cur
}

// TestCredThreadSwitch: runAs's thread has the creds asked for (its own
// /proc/thread-self/status), acts with them (a root-owned 0600 file
// cannot be opened, a file of uid 1000 can be chmod'ed), and no other
// thread of the process changes, during or after.
func TestCredThreadSwitch(t *testing.T) {
	cur := needsRoot(t)
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // uid 1000 may look names up
	os.Chmod(dir, 0o755)
	secret, mine := filepath.Join(dir, "secret"), filepath.Join(dir, "mine")
	os.WriteFile(secret, []byte("x"), 0o600)
	os.WriteFile(mine, []byte("x"), 0o600)
	os.Chown(mine, 1000, 1000)
	want := &creds{uid: [4]uint32{1000, 1000, 1000, 1000}, gid: [4]uint32{1000, 1000, 1000, 1000}, groups: []uint32{1000, 24}}
	var inside *creds
	var openErr, chmodErr error
	var others []string
	if err := runAs(want, cur, func() {
		var err error
		if inside, err = readCreds("/proc/thread-self/status"); err != nil {
			t.Error(err)
		}
		_, openErr = os.Open(secret)
		chmodErr = unix.Chmod(mine, 0o640)
		others = otherThreads(t, unix.Gettid())
	}); err != nil {
		t.Fatal(err)
	}
	if d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); d != 0 {
		t.Errorf("the process is dumpable (%d) after a thread changed user", d)
	}
	if inside == nil || !inside.same(want) || inside.capPrm != cur.capPrm {
		t.Errorf("the thread has %v, want %v", inside, want)
	}
	if openErr == nil {
		t.Errorf("uid 1000 opened a root-owned 0600 file")
	}
	if chmodErr != nil {
		t.Errorf("uid 1000 could not chmod its own file: %v", chmodErr)
	}
	if fi, _ := os.Stat(mine); fi == nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("chmod not done: %v", fi)
	}
	for _, o := range others {
		t.Errorf("while it ran, another thread had other creds: %s", o)
	}
	// The thread ended with its goroutine.
	for _, o := range settled(t) {
		t.Errorf("after it ran: %s", o)
	}
}

// settled waits (up to 5 s) for the switched threads to end and returns
// the others that still have other creds.
func settled(t *testing.T) []string {
	var o []string
	for range 100 {
		if o = otherThreads(t, -1); len(o) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return o
}

// otherThreads lists the threads of the process other than skip whose
// creds are not the process's original ones (root's).
func otherThreads(t *testing.T, skip int) []string {
	var out []string
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Error(err)
		return nil
	}
	for _, e := range ents {
		if e.Name() == strconv.Itoa(skip) {
			continue
		}
		c, err := readCreds("/proc/self/task/" + e.Name() + "/status")
		if err != nil {
			continue // ended meanwhile
		}
		if c.uid != [4]uint32{} || c.gid != [4]uint32{} {
			out = append(out, e.Name()+": "+c.String())
		}
	}
	return out
}

// TestCredThreadCaps: capabilities are kept or dropped as asked, and a
// uid-0 thread without CAP_CHOWN cannot chown.
func TestCredThreadCaps(t *testing.T) {
	cur := needsRoot(t)
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("x"), 0o600)
	noChown := *cur
	noChown.capEff &^= 1 << unix.CAP_CHOWN
	noChown.capPrm &^= 1 << unix.CAP_CHOWN
	var err1 error
	if err := runAs(&noChown, cur, func() { err1 = unix.Chown(f, 1000, -1) }); err != nil {
		t.Fatal(err)
	}
	if err1 != unix.EPERM {
		t.Errorf("chown without CAP_CHOWN: %v, want EPERM", err1)
	}
	// uid 1000 keeping CAP_CHOWN (as a server that kept it with
	// PR_SET_KEEPCAPS) may chown.
	keep := &creds{uid: [4]uint32{1000, 1000, 1000, 1000}, gid: [4]uint32{1000, 1000, 1000, 1000}, groups: []uint32{},
		capEff: 1 << unix.CAP_CHOWN, capPrm: 1 << unix.CAP_CHOWN}
	if err := runAs(keep, cur, func() { err1 = unix.Chown(f, 1000, -1) }); err != nil {
		t.Fatal(err)
	}
	if err1 != nil {
		t.Errorf("uid 1000 with CAP_CHOWN: chown %v", err1)
	}
	// An odd fs uid (a file server's setfsuid).
	fs := &creds{uid: [4]uint32{1000, 1000, 1000, 2000}, gid: [4]uint32{1000, 1000, 1000, 2000}, groups: []uint32{}}
	var got *creds
	if err := runAs(fs, cur, func() { got, _ = readCreds("/proc/thread-self/status") }); err != nil {
		t.Fatal(err)
	}
	if got == nil || !got.same(fs) {
		t.Errorf("fs ids: %v, want %v", got, fs)
	}
}

// TestCredThreadRefused: creds the thread cannot take (more
// capabilities than it has) are an error, and fn does not run.
func TestCredThreadRefused(t *testing.T) {
	cur := needsRoot(t)
	more := *cur
	more.capPrm = ^uint64(0)
	more.capEff = ^uint64(0)
	ran := false
	if err := runAs(&more, cur, func() { ran = true }); err == nil || ran {
		t.Errorf("creds with unknown capabilities: err %v, ran %v", err, ran)
	}
}

// TestCredThreadConcurrent: many switches at once, to several users,
// each sees only its own.
func TestCredThreadConcurrent(t *testing.T) {
	cur := needsRoot(t)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := uint32(1000 + i%4)
			want := &creds{uid: [4]uint32{id, id, id, id}, gid: [4]uint32{id, id, id, id}, groups: []uint32{id}}
			var got *creds
			if err := runAs(want, cur, func() { got, _ = readCreds("/proc/thread-self/status") }); err != nil {
				t.Error(err)
				return
			}
			if got == nil || !got.same(want) {
				t.Errorf("got %v, want %v", got, want)
			}
		}()
	}
	wg.Wait()
	for _, o := range settled(t) {
		t.Errorf("after: %s", o)
	}
}

// benchCreds returns the benchmark thread's credentials and those of
// uid 1000 to switch to; it skips unless root.
func benchCreds(b *testing.B) (cur, want *creds) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	cur, err := readCreds("/proc/thread-self/status")
	if err != nil {
		b.Fatal(err)
	}
	return cur, &creds{uid: [4]uint32{1000, 1000, 1000, 1000}, gid: [4]uint32{1000, 1000, 1000, 1000}, groups: []uint32{1000}}
}

// BenchmarkCredThread: what runAs costs (a thread made, switched to
// uid 1000 and verified, ended) against calling fn on the current
// thread, which the supervisor does when the program's credentials
// are its own.
//
//	go test -run XXX -bench CredThread ./subdomain/enforce
func BenchmarkCredThread(b *testing.B) {
	cur, want := benchCreds(b)
	for b.Loop() {
		if err := runAs(want, cur, func() {}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadCreds: reading and parsing a thread's creds, which the
// supervisor does for every call.
func BenchmarkReadCreds(b *testing.B) {
	for b.Loop() {
		if _, err := readCreds("/proc/thread-self/status"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCredThreadBack: asCaller gives the thread its own credentials
// back after each call, whichever were taken on (users, groups, fs
// IDs, fewer capabilities), and after a switch that failed.
func TestCredThreadBack(t *testing.T) {
	cur := needsRoot(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// given back only as it was: unlocked on success below
		for i, c := range []*creds{
			{uid: [4]uint32{1000, 1000, 1000, 1000}, gid: [4]uint32{1000, 1000, 1000, 1000}, groups: []uint32{1000, 24}},
			{uid: [4]uint32{1000, 1001, 1002, 1003}, gid: [4]uint32{5, 6, 7, 8}, groups: []uint32{}, capEff: 1 << unix.CAP_FOWNER},
			{uid: cur.uid, gid: cur.gid, groups: cur.groups, capEff: cur.capEff &^ (1 << unix.CAP_CHOWN)},
			{uid: [4]uint32{1000, 1000, 1000, 1000}, gid: [4]uint32{1000, 1000, 1000, 1000}, groups: []uint32{}, capEff: ^uint64(0)}, // fails
		} {
			var inside *creds
			err := asCaller(c, cur, func() { inside, _ = readCreds("/proc/thread-self/status") })
			if (err != nil) != (i == 3) {
				t.Errorf("%d: %v", i, err)
			}
			if err == nil && (inside == nil || !inside.same(c)) {
				t.Errorf("%d: inside %v, want %v", i, inside, c)
			}
			if now, err := readCreds("/proc/thread-self/status"); err != nil || !now.equal(cur) {
				t.Errorf("%d: after, the thread has %v (%v), want %v", i, now, err, cur)
				runtime.Goexit() // the thread stays locked: the runtime ends it
			}
			if k, _ := unix.PrctlRetInt(unix.PR_GET_KEEPCAPS, 0, 0, 0, 0); k != 0 {
				t.Errorf("%d: PR_SET_KEEPCAPS left on", i)
			}
		}
		runtime.UnlockOSThread()
	}()
	<-done
}

// TestCredThreadBackFails: when the thread cannot take its own
// credentials back, asCaller panics (the supervisor ends: its calls then
// fail for the program) rather than serving the next call with the
// program's. The way back is made impossible by asking for a permitted
// capability the thread never had (capset refuses to grow the set).
func TestCredThreadBackFails(t *testing.T) {
	cur := needsRoot(t)
	done := make(chan any, 1)
	go func() {
		// Never unlocked: the thread, whatever it holds now, ends with
		// the goroutine.
		runtime.LockOSThread()
		defer func() { done <- recover() }()
		own := *cur
		own.capPrm |= 1 << 63
		asCaller(&creds{uid: [4]uint32{1000, 1000, 1000, 1000}, gid: [4]uint32{1000, 1000, 1000, 1000}, groups: []uint32{}}, &own, func() {})
	}()
	r := <-done
	if r == nil || !strings.Contains(fmt.Sprint(r), "cannot take its own credentials back") {
		t.Fatalf("asCaller with no way back: recovered %v, want its panic", r)
	}
}

// BenchmarkAsCaller: what the supervisor adds to a call whose program
// has other credentials: its thread switched to uid 1000, verified, and
// back, verified.
//
//	go test -run XXX -bench 'AsCaller|CredThread|ReadCreds' ./subdomain/enforce
func BenchmarkAsCaller(b *testing.B) {
	cur, want := benchCreds(b)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for b.Loop() {
		if err := asCaller(want, cur, func() {}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCredThreadUnsignalable: while the thread acts as uid 1000, a
// process of uid 1000 cannot signal it (the kernel checks the target
// thread's real and saved user IDs, which stay the supervisor's); it
// can signal a thread whose user IDs are all 1000, which is why they are
// not all switched.
func TestCredThreadUnsignalable(t *testing.T) {
	cur := needsRoot(t)
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	// probe runs, as uid 1000, kill -0 TID: "signal" when allowed.
	probe := func(tid int) string {
		done := make(chan string)
		go func() { // on another thread: the caller's is locked
			cmd := exec.Command("sh", "-c", "kill -0 "+strconv.Itoa(tid)+" 2>/dev/null && echo signal; true")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1000, Gid: 1000}}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("probe: %v %s", err, out)
			}
			done <- strings.TrimSpace(string(out))
		}()
		return <-done
	}
	want := &creds{uid: [4]uint32{1000, 1000, 1000, 1000}, gid: [4]uint32{1000, 1000, 1000, 1000}, groups: []uint32{1000}}
	var got string
	if err := runAs(want, cur, func() { got = probe(unix.Gettid()) }); err != nil {
		t.Fatal(err)
	}
	if got != "" {
		t.Errorf("a uid 1000 process could signal the thread acting as uid 1000: %q", got)
	}
	// The control: a thread with every user ID 1000 (ended after).
	var control func(done chan<- string)
	control = func(done chan<- string) {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if unix.Gettid() == unix.Getpid() {
			inner := make(chan string)
			go control(inner) // elsewhere: this goroutine holds the main thread meanwhile
			done <- <-inner
			runtime.UnlockOSThread()
			return
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 1000, 1000, 1000); e != 0 {
			done <- e.Error()
			return
		}
		done <- probe(unix.Gettid())
	}
	done := make(chan string)
	go control(done)
	if c := <-done; c != "signal" {
		t.Errorf("control: a uid 1000 process could not signal a thread of uid 1000: %q", c)
	}
}
