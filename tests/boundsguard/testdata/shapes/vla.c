/* A VLA sized from input, written one past its end. */
#include "../harness.h"
static NOINLINE int shape(int n)
{
	int b[8];
	guard(b, sizeof b);
	int m = n < 8 ? 4 : 8; /* N=4: 4 of 4; N=9: 9 of 8 */
	int v[m];
	for (int i = 0; i < n; i++)
		v[i] = 0x41414141;
	return finish(v[0] == 0x41414141);
}
