#include <stdio.h>
#include <stdlib.h>
#include "greet.h"

int main(int argc, char **argv)
{
	char line[256];
	/* GREET_FORMAT picks the output format: a non-literal format string,
	 * which FormatGuard checks at run time. */
	const char *fmt = getenv("GREET_FORMAT");

	if (argc < 2) {
		fprintf(stderr, "usage: %s NAME\n", argv[0]);
		return 2;
	}
	if (fmt == NULL)
		fmt = "%s\n";
	printf(fmt, greet_line(line, sizeof line, "hello", argv[1]));
	return 0;
}
