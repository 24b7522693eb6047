/* An index that is exactly the array's length, from input. */
#include "../harness.h"
static NOINLINE int shape(int n)
{
	long b[4];
	long a[16];
	guard(b, sizeof b);
	memset(a, 0, sizeof a);
	a[n - 1] = 7; /* N=16: a[15]; N=17: a[16] */
	return finish((int)(a[15] + a[0]));
}
