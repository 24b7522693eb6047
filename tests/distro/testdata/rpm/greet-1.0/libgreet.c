#include <stdio.h>
#include <string.h>
#include "greet.h"

char *greet_line(char *buf, unsigned long size, const char *greeting, const char *name)
{
	char tmp[128]; /* a local array: the function gets a canary */

	snprintf(tmp, sizeof tmp, "%s, %s", greeting, name);
	strncpy(buf, tmp, size - 1);
	buf[size - 1] = '\0';
	return buf;
}
