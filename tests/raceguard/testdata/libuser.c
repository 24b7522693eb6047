/* argv[1]:
 *   libprobe-fopen  the library probes (stat), the program creates (fopen "w")
 *   access-dlcreate the program probes (access), a library it dlopens
 *                   creates (open O_CREAT|O_TRUNC)
 * with the same window hook as victim.c. argv[3] is the dlopened library. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int lib_absent(const char *p);

static void window(const char *name)
{
	char c;
	printf("ready %s\n", name);
	fflush(stdout);
	if (read(0, &c, 1) != 1)
		exit(5);
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 4;
	const char *p = argv[2];
	if (!strcmp(argv[1], "libprobe-fopen")) {
		if (!lib_absent(p))
			return 2;
		window(p);
		FILE *f = fopen(p, "w");
		if (!f) {
			fprintf(stderr, "fopen: %s\n", strerror(errno));
			return 3;
		}
		fputs("victim data\n", f);
		return fclose(f) ? 3 : 0;
	}
	if (!strcmp(argv[1], "access-dlcreate")) {
		if (access(p, F_OK) == 0)
			return 2;
		void *h = dlopen(argv[3], RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 6;
		}
		int (*create)(const char *) = (int (*)(const char *))dlsym(h, "lib_create");
		window(p);
		int fd = create(p);
		if (fd < 0) {
			fprintf(stderr, "open: %s\n", strerror(errno));
			return 3;
		}
		return write(fd, "victim data\n", 12) == 12 ? 0 : 3;
	}
	return 4;
}
