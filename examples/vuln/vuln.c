/* A deliberately vulnerable program, for the immunix demo.
 *
 *   vuln greet NAME    copies NAME into a 16-byte stack buffer: a long NAME
 *                      smashes the stack (the classic strcpy overflow).
 *   vuln echo TEXT     prints TEXT as a printf format: "%x %x %x" leaks the
 *                      stack, "%n" writes memory (the classic format bug).
 *
 * Built with a plain compiler, both attacks succeed quietly or crash
 * somewhere later. Built with immunix-cc, StackGuard and FormatGuard stop
 * each one with an intruder alert before it can do harm.
 */
#include <stdio.h>
#include <string.h>

static void greet(const char *name)
{
	char buf[16];
	size_t n = strlen(name);

	/* The bug: no bound. A byte loop, so no fortified strcpy can see it. */
	for (size_t i = 0; i <= n; i++)
		buf[i] = name[i];
	printf("hello, %s\n", buf);
}

static void echo(const char *text)
{
	printf(text); /* The bug: user input as the format. */
	printf("\n");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s greet NAME | echo TEXT\n", argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "greet") == 0)
		greet(argv[2]);
	else if (strcmp(argv[1], "echo") == 0)
		echo(argv[2]);
	else
		return 2;
	return 0;
}
