/* mapwrite: change one byte of FILE at OFFSET through a shared writable
 * mapping, the way the kernel reports nothing for (no modify event; on
 * tmpfs no ctime either).
 *   mapwrite flip FILE OFFSET   map, read-fault the page, flip the byte, unmap
 *   mapwrite hold FILE OFFSET   map, write-fault the page (same byte), say
 *                               "ready", wait for a line on stdin, then flip
 *                               the byte through the page already writable,
 *                               unmap, say "done"
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: mapwrite flip|hold FILE OFFSET\n");
		return 2;
	}
	long off = atol(argv[3]);
	int fd = open(argv[2], O_RDWR);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	long page = sysconf(_SC_PAGESIZE);
	long base = off - off % page;
	volatile unsigned char *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, base);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	close(fd); /* the mapping alone keeps the file open for writing */
	volatile unsigned char *b = p + (off - base);
	if (strcmp(argv[1], "hold") == 0) {
		*b = *b; /* write fault: the page is writable from now on */
		printf("ready\n");
		fflush(stdout);
		char line[16];
		if (!fgets(line, sizeof line, stdin))
			return 1;
	} else {
		unsigned char c = *b; /* read fault */
		(void)c;
	}
	*b ^= 0x01;
	munmap((void *)p, page);
	printf("done\n");
	return 0;
}
