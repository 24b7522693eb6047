/* A multi-dimensional array indexed past its last row's end. */
#include "../harness.h"
static NOINLINE int shape(int n)
{
	int b[8];
	int m[4][4];
	guard(b, sizeof b);
	memset(m, 0, sizeof m);
	for (int c = 0; c < n; c++)
		m[3][c] = 0x41414141; /* N=4 fits, N=5 writes m[3][4] */
	return finish(m[3][0] == 0x41414141);
}
