/* The attack: an index from input into a stack array whose neighbour is
   a guard (frame.h): index 4 overwrites the guard. */
#include <stdio.h>
#include <stdlib.h>

#include "frame.h"

__attribute__((noinline)) static int poke(int n, int v)
{
	struct frame t;
	init(&t);
	t.a[n] = v;
	return show(&t, n);
}

int main(int argc, char **argv)
{
	return poke(argc > 1 ? atoi(argv[1]) : 0, 0x41414141);
}
