/* An off-by-one copy loop: copies the terminator one past the buffer. */
#include "../harness.h"
static NOINLINE int shape(int n)
{
	char src[64];
	char b[16];
	char dst[16];
	guard(b, sizeof b);
	memset(src, 'x', sizeof src);
	src[n < 64 ? n - 1 : 63] = 0;
	int i;
	for (i = 0; src[i]; i++)
		dst[i] = src[i];
	dst[i] = 0; /* N=16: dst[15]; N=17: dst[16] */
	return finish(i + dst[0]);
}
