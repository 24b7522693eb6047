package cryptomark

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/immunix/immunix/cryptomark"
	"github.com/immunix/immunix/internal/testenv"
)

// blockedInExec waits (bounded) until pid sleeps inside execve (syscall
// 59 on x86-64 in /proc/PID/syscall): the gate has not answered it.
func blockedInExec(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
		if err == nil && strings.HasPrefix(string(b), "59 ") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
	t.Fatalf("pid %d never blocked in execve (syscall: %q)", pid, b)
}

// TestKillReleasesBlockedExecs: with the daemon stopped (SIGSTOP), execs
// from the marked filesystem wait; kill -9 of the daemon lets every one
// of them complete within a second (the kernel answers the pending events
// when the fanotify descriptor closes).
func TestKillReleasesBlockedExecs(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	prog := program(t, filepath.Join(mnt, "prog"))
	k.sign(t, prog)
	d := startMarkd(t, "--mark", mnt, "--policy", writePolicy(t, "/ require-signed\n"), "--keys", k.Dir)
	if err := d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var cmds []*exec.Cmd
	for i := range n {
		// sh is not on the marked filesystem; its exec of prog is.
		c := exec.Command("/bin/sh", "-c", `exec "$0" ok`, prog)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
		_ = i
	}
	for _, c := range cmds {
		blockedInExec(t, c.Process.Pid)
	}
	killed := time.Now()
	d.cmd.Process.Kill()
	var wg sync.WaitGroup
	late := make(chan string, n)
	for _, c := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Wait()
			if took := time.Since(killed); took > time.Second || err != nil {
				late <- fmt.Sprintf("pid %d: %v after %v", c.Process.Pid, err, took)
			}
		}()
	}
	wg.Wait()
	close(late)
	for l := range late {
		t.Errorf("blocked exec not released within 1s of kill -9: %s", l)
	}
}

