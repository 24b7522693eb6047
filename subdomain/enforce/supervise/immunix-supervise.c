/*
 * immunix-supervise: the SubDomain supervisor's stand-in while there is
 * nothing to supervise.
 *
 *   immunix-supervise 2 TYPES IMMUNIX ARGV0 ARGS...
 *
 * "2" is the version of this argument list and of the hand-over below.
 * immunix run starts it, when it is installed, in place of "immunix
 * __subdomain-supervisor" (subdomain/enforce/supervise.go, which owns the
 * protocol): the Go supervisor's runtime would otherwise start beside
 * every confined program, on the CPU the program starts on. Descriptor 3
 * is a socket on which immunix run sends the supervisor one message:
 * NUL-separated fields, of which this program reads the first three,
 * FLAGS, LOST and STATEDIR, and the descriptors, in this order: the
 * program's pidfd; when FLAGS holds 'a', the audit multicast socket, the
 * audit control socket and STATEDIR/audit.lock (held shared); when FLAGS
 * holds 'n', the seccomp listener. It reads them with MSG_PEEK: the
 * message stays queued for the supervisor. It then waits for the first
 * of:
 *
 *   - the program's exit (its pidfd readable);
 *   - a seccomp notification (the listener readable);
 *   - an audit record of one of TYPES (comma-separated record types) on
 *     the multicast socket; records of other types are read and dropped,
 *     as the supervisor itself drops them.
 *
 * A notification or a record of TYPES wakes the supervisor: this program
 * execs IMMUNIX with ARGV0 ARGS..., descriptor 3 unchanged (the message
 * still queued on it), and IMMUNIX_SUPERVISE_OVERFLOWS in its
 * environment when the multicast socket overflowed while it waited.
 *
 * The program's exit with nothing to supervise (no notification, no
 * record of TYPES, no process left using its seccomp filter) is ended
 * here, as the supervisor would end it: a marker logged through the audit
 * queue is read back (every record the program caused has then been
 * read), the kernel's count of lost records is compared with LOST, and
 * the audit switch is released (turned off when this was the last run
 * holding it and an immunix run turned it on: subdomain/enforce/audit.go,
 * auditHold; FLAGS 'v': say so). Anything else on the way, a record of
 * TYPES, a lost record, an overflow, an error, a time-out, wakes the
 * supervisor, which does it all again its own way: this program only
 * ever delays the supervisor, never decides for it.
 *
 * No allocation, no stdio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 8
#define MAX_TYPES 16
/* The message's first fields: flags, a count, and a path. */
#define MSG_MAX (64 + 4096)
/* The largest audit record (MAX_AUDIT_MESSAGE_LENGTH) with its header. */
#define RECORD_MAX (8970 + 64)

extern char **environ;

static void say(const char *a, const char *b)
{
	const char *parts[] = {a, b, "\n"};
	for (unsigned i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		const char *p = parts[i];
		size_t n = strlen(p);
		while (n > 0) {
			ssize_t w = write(2, p, n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return;
			p += w;
			n -= (size_t)w;
		}
	}
}

static int types[MAX_TYPES];
static int ntypes;

static int parse_types(const char *s)
{
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v <= 0 || v > 0xffff || ntypes == MAX_TYPES)
			return -1;
		types[ntypes++] = (int)v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return ntypes > 0 ? 0 : -1;
}

static int wanted(int type)
{
	for (int i = 0; i < ntypes; i++)
		if (types[i] == type)
			return 1;
	return 0;
}

static char msg[MSG_MAX + 1];
static size_t msglen;
static int fds[MAX_FDS];
static int nfds;
static unsigned long overflows;
static char record[RECORD_MAX];

/* next_record returns where the record at off of a datagram of n bytes
 * ends, as enforce.Audit.Read splits them: a record whose length is
 * wrong (multicast audit messages may carry one) is the rest of the
 * datagram. Iterate with
 *   for (off = 0; n - off >= sizeof(struct nlmsghdr); off = next_record(buf, off, n)) */
static size_t next_record(const char *buf, size_t off, size_t n)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)(buf + off);
	size_t l = h->nlmsg_len;
	if (l < sizeof *h || l > n - off)
		return n;
	l = NLMSG_ALIGN(l);
	return l > n - off ? n : off + l;
}

