/* A wide-character string copied into a too-small array (wcscpy). */
#include "../harness.h"
#include <wchar.h>
static NOINLINE int shape(int n)
{
	wchar_t src[64];
	wchar_t b[8];
	wchar_t w[8];
	guard(b, sizeof b);
	wmemset(src, L'A', 64);
	src[n < 64 ? n - 1 : 63] = 0;
	wcscpy(w, src); /* N=8 fits, N=9 does not */
	return finish((int)wcslen(w));
}
