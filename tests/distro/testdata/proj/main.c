#include <stdio.h>
#include "proj.h"

int main(int argc, char **argv)
{
	char out[512];
	int n, i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s N WORD...\n", argv[0]);
		return 2;
	}
	n = parse_count(argv[1]);
	for (i = 2; i < argc && i - 2 < n; i++)
		table_add(argv[i]);
	buf_render(out, sizeof out);
	printf("%s hash=%08x\n", out, hash_words());
	return 0;
}