/* payload_len is the length of the payload of the record at off. */
static size_t payload_len(const char *buf, size_t off, size_t n)
{
	return next_record(buf, off, n) - off - NLMSG_HDRLEN;
}

/* receive peeks at immunix run's hand-over on descriptor 3 (the message
 * may be longer than msg: its head is enough). It returns 0 when immunix
 * run ended without one (it failed before the program started, or
 * needed no supervisor): there is nothing to supervise. */
static int receive(void)
{
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = msg, .iov_len = MSG_MAX};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
	ssize_t n;
	do
		n = recvmsg(3, &mh, MSG_PEEK | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	msglen = (size_t)n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && nfds < MAX_FDS; i++)
			memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	return 1;
}

/* put_decimal writes v in decimal at p and returns the end. */
static char *put_decimal(char *p, unsigned long long v)
{
	char d[24];
	int n = 0;
	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = d[--n];
	return p;
}

/* wake execs the supervisor, which reads the hand-over still queued on
 * descriptor 3; it returns only when that fails. */
static void wake(char **argv)
{
	static char *envp[64];
	static char extra[64] = "IMMUNIX_SUPERVISE_OVERFLOWS=";
	int n = 0;
	for (char **e = environ; *e != NULL && n < 62; e++)
		envp[n++] = *e;
	if (overflows > 0) {
		*put_decimal(extra + strlen(extra), overflows) = '\0';
		envp[n++] = extra;
	}
	envp[n] = NULL;
	execve(argv[0], argv + 1, envp);
	say("immunix-supervise: exec the supervisor: ", strerror(errno));
}

/* audit_ready reads the multicast socket's queued records: 1 when the
 * next one is of a wanted type (left queued for the supervisor), 0 when
 * the queue is empty again, -1 on an error the supervisor must see. */
static int audit_ready(int fd)
{
	for (;;) {
		ssize_t n = recv(fd, record, sizeof record, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOBUFS) {
				overflows++;
				continue;
			}
			return -1;
		}
		for (size_t off = 0; (size_t)n - off >= sizeof(struct nlmsghdr); off = next_record(record, off, (size_t)n))
			if (wanted(((struct nlmsghdr *)(record + off))->nlmsg_type))
				return 1;
		/* Nothing the supervisor reads: drop the datagram. */
		while (recv(fd, record, sizeof record, MSG_DONTWAIT) < 0 && errno == EINTR)
			;
	}
}

/* wait_fd polls one descriptor for POLLIN up to ms milliseconds: 1
 * readable, 0 timed out, -1 an error or a hang-up. */
static int wait_fd(int fd, int ms)
{
	struct timespec now, end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = (end.tv_sec - now.tv_sec) * 1000L + (end.tv_nsec - now.tv_nsec) / 1000000L;
		if (left < 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		return (p.revents & POLLIN) ? 1 : -1;
	}
}

static uint32_t seq;

