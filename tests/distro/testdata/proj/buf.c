#include <stdio.h>
#include <string.h>
#include "proj.h"

size_t buf_render(char *out, size_t size)
{
	char line[256]; /* a local array: this function gets a canary */
	size_t i, len;

	len = (size_t)snprintf(line, sizeof line, "%zu words:", table_len());
	for (i = 0; i < table_len() && len < sizeof line; i++) {
		const char *w = table_word(i);
		len += (size_t)snprintf(line + len, sizeof line - len, word_format(1), w, strlen(w));
	}
	strncpy(out, line, size - 1);
	out[size - 1] = '\0';
	return strlen(out);
}
