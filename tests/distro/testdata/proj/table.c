#include <string.h>
#include "proj.h"

static const char *words[64];
static size_t nwords;

void table_add(const char *word)
{
	if (nwords < sizeof words / sizeof words[0])
		words[nwords++] = word;
}

size_t table_len(void) { return nwords; }

const char *table_word(size_t i) { return i < nwords ? words[i] : ""; }