/* audit_send sends one request on the audit control socket. */
static int audit_send(int ctl, uint16_t type, uint16_t flags, const void *payload, size_t len)
{
	char buf[NLMSG_SPACE(128)];
	if (len > 128)
		return -1;
	memset(buf, 0, sizeof buf);
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	h->nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	h->nlmsg_seq = ++seq;
	memcpy(NLMSG_DATA(h), payload, len);
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	ssize_t n;
	do
		n = sendto(ctl, buf, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

/* audit_reply waits (1 s at most) for the kernel's answer to the request
 * last sent: the status for AUDIT_GET (copied to st), the acknowledgement
 * for AUDIT_SET. 0 on success, -1 otherwise. */
static int audit_reply(int ctl, uint16_t type, struct audit_status *st)
{
	char buf[1024];
	for (;;) {
		if (wait_fd(ctl, 1000) != 1)
			return -1;
		ssize_t n = recv(ctl, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		for (size_t off = 0; (size_t)n - off >= sizeof(struct nlmsghdr); off = next_record(buf, off, (size_t)n)) {
			struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
			if (h->nlmsg_seq != seq)
				continue; /* an earlier request's acknowledgement */
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				if (payload_len(buf, off, (size_t)n) < sizeof *e || e->error != 0)
					return -1;
				if (type != AUDIT_GET)
					return 0;
			} else if (h->nlmsg_type == type && type == AUDIT_GET) {
				size_t have = payload_len(buf, off, (size_t)n);
				memset(st, 0, sizeof *st);
				memcpy(st, NLMSG_DATA(h), have < sizeof *st ? have : sizeof *st);
				return 0;
			}
		}
	}
}

static int audit_status(int ctl, struct audit_status *st)
{
	if (audit_send(ctl, AUDIT_GET, NLM_F_REQUEST, NULL, 0) < 0)
		return -1;
	return audit_reply(ctl, AUDIT_GET, st);
}

/* drain logs a marker through the audit queue and reads the multicast
 * socket until it comes back (2 s at most, as the supervisor's drain):
 * 0 then, 1 when a record of TYPES came first, -1 on anything else. */
static int drain(int mc, int ctl)
{
	char marker[96];
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* "immunix-run-drain PID NS": unique to this run and moment. */
	char *p = marker;
	const char *prefix = "immunix-run-drain ";
	memcpy(p, prefix, strlen(prefix));
	p += strlen(prefix);
	unsigned long long nums[2] = {(unsigned long long)getpid(), (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec};
	for (int k = 0; k < 2; k++) {
		p = put_decimal(p, nums[k]);
		*p++ = k == 0 ? ' ' : '\0';
	}
	size_t mlen = (size_t)(p - marker); /* with its NUL */
	if (audit_send(ctl, AUDIT_USER, NLM_F_REQUEST, marker, mlen) < 0)
		return -1;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
		if (spent >= 2000 || wait_fd(mc, (int)(2000 - spent)) != 1)
			return -1;
		ssize_t n = recv(mc, record, sizeof record, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno == ENOBUFS)
				overflows++;
			return -1;
		}
		int found = 0;
		for (size_t off = 0; (size_t)n - off >= sizeof(struct nlmsghdr); off = next_record(record, off, (size_t)n)) {
			struct nlmsghdr *h = (struct nlmsghdr *)(record + off);
			if (wanted(h->nlmsg_type))
				return 1;
			if ((h->nlmsg_type == AUDIT_USER || h->nlmsg_type == 1100 /* AUDIT_FIRST_USER_MSG */) &&
			    memmem(record + off + NLMSG_HDRLEN, payload_len(record, off, (size_t)n), marker, mlen - 1) != NULL)
				found = 1;
		}
		while (recv(mc, record, sizeof record, MSG_DONTWAIT) < 0 && errno == EINTR)
			;
		if (found)
			return 0;
	}
}

/* release ends this run's hold on the audit switch, as auditHold.release
 * does: 0 done, -1 on an error (the supervisor then tries, and says). */
static int release(int ctl, int lock, const char *state, int verbose)
{
	int r;
	do
		r = flock(lock, LOCK_EX | LOCK_NB);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? 0 : -1; /* another run still needs the audit */
	struct stat sb;
	if (stat(state, &sb) < 0)
		return errno == ENOENT ? 0 : -1; /* the audit was on before any immunix run */
	struct audit_status st;
	if (audit_status(ctl, &st) < 0)
		return -1;
	if (st.enabled == 1) {
		struct audit_status set;
		memset(&set, 0, sizeof set);
		set.mask = AUDIT_STATUS_ENABLED;
		set.enabled = 0;
		if (audit_send(ctl, AUDIT_SET, NLM_F_REQUEST | NLM_F_ACK, &set, sizeof set) < 0 || audit_reply(ctl, AUDIT_SET, NULL) < 0)
			return -1;
	}
	if (unlink(state) < 0)
		return -1;
	if (st.enabled == 1 && verbose)
		say("immunix run: ", "turned the kernel's audit back off"); /* as the supervisor says it */
	return 0;
}

/* confined_gone reports whether the seccomp listener hung up within
 * CONFINED_GONE_MS: no process uses the filter any more. The kernel
 * lets the filter go when the program's parent reaps it, just after its
 * pidfd said it exited; a process the program left running (a daemon's
 * child) keeps it, and the supervisor is woken to serve it. */
#define CONFINED_GONE_MS 250
static int confined_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;
	do
		r = poll(&p, 1, CONFINED_GONE_MS);
	while (r < 0 && errno == EINTR);
	return r == 1 && (p.revents & POLLHUP) && !(p.revents & POLLIN);
}

