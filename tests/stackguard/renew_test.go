package stackguard

import (
	"path/filepath"
	"strings"
	"testing"
)

// renewSrc forks in several situations and reports the canary the parent and
// each child see; every child returns through the frames it inherited (each
// with a canary of its own), so a child whose inherited canaries were not
// rewritten would die in __stack_chk_fail.
//
// Output lines: "parent C", then "MODE child C ok" per mode.
const renewSrc = `
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static uintptr_t canary(void)
{
	uintptr_t v;
#if defined(__x86_64__)
	__asm__ volatile("movq %%fs:0x28, %0" : "=r"(v));
#else
	__asm__ volatile("movl %%gs:0x14, %0" : "=r"(v));
#endif
	return v;
}

static volatile int sink;

/* In the child: report, then return through every inherited frame. */
__attribute__((noinline)) static int forker(const char *mode)
{
	char pad[40];
	snprintf(pad, sizeof pad, "%s", mode);
	fflush(stdout);
	pid_t p = fork();
	if (p < 0) { perror("fork"); exit(3); }
	if (p == 0) {
		printf("%s child %lx", pad, (unsigned long)canary());
		return 1;
	}
	int st;
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("%s child died: status %#x\n", pad, st);
		fflush(stdout);
		exit(4);
	}
	return 0;
}

__attribute__((noinline)) static int deep(int d, const char *mode)
{
	char buf[32];
	memset(buf, d, sizeof buf);
	sink = buf[3];
	int r = d ? deep(d - 1, mode) : forker(mode);
	sink += buf[7];
	return r;
}

static void child_done(int r)
{
	if (r) {
		printf(" ok\n");
		fflush(stdout);
		_exit(0);
	}
}

static void *thread_main(void *arg)
{
	(void)arg;
	child_done(deep(6, "thread"));
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	child_done(deep(3, "altstack"));
}

int main(int argc, char **argv)
{
	(void)argc;
	printf("parent %lx\n", (unsigned long)canary());
	fflush(stdout);
	if (strchr(argv[1], 'm'))
		child_done(deep(8, "main"));
	if (strchr(argv[1], 'n') && deep(2, "nested")) {
		/* In the child: fork again; the grandchild needs a canary of its own. */
		printf(" ok\n");
		child_done(deep(4, "nested2"));
		_exit(0);
	}
	if (strchr(argv[1], 't')) {
		pthread_t th;
		pthread_create(&th, NULL, thread_main, NULL);
		pthread_join(th, NULL);
	}
	if (strchr(argv[1], 'a')) {
		static char alt[65536];
		stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
		sigaltstack(&ss, NULL);
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr1;
		sa.sa_flags = SA_ONSTACK;
		sigaction(SIGUSR1, &sa, NULL);
		raise(SIGUSR1);
	}
	if (strchr(argv[1], 'v')) {
		pid_t p = vfork();
		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);
		printf("vfork parent %lx ok\n", (unsigned long)canary());
	}
	printf("parent %lx\n", (unsigned long)canary());
	return 0;
}
`

type renewOut struct {
	parent   []string
	children map[string][]string
}

func parseRenew(t *testing.T, out string) renewOut {
	t.Helper()
	r := renewOut{children: map[string][]string{}}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 2 && f[0] == "parent":
			r.parent = append(r.parent, f[1])
		case len(f) == 4 && f[1] == "child" && f[3] == "ok":
			r.children[f[0]] = append(r.children[f[0]], f[2])
		case len(f) == 4 && f[0] == "vfork" && f[3] == "ok":
			r.children["vfork-parent"] = append(r.children["vfork-parent"], f[2])
		default:
			t.Fatalf("unexpected output line %q in\n%s", l, out)
		}
	}
	return r
}

