/* The attack through a bounded index: n & 7 stays inside the frame but
   not inside a[4]: index 4 overwrites the guard. The code bounds the
   index; only the array's size, which the code does not show, says it is
   too large. */
#include <stdio.h>
#include <stdlib.h>

struct frame { char a[4]; char guard; };

/* Out of line, so that the compiler stores the guard before the attack
   and reads it from memory after it. */
__attribute__((noinline)) static void init(struct frame *t)
{
	t->a[0] = t->a[1] = t->a[2] = t->a[3] = 0;
	t->guard = 'G';
}

__attribute__((noinline)) static int show(const struct frame *t)
{
	printf("a=%c guard=%c\n", t->a[0] ? t->a[0] : '.', t->guard);
	return t->guard != 'G';
}

__attribute__((noinline)) static int poke(unsigned n)
{
	struct frame t;
	init(&t);
	t.a[n & 7] = 'A';
	return show(&t);
}

int main(int argc, char **argv)
{
	return poke(argc > 1 ? (unsigned)atoi(argv[1]) : 0);
}
