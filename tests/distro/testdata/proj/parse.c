#include <stdlib.h>
#include "proj.h"

int parse_count(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end != '\0' || v < 0 || v > 64)
		return 0;
	return (int)v;
}
