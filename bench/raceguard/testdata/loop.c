/* The file-heavy loop: per round, the probes and opens of existing and
 * absent names a program makes, and the probe-create-remove of a
 * temporary name (the pattern RaceGuard watches). argv: DIR ROUNDS. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *dir = argv[1];
	long rounds = atol(argv[2]);
	char have[16][512], none[64][512], tmp[512];
	for (int i = 0; i < 16; i++) {
		snprintf(have[i], sizeof have[i], "%s/have%d", dir, i);
		int fd = open(have[i], O_CREAT | O_WRONLY | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "data\n", 5) != 5)
			return 1;
		close(fd);
	}
	for (int i = 0; i < 64; i++)
		snprintf(none[i], sizeof none[i], "%s/none%d", dir, i);
	snprintf(tmp, sizeof tmp, "%s/tmpfile", dir);
	struct stat st;
	char c;
	long ok = 0;
	for (long r = 0; r < rounds; r++) {
		const char *h = have[r % 16], *n = none[r % 64];
		ok += stat(h, &st) == 0;
		int fd = open(h, O_RDONLY);
		if (fd >= 0) {
			ok += read(fd, &c, 1) == 1;
			close(fd);
		}
		ok += stat(n, &st) != 0;
		ok += access(n, F_OK) != 0;
		ok += lstat(n, &st) != 0;
		ok += open(n, O_RDONLY) < 0;
		if (access(tmp, F_OK) != 0) {
			fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC, 0600);
			if (fd >= 0) {
				ok++;
				close(fd);
			}
			unlink(tmp);
		}
	}
	printf("%ld\n", ok);
	return ok == rounds * 7 ? 0 : 1;
}
