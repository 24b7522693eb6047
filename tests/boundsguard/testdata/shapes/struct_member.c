/* An overrun from one struct member into the next. */
#include "../harness.h"
struct rec {
	int a[4];
	int b[4];
};
static NOINLINE int shape(int n)
{
	struct rec r;
	guard(r.b, sizeof r.b);
	for (int i = 0; i < n; i++)
		r.a[i] = 0x41414141;
	return finish(r.a[0] == 0x41414141);
}
