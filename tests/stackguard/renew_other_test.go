package stackguard

import (
	"path/filepath"
	"strings"
	"testing"
)

// otherForkSrc forks, by argv[1], in the ways pthread_atfork does not see or
// from a stack it does not know, and prints the parent's canary and the
// child's ("parent X", "child X"). Every child then returns through its
// inherited frames (which must have been rewritten), and the coroutine child
// also resumes a second, suspended coroutine, whose frames hold the old
// canary too.
const otherForkSrc = `
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static uintptr_t canary(void)
{
	uintptr_t v;
	__asm__ volatile("movq %%fs:0x28, %0" : "=r"(v));
	return v;
}

static pid_t raw_fork(void)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_fork) : "rcx", "r11", "memory");
	return (pid_t)r;
}

static const char *mode;

/* Forks the chosen way; the child prints its canary and returns 1. */
__attribute__((noinline)) static int forker(void)
{
	char pad[40];
	snprintf(pad, sizeof pad, "%s", mode);
	fflush(stdout);
	pid_t p;
	if (!strcmp(pad, "Fork"))
		p = _Fork();
	else if (!strcmp(pad, "sysfork"))
		p = (pid_t)syscall(SYS_fork);
	else if (!strcmp(pad, "sysclone"))
		p = (pid_t)syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
	else if (!strcmp(pad, "rawfork"))
		p = raw_fork();
	else
		p = fork();
	if (p < 0) { perror("fork"); exit(3); }
	if (p == 0) {
		printf("child %lx\n", (unsigned long)canary());
		return 1;
	}
	int st;
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("child died: status %#x\n", st);
		fflush(stdout);
		exit(4);
	}
	return 0;
}

static ucontext_t main_ctx, co_ctx, other_ctx;
static int in_child;

__attribute__((noinline)) static void other(void)
{
	char buf[64];
	snprintf(buf, sizeof buf, "other");
	swapcontext(&other_ctx, &main_ctx); /* suspended here */
	printf("%s resumed %lx\n", buf, (unsigned long)canary());
}

__attribute__((noinline)) static void co(void)
{
	char buf[64];
	snprintf(buf, sizeof buf, "co");
	in_child = forker();
	__asm__ volatile("" : : "r"(buf) : "memory");
}

static int clone_child(void *arg)
{
	(void)arg;
	printf("child %lx\n", (unsigned long)canary());
	fflush(stdout);
	return 0;
}

__attribute__((noinline)) static int run(void)
{
	char guard[64];
	snprintf(guard, sizeof guard, "run");
	if (!strcmp(mode, "coro")) {
		static char st1[256 << 10], st2[256 << 10];
		getcontext(&other_ctx);
		other_ctx.uc_stack.ss_sp = st2;
		other_ctx.uc_stack.ss_size = sizeof st2;
		other_ctx.uc_link = &main_ctx;
		makecontext(&other_ctx, other, 0);
		swapcontext(&main_ctx, &other_ctx); /* other runs and suspends */
		getcontext(&co_ctx);
		co_ctx.uc_stack.ss_sp = malloc(256 << 10);
		co_ctx.uc_stack.ss_size = 256 << 10;
		co_ctx.uc_link = &main_ctx;
		makecontext(&co_ctx, co, 0);
		swapcontext(&main_ctx, &co_ctx); /* co forks, then ends */
		if (in_child)
			swapcontext(&main_ctx, &other_ctx); /* resume other in the child */
		(void)st1;
	} else if (!strcmp(mode, "clone")) {
		char *stack = malloc(256 << 10);
		fflush(stdout);
		pid_t p = clone(clone_child, stack + (256 << 10), SIGCHLD, NULL);
		int st;
		if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("clone child failed\n");
			exit(4);
		}
	} else {
		in_child = forker();
	}
	__asm__ volatile("" : : "r"(guard) : "memory");
	return in_child;
}

int main(int argc, char **argv)
{
	if (argc < 2) return 2;
	mode = argv[1];
	printf("parent %lx\n", (unsigned long)canary());
	int c = run();
	if (c)
		printf("child ok\n");
	fflush(stdout);
	_exit(0);
}
`

// TestOtherForksRenewCanary (issue 14 item 6): children that
// pthread_atfork does not see (_Fork, syscall(SYS_fork), syscall(SYS_clone)
// on the same stack, clone() onto a new stack), and a fork() from a
// coroutine stack, get a fresh canary and still return through their
// inherited frames (and resume another suspended coroutine) without an
// alert. A fork by a raw system call instruction cannot be seen: it keeps
// the parent's canary (docs/stackguard.md, with the brute-force result).
func TestOtherForksRenewCanary(t *testing.T) {
	for _, cc := range []string{"gcc", "clang"} {
		for _, static := range []bool{false, true} {
			v := variant{cc: cc, static: static}
			t.Run(v.String(), func(t *testing.T) {
				exe := filepath.Join(t.TempDir(), "forks")
				compile(t, v, otherForkSrc, exe, true, "-O2", "-fstack-protector-all")
				for _, mode := range []string{"coro", "Fork", "sysfork", "sysclone", "clone", "rawfork"} {
					res := run(t, exe, mode)
					if res.signal != 0 || res.code != 0 || len(res.logs) != 0 || strings.Contains(res.stdout, "died") {
						t.Errorf("%s: signal %v exit %d logs %q\nstdout:\n%s\nstderr:\n%s", mode, res.signal, res.code, res.logs, res.stdout, res.stderr)
						continue
					}
					var parent, child string
					for _, l := range strings.Split(res.stdout, "\n") {
						f := strings.Fields(l)
						if len(f) == 2 && f[0] == "parent" {
							parent = f[1]
						}
						if len(f) == 2 && f[0] == "child" && f[1] != "ok" {
							child = f[1]
						}
					}
					if parent == "" || child == "" {
						t.Errorf("%s: no canaries in %q", mode, res.stdout)
						continue
					}
					renewed := child != parent
					if want := mode != "rawfork"; renewed != want {
						t.Errorf("%s: child canary %s, parent %s: renewed=%v, want %v", mode, child, parent, renewed, want)
					}
					if !strings.HasSuffix(child, "00") {
						t.Errorf("%s: child canary %s lost its zero low byte", mode, child)
					}
					if mode == "coro" && !strings.Contains(res.stdout, "other resumed "+child) {
						t.Errorf("coro: the suspended coroutine was not resumed with the child's canary:\n%s", res.stdout)
					}
					if mode != "clone" && !strings.Contains(res.stdout, "child ok") {
						t.Errorf("%s: the child did not return through its frames:\n%s", mode, res.stdout)
					}
				}
			})
		}
	}
}