/* quiet_end ends a run whose program exited with nothing to supervise: 0
 * when it did, -1 when the supervisor must be woken to end it. */
static int quiet_end(int audit, int notify, unsigned long lost_at_open, const char *state, int verbose)
{
	if (notify && !confined_gone(fds[nfds - 1]))
		return -1; /* its processes may still call; the supervisor serves them */
	if (!audit)
		return 0;
	int mc = fds[1], ctl = fds[2], lock = fds[3];
	if (drain(mc, ctl) != 0 || overflows > 0)
		return -1;
	struct audit_status st;
	if (audit_status(ctl, &st) < 0 || st.lost != (uint32_t)lost_at_open)
		return -1;
	return release(ctl, lock, state, verbose);
}

int main(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[1], "2") != 0) {
		/* Not immunix run's, or an immunix of another version. */
		say("immunix-supervise: started by immunix run only, of the same version: reinstall immunix", "");
		return 2;
	}
	if (parse_types(argv[2]) < 0) {
		say("immunix-supervise: bad record types: ", argv[2]);
		return 2;
	}
	char **next = argv + 3; /* IMMUNIX ARGV0 ARGS... */
	if (!receive())
		return 0;
	msg[msglen] = '\0';
	/* FLAGS \0 LOST \0 STATEDIR \0 ... */
	const char *flags = msg;
	const char *lost = memchr(msg, '\0', msglen) ? flags + strlen(flags) + 1 : NULL;
	const char *dir = lost && lost < msg + msglen ? lost + strlen(lost) + 1 : NULL;
	if (dir == NULL || dir >= msg + msglen || memchr(dir, '\0', (size_t)(msg + msglen - dir)) == NULL) {
		wake(next); /* not what this program reads: the supervisor makes sense of it */
		return 1;
	}
	char *end;
	unsigned long lost_at_open = strtoul(lost, &end, 10);
	int audit = strchr(flags, 'a') != NULL;
	int notify = strchr(flags, 'n') != NULL;
	int verbose = strchr(flags, 'v') != NULL;
	int want = 1 + (audit ? 3 : 0) + (notify ? 1 : 0);
	char state[4096 + 32];
	const char *statename = "/audit-enabled-by-immunix";
	if (*end != '\0' || end == lost || nfds != want || strlen(dir) + strlen(statename) + 1 > sizeof state) {
		wake(next);
		return 1;
	}
	memcpy(state, dir, strlen(dir));
	memcpy(state + strlen(dir), statename, strlen(statename) + 1);
	struct pollfd p[3];
	int np = 0;
	p[np++] = (struct pollfd){.fd = fds[0], .events = POLLIN};
	int audit_at = -1;
	if (audit) {
		audit_at = np;
		p[np++] = (struct pollfd){.fd = fds[1], .events = POLLIN};
	}
	if (notify)
		p[np++] = (struct pollfd){.fd = fds[nfds - 1], .events = POLLIN};
	int exited = 0, notify_gone = 0;
	for (;;) {
		int r = poll(p, (nfds_t)np, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		int go = 0;
		for (int i = 0; i < np && !go; i++) {
			if (p[i].revents == 0)
				continue;
			if (i == audit_at && !(p[i].revents & ~POLLIN))
				go = audit_ready(p[i].fd) != 0;
			else if (i == 0 && !(p[i].revents & ~(POLLIN | POLLHUP)))
				exited = go = 1; /* POLLHUP too once it is reaped */
			else if (i == np - 1 && notify && p[i].revents == POLLHUP) {
				/* No process uses the filter: the program has gone
				 * and its pidfd says so next. */
				notify_gone = 1;
				p[i].fd = -1;
			} else
				go = 1;
		}
		if (go)
			break;
	}
	if (exited && quiet_end(audit, notify && !notify_gone, lost_at_open, state, verbose) == 0)
		return 0;
	wake(next);
	return 1;
}
