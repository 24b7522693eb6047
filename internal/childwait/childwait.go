// Package childwait waits for a child process without keeping one of the
// Go scheduler's slots busy.
//
// A goroutine blocked in wait4 (or in a raw system call) holds its slot
// for as long as the child runs, and the runtime's monitor thread then
// wakes every ~20 µs and signals the waiting thread (SIGURG) for the whole
// time: for a 15 ms compile, measured, 85 context switches instead of 10
// and about 1 ms of CPU. With the child's pidfd (Linux 5.3+) the goroutine
// parks in the runtime's poller instead, every slot goes idle and the
// monitor sleeps.
//
//	pidfd := -1
//	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
//		Files: files, Sys: &syscall.SysProcAttr{PidFD: &pidfd}})
//	...
//	ws, err := childwait.Wait(pid, pidfd)
package childwait

import (
	"os"
	"syscall"
)

// Wait waits for the child pid to exit and returns its status. pidfd is
// the child's pidfd, which Wait closes, or -1 when there is none: Wait then
// blocks in wait4.
func Wait(pid, pidfd int) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	reap := func(flags int) (bool, error) {
		for {
			n, err := syscall.Wait4(pid, &ws, flags, nil)
			if err == syscall.EINTR {
				continue
			}
			return n == pid, err
		}
	}
	if pidfd >= 0 {
		if err := syscall.SetNonblock(pidfd, true); err == nil {
			f := os.NewFile(uintptr(pidfd), "pidfd")
			defer f.Close()
			if rc, err := f.SyscallConn(); err == nil {
				var werr error
				err := rc.Read(func(uintptr) bool {
					var done bool
					done, werr = reap(syscall.WNOHANG)
					return done || werr != nil
				})
				if err == nil {
					return ws, werr
				}
			}
		} else {
			syscall.Close(pidfd)
		}
	}
	_, err := reap(0)
	return ws, err
}
