/* The half built without BoundsGuard: an index from input into a stack
   array whose neighbour is a guard (see index_attack.c). */
#include <stdio.h>

struct frame { int a[4]; int guard; };

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

__attribute__((noinline)) int poke_plain(int n, int v)
{
	struct frame t;
	init(&t);
	t.a[n] = v;
	return show(&t, n);
}
