/* The corpus harness (tests/boundsguard): each shape runs in a child that
 * shares this process's memory (clone with CLONE_VM, its own stack here), so
 * when a protection halts the child, the parent can still read the guard
 * that lies past the overflowed array and say whether the faulty write
 * landed. Usage: PROG N; N is the element count the shape writes (the
 * benign run stays in bounds, the attack goes one or more past).
 * Output, one line: "exit=0 result=R guard=intact|overwritten" or
 * "signal=S guard=intact|overwritten". */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUARD_BYTE 0x47
#define NOINLINE __attribute__((noinline))

/* Published by the shape before its first write: where its guard is. */
static volatile unsigned char *volatile guard_at;
static volatile size_t guard_len;
static volatile int shape_result;

static void guard(void *p, size_t n)
{
	memset(p, GUARD_BYTE, n);
	guard_len = n;
	guard_at = p;
}

static int guard_intact(void)
{
	for (size_t i = 0; i < guard_len; i++)
		if (guard_at[i] != GUARD_BYTE)
			return 0;
	return 1;
}

static volatile int guard_ok;

/* Called by the shape on its way out, while its frame (and so the guard)
 * is still live. */
static NOINLINE int finish(int result)
{
	guard_ok = guard_intact();
	return result;
}

static int shape(int n);

static int child(void *arg)
{
	shape_result = shape(*(int *)arg);
	syscall(SYS_exit, 0);
	return 0;
}

static char child_stack[1 << 20] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int n = atoi(argv[1]);
	pid_t pid = clone(child, child_stack + sizeof child_stack, CLONE_VM | SIGCHLD, &n);
	if (pid < 0)
		return 3;
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 4;
	if (WIFEXITED(st))
		printf("exit=%d result=%d guard=%s\n", WEXITSTATUS(st), shape_result, guard_ok ? "intact" : "overwritten");
	else
		printf("signal=%d guard=%s\n", WTERMSIG(st), guard_intact() ? "intact" : "overwritten");
	return 0;
}