// TestStuckVerificationAnsweredByPolicy: a verification that cannot
// finish in time (a 64 GiB sparse file whose trailer names the trusted
// key) is answered by policy, deny, within the timeout, and the gate
// goes on answering other programs meanwhile.
func TestStuckVerificationAnsweredByPolicy(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	ok := program(t, filepath.Join(mnt, "ok"))
	k.sign(t, ok)
	huge := filepath.Join(mnt, "huge")
	hdr, _ := os.ReadFile(ok)
	f, err := os.OpenFile(huge, os.O_CREATE|os.O_RDWR, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(hdr[:4096])
	const size = 64 << 30
	priv, err := cryptomark.LoadPrivateKey(k.Key)
	if err != nil {
		t.Fatal(err)
	}
	tr := &cryptomark.Trailer{Covered: size - cryptomark.TrailerSize, Hash: cryptomark.HashSHA256, KeyID: priv.ID}
	if _, err := f.WriteAt(tr.Marshal(), size-cryptomark.TrailerSize); err != nil {
		testenv.Missing(t, fmt.Sprintf("tmpfs refuses a 64 GiB sparse file: %v", err))
	}
	f.Close()
	sink := testenv.NewSyslog(t)
	d := startMarkd(t, "--mark", mnt, "--policy", writePolicy(t, "/ require-signed\n"), "--keys", k.Dir,
		"--timeout", "300ms", "--syslog-socket", sink.Path)
	start := time.Now()
	wantEPERM(t, huge)
	took := time.Since(start)
	waitAlert(t, sink, "exe="+huge, "did not finish within 300ms")
	if took > 5*time.Second {
		t.Errorf("the stuck exec was answered after %v", took)
	}
	// Another worker still answers.
	if err := run(ok); err != nil {
		t.Errorf("signed program while a verification is stuck: %v", err)
	}
	d.alive(t)
}

// TestHostileFiles: corrupt trailers, truncated and empty programs are
// denied with an alert each; the daemon survives and goes on.
func TestHostileFiles(t *testing.T) {
	mnt := mountTmpfs(t)
	k := newKeys(t)
	good := program(t, filepath.Join(mnt, "good"))
	k.sign(t, good)
	signed, _ := os.ReadFile(good)
	tail := len(signed) - cryptomark.TrailerSize
	files := map[string][]byte{
		"bad-version":  patch(signed, tail+17, 9),
		"bad-hash":     patch(signed, tail+16, 7),
		"bad-length":   patch(signed, tail, signed[tail]+1),
		"reserved":     patch(signed, tail+20, 1),
		"magic-only":   []byte(cryptomark.Magic),
		"trailer-only": signed[tail:],
		"truncated":    append(append([]byte{}, signed[:64]...), signed[tail:]...),
		"empty":        nil,
		"elf-header":   signed[:20],
	}
	big := make([]byte, 8)
	binary.LittleEndian.PutUint64(big, 1<<62)
	files["length-huge"] = append(append([]byte{}, signed[:tail]...), append(big, signed[tail+8:]...)...)
	for name, data := range files {
		os.WriteFile(filepath.Join(mnt, name), data, 0o755)
	}
	sink := testenv.NewSyslog(t)
	d := startMarkd(t, "--mark", mnt, "--policy", writePolicy(t, "/ require-signed\n"), "--keys", k.Dir, "--syslog-socket", sink.Path)
	for name := range files {
		p := filepath.Join(mnt, name)
		err := run(p)
		if !errors.Is(err, syscall.EPERM) {
			t.Errorf("%s: %v, want EPERM", name, err)
			continue
		}
		waitAlert(t, sink, "exe="+p, "msg=denied")
	}
	d.alive(t)
	if err := run(good); err != nil {
		t.Errorf("signed program after the hostile ones: %v", err)
	}
}

func patch(b []byte, off int, v byte) []byte {
	c := append([]byte{}, b...)
	c[off] = v
	return c
}

// TestStress: 32 parallel exec loops (signed programs run, unsigned ones
// are denied) with the gate on: every exec is answered, none stalls;
// then kill -9 of the daemon in the middle: every loop's next exec
// completes within a second, and unsigned programs run again (no gate).
// IMMUNIX_CRYPTOMARK_STRESS=60s runs it for the full minute.
func TestStress(t *testing.T) {
	dur := 4 * time.Second
	if s := os.Getenv("IMMUNIX_CRYPTOMARK_STRESS"); s != "" {
		var err error
		if dur, err = time.ParseDuration(s); err != nil {
			t.Fatalf("IMMUNIX_CRYPTOMARK_STRESS: %v", err)
		}
	}
	mnt := mountTmpfs(t)
	k := newKeys(t)
	const loops = 32
	var signed, unsigned []string
	for i := range loops {
		signed = append(signed, program(t, filepath.Join(mnt, fmt.Sprintf("s%d", i))))
		unsigned = append(unsigned, program(t, filepath.Join(mnt, fmt.Sprintf("u%d", i))))
	}
	k.sign(t, signed...)
	d := startMarkd(t, "--mark", mnt, "--policy", writePolicy(t, "/ require-signed\n"), "--keys", k.Dir, "--syslog-socket", testenv.NewSyslog(t).Path)

	var killedAt atomic.Int64 // unix nanos; 0 while the gate runs
	var execs, denied atomic.Int64
	var maxLat atomic.Int64
	errs := make(chan string, loops)
	released := make([]time.Duration, loops)
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	for i := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(stop); n++ {
				p := signed[i]
				if n%2 == 1 {
					p = unsigned[i]
				}
				t0 := time.Now()
				err := run(p)
				lat := time.Since(t0)
				execs.Add(1)
				for {
					m := maxLat.Load()
					if int64(lat) <= m || maxLat.CompareAndSwap(m, int64(lat)) {
						break
					}
				}
				k := killedAt.Load()
				switch {
				case err == nil:
				case errors.Is(err, syscall.EPERM) && p == unsigned[i] && (k == 0 || t0.UnixNano() < k):
					denied.Add(1)
				default:
					errs <- fmt.Sprintf("%s: %v (after %v)", p, err, lat)
					return
				}
				if k != 0 && released[i] == 0 && t0.UnixNano() < k {
					released[i] = time.Since(time.Unix(0, k))
				}
				if lat > 10*time.Second {
					errs <- fmt.Sprintf("%s: exec stalled %v", p, lat)
					return
				}
			}
		}()
	}
	time.Sleep(dur / 2) // the kill lands in the middle; the timing is not what is tested
	killedAt.Store(time.Now().UnixNano())
	d.cmd.Process.Kill()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for i, r := range released {
		if r > time.Second {
			t.Errorf("loop %d: the exec in flight at kill -9 completed %v after it", i, r)
		}
	}
	t.Logf("%d execs in %v by %d loops, %d denied before the kill, slowest exec %v", execs.Load(), dur, loops, denied.Load(), time.Duration(maxLat.Load()))
	if denied.Load() == 0 {
		t.Error("no unsigned program was denied: the gate was not on")
	}
}
