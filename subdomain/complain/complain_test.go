package complain

import (
	"testing"

	"github.com/immunix/immunix/subdomain"
	"github.com/immunix/immunix/subdomain/learn"
)

func mustParse(t *testing.T, text string) *subdomain.Profile {
	t.Helper()
	p, err := subdomain.Parse("test", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChecker(t *testing.T) {
	p := mustParse(t, "# /usr/bin/front 1\n/etc/front.conf r\n/usr/lib/helper px {\n\t/etc/secret r\n}\nnetwork tcp connect 80\n")
	c := &Checker{Profile: p}
	send := func(e learn.Event) { c.Check(&e) }
	send(learn.Event{PID: 1, Execed: true, Path: "/usr/bin/front", Mode: subdomain.Exec})
	send(learn.Event{PID: 1, Exe: "/usr/bin/front", Path: "/etc/front.conf", Mode: subdomain.Read})
	send(learn.Event{PID: 1, Exe: "/usr/bin/front", Path: "/etc/secret", Mode: subdomain.Read, Syscall: "openat"})
	send(learn.Event{PID: 1, Exe: "/usr/bin/front", Path: "/etc/front.conf", Mode: subdomain.Write, Syscall: "openat"})
	send(learn.Event{PID: 1, Exe: "/usr/bin/front", Path: "/nonexistent", Mode: subdomain.Read, Err: "ENOENT"})
	send(learn.Event{PID: 1, Exe: "/usr/bin/front", NetOp: "connect", Port: 80})
	send(learn.Event{PID: 1, Exe: "/usr/bin/front", NetOp: "connect", Port: 25, Syscall: "connect"})
	send(learn.Event{PID: 2, Exe: "/usr/bin/front", Path: "/usr/lib/helper", Mode: subdomain.Exec, Execed: true})
	send(learn.Event{PID: 2, Exe: "/usr/lib/helper", Path: "/etc/secret", Mode: subdomain.Read})
	send(learn.Event{PID: 1, Exe: "/usr/bin/front", Path: "/bin/sh", Mode: subdomain.Exec, Err: "EACCES", Syscall: "execve"})
	send(learn.Event{PID: 1, Exe: "/usr/bin/front", Syscall: "ptrace", Err: "EPERM"})
	if c.Violations != 5 {
		t.Errorf("violations = %d, want 5 (secret read by front, conf written, port 25, /bin/sh, ptrace)", c.Violations)
	}
}
