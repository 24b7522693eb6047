#include <string.h>
#include "proj.h"

unsigned hash_words(void)
{
	unsigned h = 2166136261u;
	size_t i, j;

	for (i = 0; i < table_len(); i++) {
		const char *w = table_word(i);
		for (j = 0; j < strlen(w); j++)
			h = (h ^ (unsigned char)w[j]) * 16777619u;
	}
	return h;
}
