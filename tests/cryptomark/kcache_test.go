package cryptomark

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/internal/testenv"
)

// trustCacheHook is markd's test hook that keeps every verdict and marks
// every verified root file without the checks (cryptomark/gate): the
// attack tests first prove with it that the change they make would run.
const trustCacheHook = "IMMUNIX_TEST_MARKD_TRUST_CACHE"

// waitIgnoreMark waits (at most 10 s) until the daemon's fanotify group
// holds an ignore mark on path's inode, as the kernel lists it in the
// group's fdinfo ("fanotify ino:HEX ... ignored_mask:HEX"). The gate
// answers an exec before it marks the file, so the exec can be over
// before the mark exists.
func waitIgnoreMark(t *testing.T, d *daemon, path string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("fanotify ino:%x ", st.Ino)
	pid := d.cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l != "anon_inode:[fanotify]" {
				continue
			}
			info, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd.Name()))
			for _, line := range strings.Split(string(info), "\n") {
				if strings.HasPrefix(line, want) && !strings.Contains(line, "ignored_mask:0 ") {
					return
				}
			}
		}
	}
	t.Fatalf("no ignore mark on %s (inode %d) in the daemon's fanotify group after 10 s", path, st.Ino)
}

// stop stops the daemon with SIGTERM and returns its counters line.
func (d *daemon) stop(t *testing.T) string {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	<-d.exited
	for _, l := range strings.Split(d.stderr.String(), "\n") {
		if _, after, ok := strings.Cut(l, "stopped: "); ok {
			return after
		}
	}
	t.Fatalf("markd printed no counters: %s", d.stderr)
	return ""
}

// buildIDOffset is the file offset of a byte of the program's GNU build
// id: changing it changes the file (and breaks its signature) but not
// what the program does.
func buildIDOffset(t *testing.T, path string) int64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		t.Fatalf("%s has no build id", path)
	}
	return int64(s.Offset) + 16 + 4 // past the note header, inside the id
}

// mapwrite builds testdata/mapwrite.c.
func mapwrite(t *testing.T) string {
	t.Helper()
	testenv.NeedsTool(t, "gcc")
	// Not under t.TempDir (mode 0700): another user runs it.
	dir, err := os.MkdirTemp("", "immunix-mapwrite-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	out := filepath.Join(dir, "mapwrite")
	if b, err := exec.Command("gcc", "-O2", "-Wall", "-o", out, "testdata/mapwrite.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc mapwrite.c: %v\n%s", err, b)
	}
	return out
}

// asNobody makes cmd run as uid/gid 65534: another local user.
func asNobody(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}

func ctimeOf(t *testing.T, path string) unix.Timespec {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ctim
}

// settle waits until the file's last change is more than a second old:
// the gate caches nothing about a file changed within the last second
// (the clock-tick rule of cryptomark/gate), so the caches can only be
// seen on a settled file.
func settle(t *testing.T, path string) {
	t.Helper()
	c := ctimeOf(t, path)
	if wait := time.Until(time.Unix(c.Unix()).Add(1100 * time.Millisecond)); wait > 0 {
		time.Sleep(wait)
	}
}

