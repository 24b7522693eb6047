/* The half built without BoundsGuard: an index from input into a stack
   array whose neighbour is a guard (frame.h). */
#include <stdio.h>

#include "frame.h"

__attribute__((noinline)) int poke_plain(int n, int v)
{
	struct frame t;
	init(&t);
	t.a[n] = v;
	return show(&t, n);
}
