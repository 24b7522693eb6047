/* The forgery that halts: the program defines its own function under the
   bounds handler's name, which never returns (so it is taken for a
   handler), and calls it from a check of its own that is looser than the
   array and passes no compiler record (the stack address of the frame):
   index 4 still overwrites the guard. A call of a handler counts only as
   part of a check tied to a compiler record, so this build holds none. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "frame.h"

__attribute__((noinline, noreturn)) void __ubsan_handle_out_of_bounds_abort(void *data, unsigned long index)
{
	(void)data;
	(void)index;
	_exit(99);
}

__attribute__((noinline)) static int poke(int n, int v)
{
	struct frame t;
	init(&t);
	if ((unsigned)n > 100)
		__ubsan_handle_out_of_bounds_abort(&t, (unsigned long)n);
	t.a[n] = v;
	return show(&t, n);
}

int main(int argc, char **argv)
{
	return poke(argc > 1 ? atoi(argv[1]) : 0, 0x41414141);
}
