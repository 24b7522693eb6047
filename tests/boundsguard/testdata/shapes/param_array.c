/* The same through a function that takes int a[10]. */
#include "../harness.h"
static NOINLINE void fill(int a[10], int n)
{
	for (int i = 0; i < n; i++)
		a[i] = 0x41414141;
}
static NOINLINE int shape(int n)
{
	int b[8];
	int a[10];
	guard(b, sizeof b);
	fill(a, n); /* N=10 fits, N=11 does not */
	return finish(a[0] == 0x41414141);
}
