/* The forgery: the program defines its own function under the bounds
   handler's name, which returns, and calls it from a check unrelated to
   the access: index 4 still overwrites the guard. A handler that returns
   stops nothing, so check does not count its calls. */
#include <stdio.h>
#include <stdlib.h>

#include "frame.h"

static volatile int sink;

__attribute__((noinline)) void __ubsan_handle_out_of_bounds_abort(void *data, unsigned long index)
{
	sink = (int)(long)data + (int)index;
}

__attribute__((noinline)) static int poke(int n, int v)
{
	struct frame t;
	init(&t);
	if (n > 100)
		__ubsan_handle_out_of_bounds_abort(&t, (unsigned long)n);
	t.a[n] = v;
	return show(&t, n);
}

int main(int argc, char **argv)
{
	return poke(argc > 1 ? atoi(argv[1]) : 0, 0x41414141);
}
