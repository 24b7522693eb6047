// Package enforce confines a program with a SubDomain profile: Landlock
// for files, TCP ports, signals and abstract unix sockets (best effort
// down to the running kernel's ABI, with Notes saying what it cannot
// enforce), a seccomp filter refusing SubDomain's dangerous system calls
// unless granted and checking the arguments of a few others (socket,
// sendto, memfd_create, open...), and a supervisor process that answers
// the program's listen() calls and alerts the denials the kernel audits
// (Landlock ABI 7 audit records, seccomp log records). The program is
// exec'd in the calling process; the supervisor is this binary
// re-executed (SupervisorCommand, Supervise). Complain mode, which runs the program under strace instead
// and alerts every access outside the profile without blocking it, is
// package subdomain/complain.
//
//	plan, err := enforce.Compile(profile, enforce.KernelABI())
//	if err != nil {
//		return err // e.g. the kernel has no Landlock
//	}
//	r := &enforce.Runner{Profile: profile, Plan: plan, Alerts: &alert.Writer{Stderr: os.Stderr}}
//	code, err := r.Run([]string{"/usr/lib/cgi-bin/shop"}) // execs; returns only on error
package enforce
