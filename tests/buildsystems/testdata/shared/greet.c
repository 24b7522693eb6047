#include <stdio.h>
#include <string.h>
#include "greet.h"

int greet(char *out, size_t n, const char *name)
{
	char buf[64];
	strncpy(buf, name, sizeof buf - 1);
	buf[sizeof buf - 1] = '\0';
	return snprintf(out, n, "hello, %s", buf);
}
