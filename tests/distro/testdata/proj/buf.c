#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "proj.h"

/* The project's own printf helper: FormatGuard's helper pass rewrites its
 * call below (fgh=2 in buf.o's stamp), also under ccache and distcc. */
static size_t append_fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	return n < 0 ? 0 : (size_t)n;
}

size_t buf_render(char *out, size_t size)
{
	char line[256]; /* a local array: this function gets a canary */
	size_t i, len;

	len = (size_t)snprintf(line, sizeof line, "%zu words:", table_len());
	for (i = 0; i < table_len() && len < sizeof line; i++) {
		const char *w = table_word(i);
		len += append_fmt(line + len, sizeof line - len, word_format(1), w, strlen(w));
	}
	strncpy(out, line, size - 1);
	out[size - 1] = '\0';
	return strlen(out);
}
