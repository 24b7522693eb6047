package cryptomark

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// stopDaemon sends SIGSTOP to the daemon and waits (bounded) until every one of
// its threads is stopped (state T in /proc/PID/task/TID/stat): kill(2)
// returns before the signal takes effect, and a thread that has not
// stopped yet still answers the gate's events.
func stopDaemon(t *testing.T, d *daemon) {
	t.Helper()
	testenv.StopProcess(t, d.cmd.Process.Pid)
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
	stopDaemon(t, d)
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

// stressLoop is one exec loop, a shell of its own (so that the loops
// really exec in parallel: a Go process's forks are serialised, and its
// vfork'd parent thread waits for each child's exec). Until the file
// STOP exists it runs the signed program (which must succeed) and the
// unsigned one (denied while the gate runs), appending its counts to PROG after each round.
const stressLoop = `n=0 bad=0 denied=0 ran=0
while [ ! -e "$STOP" ]; do
	"$SIGNED" x >/dev/null || bad=$((bad+1))
	if "$UNSIGNED" x >/dev/null 2>&1; then ran=$((ran+1)); else denied=$((denied+1)); fi
	n=$((n+1))
	echo "$n $bad $denied $ran" >>"$PROG"
done`

// TestStress: 32 parallel exec loops (signed programs run, unsigned ones
// are denied) with the gate on for the duration (default 4s): every exec
// is answered, no loop stalls. Then kill -9 of the daemon while the loops
// run, with execs piled up behind
// it (the daemon is stopped first until at least 8 wait): each leaves
// the kernel's fanotify wait within a second, and unsigned programs run
// again (2s more). IMMUNIX_CRYPTOMARK_STRESS=60s runs the minute.
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
	signed := program(t, filepath.Join(mnt, "signed"))
	unsigned := program(t, filepath.Join(mnt, "unsigned"))
	k.sign(t, signed)
	d := startMarkd(t, "--mark", mnt, "--policy", writePolicy(t, "/ require-signed\n"), "--keys", k.Dir, "--syslog-socket", testenv.NewSyslog(t).Path)

	work := t.TempDir()
	stop := filepath.Join(work, "stop")
	var cmds []*exec.Cmd
	t.Cleanup(func() {
		os.WriteFile(stop, nil, 0o644)
		for _, c := range cmds {
			c.Wait()
		}
	})
	progress := func(i int) (n, bad, denied, ran int) {
		// The last complete line: the shell may be writing the next.
		b, _ := os.ReadFile(filepath.Join(work, fmt.Sprintf("p%d", i)))
		lines := strings.Split(string(b), "\n")
		if len(lines) >= 2 {
			fmt.Sscan(lines[len(lines)-2], &n, &bad, &denied, &ran)
		}
		return
	}
	for i := range loops {
		c := exec.Command("/bin/sh", "-c", stressLoop)
		c.Env = []string{"PATH=/usr/bin:/bin", "STOP=" + stop, "SIGNED=" + signed, "UNSIGNED=" + unsigned,
			"PROG=" + filepath.Join(work, fmt.Sprintf("p%d", i))}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	// Every loop starts (its first round done: its shell started, both
	// programs verified), then the gated half: every loop goes on.
	for i, deadline := 0, time.Now().Add(30*time.Second); i < loops; {
		if n, _, _, _ := progress(i); n > 0 {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("loop %d completed no round in 30s with the gate on", i)
		}
		time.Sleep(10 * time.Millisecond)
	}
	half := time.Now().Add(dur)
	last := make([]int, loops)
	lastMove := make([]time.Time, loops)
	for i := range lastMove {
		lastMove[i] = time.Now()
	}
	for time.Now().Before(half) {
		time.Sleep(100 * time.Millisecond)
		for i := range loops {
			if n, _, _, _ := progress(i); n > last[i] {
				last[i], lastMove[i] = n, time.Now()
			} else if time.Since(lastMove[i]) > 10*time.Second {
				t.Fatalf("loop %d stalled: no exec completed for %v with the gate on", i, time.Since(lastMove[i]))
			}
		}
	}
	before := 0
	for i := range loops {
		n, bad, denied, ran := progress(i)
		before += n
		if bad > 0 || ran > 0 || n == 0 || denied == 0 {
			t.Errorf("loop %d with the gate on: %d rounds, %d signed failed, %d unsigned ran, %d denied", i, n, bad, ran, denied)
		}
	}
	// Pile execs up behind the stopped daemon, then kill -9.
	stopDaemon(t, d)
	var blocked []int
	for deadline := time.Now().Add(30 * time.Second); len(blocked) < 8 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		blocked = blockedInGate(cmds)
	}
	if len(blocked) < 8 {
		t.Fatalf("only %d execs blocked behind the stopped gate", len(blocked))
	}
	killed := time.Now()
	d.cmd.Process.Kill()
	var slowest time.Duration
	for _, pid := range blocked {
		for {
			since := time.Since(killed)
			if !inGate(pid) {
				slowest = max(slowest, since)
				break
			}
			if since > time.Second {
				t.Errorf("pid %d still waits for the gate %v after kill -9", pid, since)
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second) // the loops go on without the gate
	os.WriteFile(stop, nil, 0o644)
	total, ranAfter := 0, 0
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("loop %d: %v", i, err)
		}
		n, bad, _, ran := progress(i)
		total += n
		ranAfter += ran
		if bad > 0 {
			t.Errorf("loop %d: %d signed execs failed", i, bad)
		}
	}
	cmds = nil
	if ranAfter == 0 {
		t.Error("no unsigned program ran after kill -9: the gate did not go away")
	}
	t.Logf("%d loops: %d rounds (2 execs each) with the gate on for %v; kill -9 released %d blocked execs, the last after %v; %d rounds in all", loops, before, dur, len(blocked), slowest, total)
}

// inGate reports whether pid sleeps in the kernel waiting for a fanotify
// permission answer.
func inGate(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stack", pid))
	return err == nil && strings.Contains(string(b), "fanotify")
}

// blockedInGate lists the children of the loop shells that wait for
// the gate.
func blockedInGate(loops []*exec.Cmd) []int {
	parents := map[string]bool{}
	for _, c := range loops {
		parents[strconv.Itoa(c.Process.Pid)] = true
	}
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && parents[f[1]] && inGate(pid) {
			out = append(out, pid)
		}
	}
	return out
}