func TestForkRenewsCanary(t *testing.T) {
	for _, v := range variants() {
		if v.cxx() {
			continue
		}
		t.Run(v.String(), func(t *testing.T) {
			exe := filepath.Join(t.TempDir(), "renew")
			compile(t, v, renewSrc, exe, true, "-O2", "-fstack-protector-all", "-pthread")
			res := run(t, exe, "mntav")
			if res.signal != 0 || res.code != 0 || len(res.logs) != 0 {
				t.Fatalf("signal %v exit %d logs %q\nstdout:\n%s\nstderr:\n%s", res.signal, res.code, res.logs, res.stdout, res.stderr)
			}
			o := parseRenew(t, res.stdout)
			if len(o.parent) != 2 || o.parent[0] != o.parent[1] {
				t.Fatalf("parent canary changed or missing: %q", o.parent)
			}
			pc := o.parent[0]
			seen := map[string]bool{pc: true}
			for _, mode := range []string{"main", "thread"} {
				cs := o.children[mode]
				if len(cs) != 1 {
					t.Fatalf("%s: want one child report, got %q", mode, cs)
				}
				c := cs[0]
				if seen[c] {
					t.Errorf("%s: child canary %s not fresh (parent %s)", mode, c, pc)
				}
				seen[c] = true
				if !strings.HasSuffix(c, "00") {
					t.Errorf("%s: child canary %s lost its zero low byte", mode, c)
				}
			}
			n1, n2 := o.children["nested"], o.children["nested2"]
			if len(n1) != 1 || len(n2) != 1 || n1[0] == n2[0] || seen[n1[0]] || seen[n2[0]] {
				t.Errorf("nested: child and grandchild want fresh canaries of their own, got %q and %q", n1, n2)
			}
			// Documented bound: a fork on the alternate signal stack keeps the
			// inherited canary, and the child still returns correctly.
			if cs := o.children["altstack"]; len(cs) != 1 || cs[0] != pc {
				t.Errorf("altstack: want the parent's canary %s kept, got %q", pc, cs)
			}
			if cs := o.children["vfork-parent"]; len(cs) != 1 || cs[0] != pc {
				t.Errorf("vfork: the parent's canary must not change, got %q (was %s)", cs, pc)
			}
		})
	}
}

// TestForkWithoutRuntimeKeepsCanary is the control: without the runtime a
// child inherits its parent's canary, which is what the renewal test above
// tells apart.
func TestForkWithoutRuntimeKeepsCanary(t *testing.T) {
	v := variant{cc: "gcc"}
	exe := filepath.Join(t.TempDir(), "renew")
	compile(t, v, renewSrc, exe, false, "-O2", "-fstack-protector-all", "-pthread")
	res := run(t, exe, "mt")
	o := parseRenew(t, res.stdout)
	for _, mode := range []string{"main", "thread"} {
		if got := o.children[mode]; len(got) != 1 || got[0] != o.parent[0] {
			t.Errorf("%s: %q, want the parent's %s", mode, got, o.parent[0])
		}
	}
}

// TestRenewalOffSwitch: IMMUNIX_CANARY_RENEW=0 turns renewal off.
func TestRenewalOffSwitch(t *testing.T) {
	v := variant{cc: "clang"}
	exe := filepath.Join(t.TempDir(), "renew")
	compile(t, v, renewSrc, exe, true, "-O2", "-fstack-protector-all", "-pthread")
	t.Setenv("IMMUNIX_CANARY_RENEW", "0")
	res := run(t, exe, "m")
	o := parseRenew(t, res.stdout)
	if got := o.children["main"]; len(got) != 1 || got[0] != o.parent[0] {
		t.Errorf("with IMMUNIX_CANARY_RENEW=0: child %q, parent %s", got, o.parent[0])
	}
}

// TestRuntimeInProgramAndLibrary: the program and a shared library both
// carry the runtime; one fork handler renews the canary once, and a smash
// in either is reported.
func TestRuntimeInProgramAndLibrary(t *testing.T) {
	v := variant{cc: "clang"}
	dir := t.TempDir()
	lib := filepath.Join(dir, "libdeep.so")
	libSrc := `
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
static volatile int sink;
__attribute__((noinline)) int lib_fork_deep(int d)
{
	char buf[48];
	memset(buf, d, sizeof buf);
	sink = buf[5];
	if (d)
		return lib_fork_deep(d - 1) + buf[1] - d;
	pid_t p = fork();
	if (p == 0)
		return 1000; /* the child returns through the library's frames */
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}`
	compile(t, v, libSrc, lib, true, "-O2", "-fstack-protector-all", "-fPIC", "-shared")
	exe := filepath.Join(dir, "prog")
	mainSrc := `
#include <stdio.h>
#include <unistd.h>
int lib_fork_deep(int);
extern int __immunix_renew_claimed;
int main(void)
{
	int r = lib_fork_deep(10);
	if (r >= 1000) { _exit(__immunix_renew_claimed == 1 ? 0 : 7); }
	printf("parent %d\n", r);
	return r;
}`
	compile(t, v, mainSrc, exe, true, "-O2", "-fstack-protector-all", lateFlags, "-L"+dir, "-ldeep", "-Wl,-rpath,"+dir)
	res := run(t, exe)
	if res.signal != 0 || res.code != 0 || len(res.logs) != 0 || strings.TrimSpace(res.stdout) != "parent 0" {
		t.Fatalf("signal %v exit %d logs %q stdout %q stderr %q", res.signal, res.code, res.logs, res.stdout, res.stderr)
	}
}
