/* A wide-character array written one past its end by a loop. */
#include "../harness.h"
#include <wchar.h>
static NOINLINE int shape(int n)
{
	wchar_t b[8];
	wchar_t w[8];
	guard(b, sizeof b);
	for (int i = 0; i < n; i++)
		w[i] = L'A';
	return finish(w[0] == L'A');
}
