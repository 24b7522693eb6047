package stackguard

import (
	"strings"
	"testing"
)

// forkModes are the ways serverSrc's children can be made (-DFORK_MODE=N):
// fork() from a coroutine stack, _Fork(), syscall(SYS_fork), clone() onto a
// new stack, and a fork by a raw system call instruction.
var forkModes = []struct {
	name    string
	mode    string
	renewed bool // the runtime renews the canary in such a child
}{
	{"coroutine", "1", true},
	{"_Fork", "2", true},
	{"syscall-fork", "3", true},
	{"clone", "4", true},
	{"raw-syscall", "5", false},
}

// forkModeSrc turns serverSrc into a server whose children are made the
// FORK_MODE way.
func forkModeSrc() string {
	s := strings.Replace(serverSrc, "#include <unistd.h>\n", `#include <unistd.h>
#include <sched.h>
#include <sys/syscall.h>
#include <ucontext.h>
static int conn_fd, listen_fd;
__attribute__((noinline)) static int handle(int fd);
static int clone_child(void *arg)
{
	(void)arg;
	close(listen_fd);
	handle(conn_fd);
	if (write(conn_fd, "OK\n", 3) != 3)
		_exit(1);
	_exit(0);
}
static pid_t make_child(void)
{
#if FORK_MODE == 2
	return _Fork();
#elif FORK_MODE == 3
	return (pid_t)syscall(SYS_fork);
#elif FORK_MODE == 4
	static char *stack;
	if (!stack)
		stack = malloc(1 << 20);
	pid_t p = clone(clone_child, stack + (1 << 20), SIGCHLD, NULL);
	return p == 0 ? -1 : p;
#elif FORK_MODE == 5
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_fork) : "rcx", "r11", "memory");
	return (pid_t)r;
#else
	return fork();
#endif
}
`, 1)
	s = strings.Replace(s, "pid_t p = fork();", "conn_fd = c; listen_fd = s;\n\t\tpid_t p = make_child();", 1)
	// Coroutine mode: the accept loop runs on a stack of its own.
	s = strings.Replace(s, "int main(void)\n{", `static int serve(void);
static ucontext_t main_ctx, serve_ctx;
int main(void)
{
#if FORK_MODE == 1
	getcontext(&serve_ctx);
	serve_ctx.uc_stack.ss_sp = malloc(1 << 20);
	serve_ctx.uc_stack.ss_size = 1 << 20;
	serve_ctx.uc_link = &main_ctx;
	makecontext(&serve_ctx, (void (*)(void))serve, 0);
	swapcontext(&main_ctx, &serve_ctx);
	return 0;
}
static int serve(void)
{
#endif
`, 1)
	return s
}

// TestBruteForceOtherForks (issue 14 item 6) measures the BROP attacker
// against servers whose children the runtime must renew without
// pthread_atfork: it must give up within the budget where it renews, and
// it recovers the canary where it cannot (a raw fork system call: the
// documented limit, with its measured number of tries).
func TestBruteForceOtherForks(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of forks and crashes: skipped with -short")
	}
	src := forkModeSrc()
	for _, m := range forkModes {
		t.Run(m.name, func(t *testing.T) {
			v := variant{cc: "gcc"}
			srv := startServerSrc(t, v, true, src, "-DFORK_MODE="+m.mode)
			budget := 4000
			a := &attacker{srv: srv, budget: budget}
			got := a.run(t)
			switch {
			case m.renewed && got != nil:
				t.Fatalf("with the runtime the attacker recovered %x in %d tries", got, a.tries)
			case !m.renewed && got == nil:
				t.Fatalf("the canary of a %s child was not recovered in %d tries: the documented limit no longer holds", m.name, a.tries)
			case m.renewed:
				if a.refused != 0 {
					t.Errorf("%d of %d honest requests were not served", a.refused, a.honest)
				}
				t.Logf("%s: not recovered in %d tries; %d alerts", m.name, a.tries, waitAlerts(srv, a.tries/2))
			default:
				t.Logf("%s: canary recovered in %d tries (not renewed: documented)", m.name, a.tries)
			}
		})
	}
}