// TestKernelCache: a verified root program gets a fanotify ignore mark,
// so its next execs never reach the daemon; a write or a truncate drops
// the mark, and the changed program is read again and denied.
func TestKernelCache(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	p := program(t, filepath.Join(mnt, "prog"))
	k.sign(t, p)
	pol := writePolicy(t, mnt+" require-signed\n")
	settle(t, p)

	fiveRuns := func(extra ...string) string {
		d := startMarkd(t, append([]string{"--mark", mnt, "--policy", pol, "--keys", k.Dir}, extra...)...)
		for i := range 5 {
			if err := run(p); err != nil {
				t.Fatalf("signed program, run %d: %v", i+1, err)
			}
		}
		return d.stop(t)
	}
	if got := fiveRuns(); !strings.Contains(got, "events=1 ") || !strings.Contains(got, "kernel-cached=1 ") {
		t.Errorf("five runs with the kernel cache: %s; want one event (the first exec) and one mark", got)
	}
	if got := fiveRuns("--no-kernel-cache"); !strings.Contains(got, "events=5 ") || !strings.Contains(got, "kernel-cached=0 ") {
		t.Errorf("five runs with --no-kernel-cache: %s; want five events, no mark", got)
	}

	sink := testenv.NewSyslog(t)
	d := startMarkd(t, "--mark", mnt, "--policy", pol, "--keys", k.Dir, "--syslog-socket", sink.Path)
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	off := buildIDOffset(t, p)
	changed := append([]byte(nil), orig...)
	changed[off] ^= 0x01

	// pwrite of one byte after the mark.
	if err := run(p); err != nil {
		t.Fatalf("signed program: %v", err)
	}
	waitIgnoreMark(t, d, p)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(changed[off:off+1], off)
	f.Close()
	wantEPERM(t, p)
	waitAlert(t, sink, "exe="+p, "signature does not match")

	// Rewritten whole (O_TRUNC): the original runs (verified again and
	// marked again), the changed bytes do not.
	if err := os.WriteFile(p, orig, 0o755); err != nil {
		t.Fatal(err)
	}
	settle(t, p)
	for i := range 2 {
		if err := run(p); err != nil {
			t.Fatalf("signed program restored: %v", err)
		}
		if i == 0 {
			waitIgnoreMark(t, d, p)
		}
	}
	if err := os.WriteFile(p, changed, 0o755); err != nil {
		t.Fatal(err)
	}
	wantEPERM(t, p)
	d.alive(t)
	if got := d.stop(t); !strings.Contains(got, "kernel-cached=2 ") {
		t.Errorf("counters %s: want the program marked twice (before each change)", got)
	}
}

// TestMappedChangeOnTmpfs: another user changes their own signed program
// on tmpfs through a shared mapping after it ran. On tmpfs a page mapped
// by a read fault is writable at once, so the write moves no ctime and
// raises no modify event: a verdict cached by (device, inode, ctime,
// size) would let the changed program run. A user's file on tmpfs is
// therefore read again at every exec.
func TestMappedChangeOnTmpfs(t *testing.T) {
	mnt := mountTmpfs(t)
	os.Chmod(filepath.Dir(mnt), 0o755) // the other user reaches it
	k := newKeys(t)
	mw := mapwrite(t)
	pol := writePolicy(t, mnt+" require-signed\n")
	sink := testenv.NewSyslog(t)
	for _, trusting := range []bool{true, false} {
		name := map[bool]string{true: "cache-trusted", false: "checked"}[trusting]
		t.Run(name, func(t *testing.T) {
			if trusting {
				t.Setenv(trustCacheHook, "1")
			}
			q := othersSignedProgram(t, k, filepath.Join(mnt, name))
			settle(t, q) // only the tmpfs rule can keep the verdict out of the cache
			d := startMarkd(t, "--mark", mnt, "--policy", pol, "--keys", k.Dir, "--syslog-socket", sink.Path)
			if err := run(q); err != nil {
				t.Fatalf("signed program: %v", err)
			}
			before := ctimeOf(t, q)
			off := buildIDOffset(t, q)
			if out, err := asNobody(exec.Command(mw, "flip", q, strconv.FormatInt(off, 10))).CombinedOutput(); err != nil {
				t.Fatalf("mapwrite as uid 65534: %v %s", err, out)
			}
			if code, out := immunix(t, "sign", "--verify", "--keys", k.Dir, q); code != 1 {
				t.Fatalf("the changed program still verifies (exit %d): %s", code, out)
			}
			judgeChanged(t, d, sink, q, before, trusting,
				"this kernel moved the ctime of a tmpfs file changed through a mapping: the attack needs no check here")
		})
	}
}

// othersSignedProgram makes a program at path, signed by k and owned by
// uid/gid 65534: another local user's copy of a signed program.
func othersSignedProgram(t *testing.T, k keys, path string) string {
	t.Helper()
	program(t, path)
	k.sign(t, path)
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	return path
}

