/* The frame the verdict attacks overflow: a stack array whose neighbour is
   a guard (a struct member, so the layout is the language's): index 4
   overwrites the guard. init and show are out of line, so that the
   compiler stores the guard before the attack and reads it from memory
   after it; show prints "guard=5a5a" when it is intact. */
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
