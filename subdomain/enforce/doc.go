// Package enforce confines a program with a SubDomain profile: Landlock
// for files and TCP ports (best effort down to the running kernel's ABI,
// with Notes saying what it cannot enforce), a seccomp filter refusing
// SubDomain's dangerous system calls unless granted, and alerts for the
// denials the kernel audits (Landlock ABI 7 audit records, seccomp log
// records). Complain mode, which runs the program under strace instead
// and alerts every access outside the profile without blocking it, is
// package subdomain/complain.
//
//	plan, err := enforce.Compile(profile, enforce.KernelABI())
//	if err != nil {
//		return err // e.g. the kernel has no Landlock
//	}
//	r := &enforce.Runner{Profile: profile, Plan: plan, Alerts: &alert.Writer{Stderr: os.Stderr}}
//	code, err := r.Run([]string{"/usr/lib/cgi-bin/shop"})
package enforce
