/* A loop that runs one element past a declared array into the next local. */
#include "../harness.h"
static NOINLINE int shape(int n)
{
	int b[8];
	int a[8];
	guard(b, sizeof b);
	for (int i = 0; i <= n - 1; i++)
		a[i] = 0x41414141;
	return finish((a[0] == 0x41414141) + (b[3] == 0x47474747));
}
