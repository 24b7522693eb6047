/* A victim of the temporary-file race, one pattern per argv[1]:
 *   access-open  access(P) fails, then open(P, O_CREAT|O_WRONLY|O_TRUNC)
 *   stat-fopen   stat(P) fails, then fopen(P, "w")
 *   mktemp-open  mktemp(DIR/vXXXXXX), then open(name, O_CREAT|O_WRONLY|O_TRUNC)
 *   tmpnam-fopen tmpnam(), then fopen(name, "w")
 *   probe-mkdir  stat(P) fails, then mkdir(P) (EEXIST tolerated, as many
 *                programs do), then open(P/out, O_CREAT|O_WRONLY|O_TRUNC)
 *   probe-rename stat(P) fails, then P.new written and rename(P.new, P)
 *   access-rawopen access(P) fails, then the openat system call made
 *                directly (syscall(2)): a create RaceGuard cannot see
 * The test's hook: between the probe and the create the victim prints
 * "ready NAME" on stdout and blocks reading one byte from stdin, so the test
 * plants its file exactly inside the window, deterministically.
 * Exit: 0 written, 2 the probe found the name, 3 the create failed (the
 * error on stderr), 4 usage. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char data[] = "victim data\n";

static void window(const char *name)
{
	char c;
	printf("ready %s\n", name);
	fflush(stdout);
	if (read(0, &c, 1) != 1)
		exit(5);
}

static int fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	return 3;
}

static int write_fd(int fd)
{
	if (fd < 0)
		return fail("open");
	if (write(fd, data, sizeof data - 1) != (ssize_t)(sizeof data - 1))
		return fail("write");
	close(fd);
	return 0;
}

static int write_file(FILE *f)
{
	if (!f)
		return fail("fopen");
	fputs(data, f);
	return fclose(f) == 0 ? 0 : fail("fclose");
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 4;
	const char *pat = argv[1], *p = argv[2];
	struct stat st;
	if (!strcmp(pat, "access-open")) {
		if (access(p, F_OK) == 0)
			return 2;
		window(p);
		return write_fd(open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644));
	}
	if (!strcmp(pat, "stat-fopen")) {
		if (stat(p, &st) == 0)
			return 2;
		window(p);
		return write_file(fopen(p, "w"));
	}
	if (!strcmp(pat, "mktemp-open")) {
		char name[4096];
		snprintf(name, sizeof name, "%s/vXXXXXX", p);
		if (!mktemp(name)[0])
			return fail("mktemp");
		window(name);
		return write_fd(open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644));
	}
	if (!strcmp(pat, "tmpnam-fopen")) {
		char *name = tmpnam(NULL);
		if (!name)
			return fail("tmpnam");
		window(name);
		return write_file(fopen(name, "w"));
	}
	if (!strcmp(pat, "probe-mkdir")) {
		if (stat(p, &st) == 0)
			return 2;
		window(p);
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return fail("mkdir");
		char out[4096];
		snprintf(out, sizeof out, "%s/out", p);
		return write_fd(open(out, O_CREAT | O_WRONLY | O_TRUNC, 0644));
	}
	if (!strcmp(pat, "probe-rename")) {
		if (stat(p, &st) == 0)
			return 2;
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.new", p);
		int r = write_fd(open(tmp, O_CREAT | O_EXCL | O_WRONLY, 0644));
		if (r)
			return r;
		window(p);
		return rename(tmp, p) == 0 ? 0 : fail("rename");
	}
	if (!strcmp(pat, "access-rawopen")) {
		if (access(p, F_OK) == 0)
			return 2;
		window(p);
		return write_fd((int)syscall(SYS_openat, AT_FDCWD, p, O_CREAT | O_WRONLY | O_TRUNC, 0644));
	}
	return 4;
}
