/* The instrumented half of a program linked from two units: its own
   stack index is checked. mixed_plain.c, built without BoundsGuard, holds
   the attack. */
#include <stdio.h>
#include <stdlib.h>

int poke_plain(int n, int v);

__attribute__((noinline)) static int checked(int n)
{
	int a[8] = {0};
	a[n & 15] = 1;
	return a[0];
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0;
	return checked(n) + poke_plain(n, 0x41414141);
}
