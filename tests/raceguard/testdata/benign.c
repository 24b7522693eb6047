/* Programs that must raise no RaceGuard alarm, one per argv[1], in the
 * directory argv[2]. Each prints what it did and exits 0 when every call
 * did what it would do without RaceGuard.
 *   cycle    probe, create, remove, create again, many times, by every
 *            wrapper; creates of names never probed; more absent names
 *            probed than the table holds, then all created
 *   threads  8 threads probing and creating their own names and one name
 *            they share (O_CREAT without O_EXCL, as a log file)
 *   fork     parent and child each probe and create their own names,
 *            before and after the fork
 *   chdir    a relative probe, chdir elsewhere and back, the create */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *dir;
static int failures;

#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #c, \
			        strerror(errno));                                  \
			__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);        \
		}                                                                  \
	} while (0)

static void path(char *buf, size_t n, const char *fmt, long a, long b)
{
	char name[256];
	snprintf(name, sizeof name, fmt, a, b);
	snprintf(buf, n, "%s/%s", dir, name);
}

static int absent(const char *p)
{
	struct stat st;
	return stat(p, &st) != 0 && errno == ENOENT;
}

static void probe_create(const char *p)
{
	CHECK(absent(p));
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, "x", 1) == 1);
	close(fd);
}

static void cycle(void)
{
	char p[4096], q[4096];
	for (long i = 0; i < 200; i++) {
		path(p, sizeof p, "cycle%ld", i % 7, 0);
		probe_create(p);
		CHECK(unlink(p) == 0);
		CHECK(access(p, F_OK) != 0);
		FILE *f = fopen(p, "w");
		CHECK(f != NULL);
		if (f)
			fclose(f);
		f = fopen(p, "a"); /* exists now, made by us: plain append */
		CHECK(f != NULL);
		if (f)
			fclose(f);
		CHECK(remove(p) == 0);
		CHECK(absent(p));
		CHECK(mkdir(p, 0700) == 0);
		CHECK(rmdir(p) == 0);
		CHECK(absent(p));
		path(q, sizeof q, "cycle%ld.tmp", i % 7, 0);
		int fd = open(q, O_CREAT | O_EXCL | O_WRONLY, 0644);
		CHECK(fd >= 0);
		close(fd);
		CHECK(rename(q, p) == 0);
		fd = creat(p, 0644); /* the program's own file: overwritten */
		CHECK(fd >= 0);
		close(fd);
		CHECK(unlink(p) == 0);
	}
	/* More absent names than the table holds, then every one created. */
	for (long i = 0; i < 1000; i++) {
		path(p, sizeof p, "many%ld", i, 0);
		CHECK(absent(p));
	}
	for (long i = 0; i < 1000; i++) {
		path(p, sizeof p, "many%ld", i, 0);
		int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		CHECK(fd >= 0);
		close(fd);
	}
	/* A name created, then probed while it exists, then truncated. */
	path(p, sizeof p, "exists", 0, 0);
	probe_create(p);
	CHECK(!absent(p));
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	close(fd);
	printf("cycle done\n");
}

static void *worker(void *arg)
{
	long id = (long)arg;
	char p[4096], shared[4096];
	path(shared, sizeof shared, "shared.log", 0, 0);
	for (long i = 0; i < 300; i++) {
		path(p, sizeof p, "t%ld-%ld", id, i % 5);
		probe_create(p);
		CHECK(unlink(p) == 0);
		(void)absent(shared);
		int fd = open(shared, O_CREAT | O_WRONLY | O_APPEND, 0644);
		CHECK(fd >= 0);
		CHECK(write(fd, "l\n", 2) == 2);
		close(fd);
	}
	return NULL;
}

static void threads(void)
{
	pthread_t th[8];
	for (long i = 0; i < 8; i++)
		CHECK(pthread_create(&th[i], NULL, worker, (void *)i) == 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	printf("threads done\n");
}

static void forks(void)
{
	char p[4096];
	path(p, sizeof p, "before-fork", 0, 0);
	CHECK(absent(p));
	for (long k = 0; k < 20; k++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			char c[4096];
			path(c, sizeof c, "child%ld", k, 0);
			probe_create(c);
			_exit(failures ? 1 : 0);
		}
		char q[4096];
		path(q, sizeof q, "parent%ld", k, 0);
		probe_create(q);
		int st;
		CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	close(fd);
	printf("fork done\n");
}

static void chdirs(void)
{
	CHECK(chdir(dir) == 0);
	CHECK(mkdir("sub", 0700) == 0);
	CHECK(absent("rel"));
	CHECK(chdir("sub") == 0);
	CHECK(absent("rel"));
	int fd = open("rel", O_CREAT | O_WRONLY | O_TRUNC, 0644); /* sub/rel */
	CHECK(fd >= 0);
	close(fd);
	CHECK(chdir("..") == 0);
	fd = open("rel", O_CREAT | O_WRONLY | O_TRUNC, 0644); /* dir/rel */
	CHECK(fd >= 0);
	close(fd);
	printf("chdir done\n");
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 4;
	dir = argv[2];
	if (!strcmp(argv[1], "cycle"))
		cycle();
	else if (!strcmp(argv[1], "threads"))
		threads();
	else if (!strcmp(argv[1], "fork"))
		forks();
	else if (!strcmp(argv[1], "chdir"))
		chdirs();
	else
		return 4;
	return failures ? 1 : 0;
}