// judgeChanged runs a program changed with its ctime at before: with the
// cache trusted (the test hook) the attack must work, so the changed
// program runs (unless the kernel moved the ctime itself: why says how);
// with the gate's checks it is denied and alerted.
func judgeChanged(t *testing.T, d *daemon, sink *testenv.Syslog, path string, before unix.Timespec, trusting bool, why string) {
	t.Helper()
	sameCtime := ctimeOf(t, path) == before
	err := run(path)
	if trusting {
		if !sameCtime {
			t.Skip(why)
		}
		if err != nil {
			t.Fatalf("the attack did not work with the cache trusted: %v", err)
		}
		return
	}
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("changed program (ctime unchanged: %v): %v, want EPERM", sameCtime, err)
	}
	waitAlert(t, sink, "exe="+path, "signature does not match")
	d.alive(t)
}

// mountExt4 mounts a fresh ext4 image (loop device) for this test only:
// a filesystem that write-protects mapped pages until a write fault.
func mountExt4(t *testing.T) string {
	t.Helper()
	testenv.NeedsTool(t, "mkfs.ext4")
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // the other user reaches it
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		testenv.KernelLacks(t, fmt.Sprintf("cannot mount an ext4 image on a loop device: %v %s", err, out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	os.Chmod(dir, 0o755)
	return dir
}

// TestWriterAcrossVerification: another user holds a shared writable
// mapping of their signed program, already written once (so its page is
// writable), while the program is exec'd: the kernel sends the gate the
// permission event, the gate verifies the file as it is, and the exec
// fails with ETXTBSY. Then the user changes the program through the page
// (no fault, so no ctime), unmaps and execs it: a verdict cached while a
// writer existed would let it run. The gate keeps no verdict while
// anyone holds the file open for writing.
func TestWriterAcrossVerification(t *testing.T) {
	testenv.NeedsRoot(t)
	testenv.NeedsFanotifyExecPerm(t)
	mnt := mountExt4(t)
	k := newKeys(t)
	mw := mapwrite(t)
	pol := writePolicy(t, mnt+" require-signed\n")
	sink := testenv.NewSyslog(t)
	for _, trusting := range []bool{true, false} {
		name := map[bool]string{true: "cache-trusted", false: "checked"}[trusting]
		t.Run(name, func(t *testing.T) {
			if trusting {
				t.Setenv(trustCacheHook, "1")
			}
			u := othersSignedProgram(t, k, filepath.Join(mnt, name))
			d := startMarkd(t, "--mark", mnt, "--policy", pol, "--keys", k.Dir, "--syslog-socket", sink.Path)
			holder := asNobody(exec.Command(mw, "hold", u, strconv.FormatInt(buildIDOffset(t, u), 10)))
			in, _ := holder.StdinPipe()
			outPipe, _ := holder.StdoutPipe()
			if err := holder.Start(); err != nil {
				t.Fatal(err)
			}
			out := bufio.NewReader(outPipe)
			if l, _ := out.ReadString('\n'); l != "ready\n" {
				t.Fatalf("mapwrite hold said %q", l)
			}
			// The write fault moved the ctime: let it age, so that only the
			// writers check can keep the verdict out of the cache.
			settle(t, u)
			// The gate reads the file now, while it is mapped for writing.
			if err := run(u); !errors.Is(err, syscall.ETXTBSY) {
				t.Fatalf("exec while mapped for writing: %v, want ETXTBSY", err)
			}
			before := ctimeOf(t, u)
			fmt.Fprintln(in, "go")
			if l, _ := out.ReadString('\n'); l != "done\n" {
				t.Fatalf("mapwrite hold said %q", l)
			}
			if err := holder.Wait(); err != nil {
				t.Fatalf("mapwrite hold: %v", err)
			}
			judgeChanged(t, d, sink, u, before, trusting,
				"the page was written back (and write-protected) before the change: the attack needs no check this time")
		})
	}
}
