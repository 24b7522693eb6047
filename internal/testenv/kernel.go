package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A kernel feature is not a tool: no package installs it, so a test that
// needs one the running kernel lacks is skipped, in CI too, with a message
// that starts "kernel:" and names the limit. Everything the test can check
// without the feature it checks before skipping.

// KernelLacks skips the test, in CI as well, because the running kernel
// lacks what the rest of the test needs. reason names the feature.
func KernelLacks(t testing.TB, reason string) {
	t.Helper()
	t.Skip("kernel: " + reason)
}

// ABIRun is what running a program of one x86 ABI on this kernel gave.
type ABIRun struct {
	ABI string // "-m32", "-mx32"
	// Runs is true when the kernel executed the program.
	Runs bool
	// Reason names why not: the kernel's limit, or the missing tool.
	Reason string
	// NoTool is true when the program could not be built (no multilib
	// libc): that is a missing package, not a kernel property.
	NoTool bool
}

var (
	abiMu   sync.Mutex
	abiRuns = map[string]ABIRun{}
)

// abiNames maps the compiler flag to what the kernel must have to run it.
var abiNames = map[string]string{
	"-m32":  "IA-32 emulation (CONFIG_IA32_EMULATION, ia32_emulation=)",
	"-mx32": "the x32 ABI (CONFIG_X86_X32_ABI)",
}

// ProbeABI builds a one-line program with gcc and abi once per test
// binary and runs it, to learn whether this kernel executes that ABI.
func ProbeABI(abi string) ABIRun {
	abiMu.Lock()
	defer abiMu.Unlock()
	if r, ok := abiRuns[abi]; ok {
		return r
	}
	r := probeABI(abi)
	abiRuns[abi] = r
	return r
}

func probeABI(abi string) ABIRun {
	r := ABIRun{ABI: abi}
	feature, known := abiNames[abi]
	if !known {
		r.Reason = "unknown ABI flag " + abi
		return r
	}
	dir, err := os.MkdirTemp("", "immunix-abi-")
	if err != nil {
		r.Reason = err.Error()
		return r
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "p.c")
	exe := filepath.Join(dir, "p")
	if err := os.WriteFile(src, []byte("int main(void) { return 42; }\n"), 0o644); err != nil {
		r.Reason = err.Error()
		return r
	}
	if out, err := exec.Command("gcc", abi, src, "-o", exe).CombinedOutput(); err != nil {
		r.NoTool = true
		r.Reason = fmt.Sprintf("gcc %s cannot build a program (scripts/deps.sh installs gcc-multilib): %s", abi, strings.TrimSpace(string(out)))
		return r
	}
	err = exec.Command(exe).Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 42:
		r.Runs = true
	case errors.Is(err, syscall.ENOEXEC):
		r.Reason = "this kernel does not execute " + abi + " programs (exec format error): it lacks " + feature
	default:
		r.Reason = fmt.Sprintf("a %s program did not run as expected: %v", abi, err)
	}
	return r
}

// NeedsABIRun skips the rest of the test unless this kernel executes
// programs built with abi. A missing multilib libc is a missing tool
// (fails in CI); a kernel that cannot run the ABI is a kernel limit
// (skipped everywhere).
func NeedsABIRun(t testing.TB, abi string) {
	t.Helper()
	if _, known := abiNames[abi]; !known {
		t.Fatalf("testenv: NeedsABIRun(%q): not an ABI flag it knows (-m32, -mx32)", abi)
	}
	r := ProbeABI(abi)
	switch {
	case r.Runs:
	case r.NoTool:
		Missing(t, r.Reason)
	default:
		KernelLacks(t, r.Reason)
	}
}

// NeedsABIBuild skips (or fails in CI) unless gcc can build programs for
// abi, whether or not the kernel runs them.
func NeedsABIBuild(t testing.TB, abi string) {
	t.Helper()
	if r := ProbeABI(abi); r.NoTool {
		Missing(t, r.Reason)
	}
}

// NeedsFanotifyExecPerm skips the rest of the test unless the kernel gives
// fanotify permission events for exec (FAN_OPEN_EXEC_PERM: Linux 5.0 and
// CONFIG_FANOTIFY_ACCESS_PERMISSIONS), which CryptoMark's gate needs. The
// probe marks only a fresh directory's own inode, which nobody executes.
// The caller must be root (NeedsRoot): fanotify_init needs CAP_SYS_ADMIN.
func NeedsFanotifyExecPerm(t testing.TB) {
	t.Helper()
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_CONTENT|unix.FAN_CLOEXEC, unix.O_RDONLY)
	if err != nil {
		KernelLacks(t, "fanotify permission events (CONFIG_FANOTIFY_ACCESS_PERMISSIONS): fanotify_init: "+err.Error())
	}
	defer unix.Close(fd)
	dir := t.TempDir()
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD, unix.FAN_OPEN_EXEC_PERM, unix.AT_FDCWD, dir); err != nil {
		KernelLacks(t, "fanotify FAN_OPEN_EXEC_PERM (Linux 5.0): fanotify_mark: "+err.Error())
	}
}
