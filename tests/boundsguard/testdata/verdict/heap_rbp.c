/* gawk's readfile.c, read_file_to_buffer: the only index is into a
   malloc'd buffer; optimised code keeps that pointer in %rbp (no frame
   pointer), and text[n] = '\0' reads (%rbp,%reg,1): not the stack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

__attribute__((noinline)) static char *read_all(int fd, const struct stat *sb)
{
	char *text;
	if (!S_ISREG(sb->st_mode)) {
		fprintf(stderr, "not a regular file\n");
		return NULL;
	}
	text = malloc(sb->st_size + 1);
	if (text == NULL)
		return NULL;
	if (read(fd, text, sb->st_size) != sb->st_size) {
		fprintf(stderr, "short read\n");
		free(text);
		return NULL;
	}
	text[sb->st_size] = '\0';
	return text;
}

int main(int argc, char **argv)
{
	struct stat sb;
	if (argc < 2 || stat(argv[1], &sb) != 0)
		return 2;
	FILE *f = fopen(argv[1], "r");
	if (f == NULL)
		return 2;
	char *t = read_all(fileno(f), &sb);
	if (t == NULL)
		return 1;
	printf("%zu\n", strlen(t));
	free(t);
	fclose(f);
	return 0;
}
