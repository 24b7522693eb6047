/* The attack: an index from input into a stack array whose neighbour is
   a guard (a struct member, so the layout is the language's): index 4
   overwrites the guard. */
#include <stdio.h>
#include <stdlib.h>

struct frame { int a[4]; int guard; };

/* Out of line, so that the compiler stores the guard before the attack
   and reads it from memory after it. */
__attribute__((noinline)) static void init(struct frame *t)
{
	t->a[0] = t->a[1] = t->a[2] = t->a[3] = 0;
	t->guard = 0x5a5a;
}

__attribute__((noinline)) static int show(const struct frame *t, int n)
{
	printf("a=%d guard=%x\n", t->a[n & 3], t->guard);
	return t->guard != 0x5a5a;
}

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
