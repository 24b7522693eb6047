/* An alloca buffer sized in bytes and filled with ints. */
#include "../harness.h"
#include <alloca.h>
static NOINLINE int shape(int n)
{
	int b[8];
	guard(b, sizeof b);
	int *p = alloca(16); /* room for 4 ints */
	for (int i = 0; i < n; i++)
		p[i] = 0x41414141;
	return finish(p[0] == 0x41414141);
}
