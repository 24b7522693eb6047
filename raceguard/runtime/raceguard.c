/* RaceGuard: temporary-file races caught and refused (docs/raceguard.md).
 *
 * A program that probes a name, finds it absent, and then creates it without
 * O_EXCL can be raced: between the two calls another process plants a
 * symlink, a hard link or a file of its own under the name, and the program
 * writes through it. Here:
 *
 *  - the probes (stat, lstat, access, faccessat, euidaccess, fstatat,
 *    statx, their 64 forms and glibc's old __xstat forms) that fail with
 *    ENOENT, and every name mktemp, tmpnam, tmpnam_r and tempnam return,
 *    are remembered in a bounded per-process table, keyed by the directory
 *    (device, inode) and the base name;
 *  - a create of a remembered name that lacks O_EXCL (open, openat, creat
 *    and their 64 forms, fopen/freopen in "w"/"a" modes, the target of
 *    rename) is made exclusive (O_EXCL|O_NOFOLLOW, RENAME_NOREPLACE), so the
 *    kernel decides atomically; mkdir, mkfifo, mknod, link and symlink are
 *    exclusive already;
 *  - when that create fails with EEXIST, the name appeared between the
 *    probe and the create: one kind=raceguard alert, then by policy the
 *    call fails with EEXIST (refuse) or the process halts (kill).
 *
 * The wrappers carry the libc names and are exported from the executable's
 * dynamic symbol table (immunix-cc links this archive into dynamically linked
 * executables with --dynamic-list), so the program's own calls and those of
 * every shared library it loads reach them; the real functions are found
 * with dlsym(RTLD_NEXT). They are weak, so a program that defines one of
 * these names itself keeps its own.
 *
 * The table: RG_SLOTS entries in .bss (__immunix_raceguard_bytes says how
 * many bytes), found through an index chained by name hash (a bitmap marks
 * the slots in use), a spin lock
 * taken only to compare and copy entries (no system call is
 * made under it), a per-thread flag so a signal handler that interrupts the
 * holder skips the table instead of dead-locking, and fork handlers so a
 * child never inherits a held lock. A probe costs no system call: the entry
 * keeps the directory as the path string the program used (with the
 * working-directory generation for a relative one) and is resolved to
 * (device, inode) only when a create or removal of the same base name needs
 * it; chdir and fchdir resolve pending relative entries first. Probes
 * relative to a directory descriptor, and directory strings too long for an
 * entry, are resolved at once.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../guardlib/runtime/guard.h"

#define RG_WEAK __attribute__((weak, visibility("default")))

/* ---- policy ---------------------------------------------------------- */

enum { RG_OFF = 0, RG_REFUSE = 1, RG_KILL = 2 };
static int rg_mode = RG_REFUSE;
static const char *const rg_mode_names[] = {"off", "refuse", "kill"};

/* The marker immunix check looks for in the dynamic symbol table: this
 * archive is linked and its wrappers exported (the value is a format
 * version). */
const unsigned int __immunix_raceguard __attribute__((visibility("default"))) = 1;

/* ---- real functions -------------------------------------------------- */

/* Found with dlsym(RTLD_NEXT) in the initialiser, or on first use when a
 * library's constructor calls before it ran. */
#define REAL(ret, name, args) static ret(*real_##name) args
REAL(int, open, (const char *, int, ...));
REAL(int, open64, (const char *, int, ...));
REAL(int, openat, (int, const char *, int, ...));
REAL(int, openat64, (int, const char *, int, ...));
REAL(int, creat, (const char *, mode_t));
REAL(int, creat64, (const char *, mode_t));
REAL(FILE *, fopen, (const char *, const char *));
REAL(FILE *, fopen64, (const char *, const char *));
REAL(FILE *, freopen, (const char *, const char *, FILE *));
REAL(FILE *, freopen64, (const char *, const char *, FILE *));
REAL(int, stat, (const char *, void *));
REAL(int, stat64, (const char *, void *));
REAL(int, lstat, (const char *, void *));
REAL(int, lstat64, (const char *, void *));
REAL(int, fstatat, (int, const char *, void *, int));
REAL(int, fstatat64, (int, const char *, void *, int));
REAL(int, statx, (int, const char *, int, unsigned int, void *));
REAL(int, __xstat, (int, const char *, void *));
REAL(int, __xstat64, (int, const char *, void *));
REAL(int, __lxstat, (int, const char *, void *));
REAL(int, __lxstat64, (int, const char *, void *));
REAL(int, __fxstatat, (int, int, const char *, void *, int));
REAL(int, __fxstatat64, (int, int, const char *, void *, int));
REAL(int, access, (const char *, int));
REAL(int, faccessat, (int, const char *, int, int));
REAL(int, euidaccess, (const char *, int));
REAL(int, eaccess, (const char *, int));
REAL(char *, mktemp, (char *));
REAL(char *, tmpnam, (char *));
REAL(char *, tmpnam_r, (char *));
REAL(char *, tempnam, (const char *, const char *));
REAL(int, mkdir, (const char *, mode_t));
REAL(int, mkdirat, (int, const char *, mode_t));
REAL(int, mkfifo, (const char *, mode_t));
REAL(int, mkfifoat, (int, const char *, mode_t));
REAL(int, mknod, (const char *, mode_t, dev_t));
REAL(int, mknodat, (int, const char *, mode_t, dev_t));
REAL(int, link, (const char *, const char *));
REAL(int, linkat, (int, const char *, int, const char *, int));
REAL(int, symlink, (const char *, const char *));
REAL(int, symlinkat, (const char *, int, const char *));
REAL(int, rename, (const char *, const char *));
REAL(int, renameat, (int, const char *, int, const char *));
REAL(int, renameat2, (int, const char *, int, const char *, unsigned int));
REAL(int, unlink, (const char *));
REAL(int, unlinkat, (int, const char *, int));
REAL(int, rmdir, (const char *));
REAL(int, remove, (const char *));
REAL(int, chdir, (const char *));
REAL(int, fchdir, (int));

static void *rg_sym(void **slot, const char *name)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!p) {
		p = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	}
	return p;
}

/* R(name) is the real function, or NULL (then the wrapper fails ENOSYS). */
#define R(name) ((__typeof__(real_##name))rg_sym((void **)&real_##name, #name))
#define NOSYS(ret)             \
	do {                   \
		errno = ENOSYS; \
		return ret;     \
	} while (0)

/* ---- the table ------------------------------------------------------- */

#define RG_SLOTS 128 /* a multiple of 64 (rg_used), at most 255 (rg_next) */
#define RG_KEYLEN 384 /* base NUL [dir NUL] */
#define RG_BUCKETS 1024
#define RG_POISON 16

enum { P_NONE, P_STAT, P_STAT64, P_LSTAT, P_LSTAT64, P_FSTATAT, P_FSTATAT64, P_STATX, P_XSTAT, P_ACCESS,
       P_FACCESSAT, P_EUIDACCESS, P_MKTEMP, P_TMPNAM, P_TMPNAM_R, P_TEMPNAM, P_MKDIR_RACE };
static const char *const probe_names[] = {"-",         "stat",      "stat64",      "lstat",   "lstat64", "fstatat",
                                          "fstatat64", "statx",     "__xstat",     "access",  "faccessat",
                                          "euidaccess", "mktemp",   "tmpnam",      "tmpnam_r", "tempnam",
                                          "mkdir-race"};

/* An entry's life: a probe makes it S_PENDING; the create that matches it
 * claims it (S_CLAIMED, so another thread of the program creating the same
 * name waits instead of taking the first one's file for an attacker's);
 * then S_CREATED (the program made it: later creates are plain), or
 * S_RACED (the race was seen: later creates stay exclusive and alert). A
 * removal or rename by the program forgets it. */
enum { S_PENDING, S_CLAIMED, S_CREATED, S_RACED };

struct rg_entry {
	uint64_t dev, ino;  /* the directory, when resolved */
	uint32_t hash;      /* of the base name; 0: free slot */
	uint32_t seq;       /* insertion order, for eviction and deletion */
	uint32_t gen;       /* cwd generation of a pending relative dir */
	uint8_t probe;      /* P_* */
	uint8_t resolved;   /* 1: dev/ino hold the directory */
	uint8_t relative;   /* pending dir is relative to the cwd */
	uint8_t state;      /* S_* */
	int32_t owner;      /* the thread creating it, in S_CLAIMED */
	uint32_t epoch;     /* rg_epoch when it became S_CREATED */
	char key[RG_KEYLEN]; /* base, NUL, then (pending) the dir, NUL */
};

static struct rg_entry rg_tab[RG_SLOTS];
/* rg_tab[i].hash again, packed: scans read these 512 bytes, not the 54 KB
 * of entries. */
static uint32_t rg_hashes[RG_SLOTS];
/* A chained index by name hash: rg_head[hash % RG_BUCKETS] is the first
 * slot + 1 of the entries in that bucket (0: none), rg_next[slot] the next.
 * A create or removal of a name no entry shares the bucket of costs one
 * load; the others visit only that bucket's entries. */
static uint8_t rg_head[RG_BUCKETS];
static uint8_t rg_next[RG_SLOTS];
/* Which slots are in use, so an insert finds a free one without a scan. */
static uint64_t rg_used[RG_SLOTS / 64];
static uint32_t rg_count, rg_seq, rg_cwd_gen;
/* Counts the program's creates of remembered names. A probe reads it before
 * its system call: a probe that began before the program itself made the
 * name reports a stale ENOENT and must not make the name pending again. */
static uint32_t rg_epoch;
static struct {
	uint64_t dev, ino;
} rg_poison[RG_POISON];
static uint32_t rg_npoison;
static int rg_lock_word;
static __thread int rg_in __attribute__((tls_model("initial-exec")));
/* This thread's id, once asked for (reset in a fork child). */
static __thread int32_t rg_tid __attribute__((tls_model("initial-exec")));

/* Size of the table and everything it keeps, for BENCHMARKS and docs. */
const unsigned long __immunix_raceguard_bytes __attribute__((visibility("hidden"))) =
    sizeof rg_tab + sizeof rg_hashes + sizeof rg_head + sizeof rg_next + sizeof rg_used + sizeof rg_poison;

static int rg_lock(void)
{
	if (rg_in)
		return 0; /* a signal handler interrupted this thread inside */
	rg_in = 1;
	unsigned spins = 0;
	while (__atomic_exchange_n(&rg_lock_word, 1, __ATOMIC_ACQUIRE)) {
		if (++spins > 100)
			syscall(SYS_sched_yield);
	}
	return 1;
}

static void rg_unlock(void)
{
	__atomic_store_n(&rg_lock_word, 0, __ATOMIC_RELEASE);
	rg_in = 0;
}

static int fork_locked;
static void rg_prepare(void) { fork_locked = rg_lock(); }
static void rg_parent(void)
{
	if (fork_locked)
		rg_unlock();
}
static void rg_child(void)
{
	__atomic_store_n(&rg_lock_word, 0, __ATOMIC_RELEASE);
	rg_in = 0;
	rg_tid = 0;
}

static uint32_t hash_final(uint64_t h)
{
	h *= 0xc4ceb9fe1a85ec53ull;
	uint32_t r = (uint32_t)(h ^ (h >> 32));
	return r ? r : 1;
}

/* hash_name of a name of n (1..8) bytes held in w's low bytes. */
static inline uint32_t hash_short(size_t n, uint64_t w)
{
	uint64_t h = (0x9e3779b97f4a7c15ull ^ n ^ w) * 0xff51afd7ed558ccdull;
	return hash_final(h ^ (h >> 29));
}

/* A word at a time: names are short, and every failed probe hashes one. */
static uint32_t hash_name(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	for (; n >= 8; s += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	if (n) {
		uint64_t w = 0;
		unsigned sh = 0;
		if (n & 4) {
			uint32_t v;
			memcpy(&v, s, 4);
			w = v;
			s += 4;
			sh = 32;
		}
		if (n & 2) {
			uint16_t v;
			memcpy(&v, s, 2);
			w |= (uint64_t)v << sh;
			s += 2;
			sh += 16;
		}
		if (n & 1)
			w |= (uint64_t)(unsigned char)*s << sh;
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	return hash_final(h);
}

static int index_has(uint32_t h) { return __atomic_load_n(&rg_head[h % RG_BUCKETS], __ATOMIC_RELAXED) != 0; }

/* Under the lock. */
static void index_add(int slot, uint32_t h)
{
	rg_next[slot] = rg_head[h % RG_BUCKETS];
	__atomic_store_n(&rg_head[h % RG_BUCKETS], (uint8_t)(slot + 1), __ATOMIC_RELAXED);
}
static void index_del(int slot, uint32_t h)
{
	uint8_t *p = &rg_head[h % RG_BUCKETS];
	while (*p && *p != slot + 1)
		p = &rg_next[*p - 1];
	if (*p)
		__atomic_store_n(p, rg_next[slot], __ATOMIC_RELAXED);
}

/* A name split into directory and base, without copying the path. */
struct rg_name {
	const char *dir; /* NULL: the dirfd/cwd itself */
	size_t dirlen;
	const char *base;
	size_t baselen;
	uint32_t hash;
	int dirfd;
};

static int split_name(int dirfd, const char *path, struct rg_name *n)
{
	if (!path || !path[0])
		return 0;
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	const char *slash = memrchr(path, '/', len);
	size_t b = slash ? (size_t)(slash - path) + 1 : 0;
	n->base = path + b;
	n->baselen = len - b;
	if (n->baselen == 0 || n->baselen > 255 || (n->baselen == 1 && n->base[0] == '.') ||
	    (n->baselen == 2 && n->base[0] == '.' && n->base[1] == '.') || (n->baselen == 1 && n->base[0] == '/'))
		return 0;
	if (b == 0) {
		n->dir = NULL;
		n->dirlen = 0;
	} else {
		size_t d = b;
		while (d > 1 && path[d - 1] == '/')
			d--;
		n->dir = path;
		n->dirlen = d;
	}
	n->dirfd = path[0] == '/' ? AT_FDCWD : dirfd;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n->baselen <= 8 && len >= 8) {
		/* The 8 bytes ending at the name's end are inside the path:
		 * one load, shifted so the name's bytes are the low ones, is
		 * the word hash_name builds byte group by byte group. */
		uint64_t w;
		memcpy(&w, path + len - 8, 8);
		w >>= 8 * (8 - n->baselen);
		n->hash = hash_short(n->baselen, w);
	} else
#endif
		n->hash = hash_name(n->base, n->baselen);
	return 1;
}

/* The directory of n as (dev, ino), with the statx system call: no libc
 * state, the same structure on every ABI. */
static int dir_id(const struct rg_name *n, uint64_t *dev, uint64_t *ino)
{
	char buf[PATH_MAX];
	const char *p = "";
	int flags = AT_EMPTY_PATH;
	if (n->dir) {
		/* "DIR/.": DIR is then an inner component, as it is in the
		 * program's "DIR/BASE" (fs.protected_symlinks guards only a
		 * last component, so DIR must not be one here either). */
		if (n->dirlen + 3 > sizeof buf)
			return -1;
		memcpy(buf, n->dir, n->dirlen);
		memcpy(buf + n->dirlen, "/.", 3);
		p = buf;
		flags = 0;
	} else if (n->dirfd == AT_FDCWD) {
		p = ".";
		flags = 0;
	}
	struct statx sx;
	long r = syscall(SYS_statx, (long)n->dirfd, p, (long)flags, (long)(STATX_TYPE | STATX_INO), &sx);
	if (r != 0)
		return -1;
	*dev = ((uint64_t)sx.stx_dev_major << 32) | sx.stx_dev_minor;
	*ino = sx.stx_ino;
	return 0;
}

/* Frees slot i. Under the lock. */
static void drop_slot(int i)
{
	index_del(i, rg_hashes[i]);
	rg_tab[i].hash = 0;
	rg_hashes[i] = 0;
	rg_used[i / 64] &= ~(1ull << (i % 64));
	rg_count--;
}

static void rg_insert(const struct rg_name *n, int probe, uint32_t epoch0)
{
	/* Pending (the directory kept as the program's string, resolved when
	 * a create or removal of the same base name needs it), or resolved
	 * now: relative to a descriptor, or too long for an entry. */
	const char *dir = n->dir ? n->dir : ".";
	size_t dirlen = n->dir ? n->dirlen : 1;
	int resolved = !(n->dirfd == AT_FDCWD && n->baselen + 1 + dirlen + 1 <= RG_KEYLEN);
	int relative = !resolved && !(n->dir && n->dir[0] == '/');
	uint64_t dev = 0, ino = 0;
	if (resolved && dir_id(n, &dev, &ino) != 0)
		return;
	if (!rg_lock())
		return;
	uint32_t gen = rg_cwd_gen;
	/* One entry per name: a second probe of a remembered name (another
	 * thread's, say) refreshes it, so the first create forgets the name
	 * for every thread that probed it. Compared in place: no copy. */
	for (uint8_t k = rg_head[n->hash % RG_BUCKETS]; k; k = rg_next[k - 1]) {
		int i = k - 1;
		if (rg_hashes[i] != n->hash)
			continue;
		struct rg_entry *o = &rg_tab[i];
		if (o->resolved != resolved || memcmp(o->key, n->base, n->baselen) != 0 || o->key[n->baselen] != 0)
			continue;
		/* A pending entry's directory fits in its key (checked above
		 * for n), so reading dirlen bytes of it stays inside. */
		const char *odir = o->key + n->baselen + 1;
		if (resolved ? (o->dev == dev && o->ino == ino)
		             : (o->relative == relative && (!relative || o->gen == gen) &&
		                memcmp(odir, dir, dirlen) == 0 && odir[dirlen] == 0)) {
			if (o->state == S_CREATED && (int32_t)(o->epoch - epoch0) > 0) {
				rg_unlock();
				return; /* stale: the program made it after this probe began */
			}
			/* seq stays: it is the entry's identity, which a thread
			 * that claimed it will look for again. */
			o->probe = (uint8_t)probe;
			if (o->state != S_CLAIMED)
				o->state = S_PENDING;
			rg_unlock();
			return;
		}
	}
	int slot = -1;
	for (int w = 0; w < RG_SLOTS / 64; w++)
		if (~rg_used[w]) {
			slot = w * 64 + __builtin_ctzll(~rg_used[w]);
			break;
		}
	if (slot < 0) {
		/* Full: the oldest probe is forgotten. */
		uint32_t oldest_age = 0;
		for (int i = 0; i < RG_SLOTS; i++) {
			uint32_t age = rg_seq - rg_tab[i].seq;
			if (slot < 0 || age >= oldest_age) {
				oldest_age = age;
				slot = i;
			}
		}
		drop_slot(slot);
	}
	struct rg_entry *e = &rg_tab[slot];
	memset(e, 0, offsetof(struct rg_entry, key));
	e->hash = n->hash;
	e->seq = ++rg_seq;
	e->gen = gen;
	e->probe = (uint8_t)probe;
	e->resolved = (uint8_t)resolved;
	e->relative = (uint8_t)relative;
	e->dev = dev;
	e->ino = ino;
	memcpy(e->key, n->base, n->baselen);
	e->key[n->baselen] = 0;
	if (!resolved) {
		memcpy(e->key + n->baselen + 1, dir, dirlen);
		e->key[n->baselen + 1 + dirlen] = 0;
	}
	rg_hashes[slot] = n->hash;
	rg_used[slot / 64] |= 1ull << (slot % 64);
	rg_count++;
	index_add(slot, n->hash);
	rg_unlock();
}

static uint32_t rg_epoch_now(void) { return __atomic_load_n(&rg_epoch, __ATOMIC_ACQUIRE); }

static void rg_probe(int dirfd, const char *path, int probe, uint32_t epoch0)
{
	if (rg_mode == RG_OFF)
		return;
	int saved = errno;
	struct rg_name n;
	if (split_name(dirfd, path, &n))
		rg_insert(&n, probe, epoch0);
	errno = saved;
}

/* A remembered name that matches a create or removal. */
struct rg_hit {
	uint32_t seq;
	int probe;
	int slot; /* where it was; checked against seq before use */
};

/* The slot of entry seq (hint first), or -1. Under the lock. */
static int find_seq(uint32_t seq, int hint)
{
	if (hint >= 0 && hint < RG_SLOTS && rg_hashes[hint] && rg_tab[hint].seq == seq)
		return hint;
	for (int i = 0; i < RG_SLOTS; i++)
		if (rg_hashes[i] && rg_tab[i].seq == seq)
			return i;
	return -1;
}

#define RG_CAND 4

/* Finds the entry for n: entries with the same base name whose directory is
 * the same path string (same cwd generation) or resolves to the same
 * (dev, ino) as n's. No system call when nothing has n's base name. */
static int rg_match(const struct rg_name *n, struct rg_hit *hit)
{
	if (!__atomic_load_n(&rg_count, __ATOMIC_RELAXED) || !index_has(n->hash))
		return 0;
	struct rg_entry cand[RG_CAND];
	int slots[RG_CAND];
	int nc = 0;
	if (!rg_lock())
		return 0;
	uint32_t gen = rg_cwd_gen;
	for (uint8_t k = rg_head[n->hash % RG_BUCKETS]; k && nc < RG_CAND; k = rg_next[k - 1]) {
		int i = k - 1;
		if (rg_hashes[i] != n->hash)
			continue;
		const struct rg_entry *e = &rg_tab[i];
		if (memcmp(e->key, n->base, n->baselen) != 0 || e->key[n->baselen] != 0)
			continue;
		const char *edir = e->key + n->baselen + 1;
		size_t el = e->resolved ? 0 : strlen(edir);
		if (!e->resolved && n->dirfd == AT_FDCWD && (!e->relative || e->gen == gen) &&
		    ((n->dir && el == n->dirlen && memcmp(edir, n->dir, el) == 0) ||
		     (!n->dir && el == 1 && edir[0] == '.'))) {
			/* Same string, same starting point: the same directory
			 * as far as the program can tell. Compared in place. */
			hit->seq = e->seq;
			hit->probe = e->probe;
			hit->slot = i;
			rg_unlock();
			return 1;
		}
		/* Compared by (dev, ino) below, outside the lock (system
		 * calls): a copy. */
		slots[nc] = i;
		memcpy(&cand[nc++], e, offsetof(struct rg_entry, key) + n->baselen + 1 + (e->resolved ? 0 : el + 1));
	}
	rg_unlock();
	int have_id = 0;
	uint64_t dev = 0, ino = 0;
	for (int i = 0; i < nc; i++) {
		struct rg_entry *e = &cand[i];
		const char *edir = e->key + n->baselen + 1;
		if (!have_id) {
			if (dir_id(n, &dev, &ino) != 0)
				return 0;
			have_id = 1;
		}
		if (!e->resolved) {
			if (e->relative && e->gen != gen)
				continue; /* resolved by chdir; this copy is stale */
			struct rg_name en = {.dir = edir, .dirlen = strlen(edir), .dirfd = AT_FDCWD};
			if (dir_id(&en, &e->dev, &e->ino) != 0)
				continue;
		}
		if (e->dev == dev && e->ino == ino) {
			hit->seq = e->seq;
			hit->probe = e->probe;
			hit->slot = slots[i];
			return 1;
		}
	}
	return 0;
}

static void rg_forget_hit(const struct rg_hit *h)
{
	if (!rg_lock())
		return;
	int i = find_seq(h->seq, h->slot);
	if (i >= 0)
		drop_slot(i);
	rg_unlock();
}

enum { C_MINE, C_PLAIN, C_BUSY, C_GONE };

/* Claims entry seq for this thread (see S_CLAIMED). */
static int rg_claim(const struct rg_hit *h, int32_t *me)
{
	if (!*me) {
		if (!rg_tid)
			rg_tid = (int32_t)syscall(SYS_gettid);
		*me = rg_tid;
	}
	if (!rg_lock())
		return C_MINE; /* re-entered from a signal handler: exclusive, unclaimed */
	int r = C_GONE;
	int i = find_seq(h->seq, h->slot);
	if (i >= 0) {
		struct rg_entry *e = &rg_tab[i];
		if (e->state == S_CREATED) {
			r = C_PLAIN;
		} else if (e->state == S_CLAIMED && e->owner != *me) {
			r = C_BUSY;
		} else {
			e->state = S_CLAIMED;
			e->owner = *me;
			r = C_MINE;
		}
	}
	rg_unlock();
	return r;
}

/* Before a create of n: 1 when n is a remembered name, now claimed by this
 * thread, so the create must be exclusive and end with rg_end; 0 when the
 * plain call is right (not remembered, or already made by the program). */
static int rg_begin(const struct rg_name *n, struct rg_hit *h)
{
	if (!rg_match(n, h))
		return 0;
	int32_t me = 0;
	for (unsigned tries = 0;; tries++) {
		switch (rg_claim(h, &me)) {
		case C_MINE:
			return 1;
		case C_PLAIN:
			return 0;
		case C_GONE: /* removed, evicted or re-probed meanwhile */
			if (tries > 8 || !rg_match(n, h))
				return 0;
			continue;
		}
		/* Another thread is creating the name: its outcome decides. */
		if (tries > 100000)
			return 1;
		syscall(SYS_sched_yield);
	}
}

/* After the create rg_begin claimed: S_CREATED, S_RACED or (another
 * failure) S_PENDING again. */
static void rg_end(const struct rg_hit *h, int state)
{
	if (!rg_lock())
		return;
	int i = find_seq(h->seq, h->slot);
	if (i >= 0) {
		rg_tab[i].state = (uint8_t)state;
		rg_tab[i].owner = 0;
		if (state == S_CREATED)
			rg_tab[i].epoch = __atomic_add_fetch(&rg_epoch, 1, __ATOMIC_ACQ_REL);
	}
	rg_unlock();
}

/* The program itself created, removed or renamed the name: forget it. */
static void rg_forget(int dirfd, const char *path)
{
	if (rg_mode == RG_OFF || !__atomic_load_n(&rg_count, __ATOMIC_RELAXED))
		return;
	int saved = errno;
	struct rg_name n;
	struct rg_hit h;
	if (split_name(dirfd, path, &n) && rg_match(&n, &h))
		rg_forget_hit(&h);
	errno = saved;
}

/* chdir/fchdir: pending relative entries are resolved first, against the
 * directory they were probed in. */
static void rg_before_chdir(void)
{
	if (!__atomic_load_n(&rg_count, __ATOMIC_RELAXED))
		return;
	int saved = errno;
	for (int i = 0; i < RG_SLOTS; i++) {
		struct rg_entry e;
		if (!rg_lock())
			break;
		int pending = rg_hashes[i] && !rg_tab[i].resolved && rg_tab[i].relative;
		if (pending)
			memcpy(&e, &rg_tab[i], sizeof e);
		rg_unlock();
		if (!pending)
			continue;
		const char *edir = e.key + strlen(e.key) + 1;
		struct rg_name en = {.dir = edir, .dirlen = strlen(edir), .dirfd = AT_FDCWD};
		int ok = dir_id(&en, &e.dev, &e.ino) == 0;
		if (!rg_lock())
			break;
		if (rg_hashes[i] && rg_tab[i].seq == e.seq) {
			if (ok) {
				rg_tab[i].dev = e.dev;
				rg_tab[i].ino = e.ino;
				rg_tab[i].resolved = 1;
			} else {
				drop_slot(i);
			}
		}
		rg_unlock();
	}
	if (rg_lock()) {
		rg_cwd_gen++;
		rg_unlock();
	}
	errno = saved;
}

static int poisoned(const struct rg_name *n)
{
	uint32_t np = __atomic_load_n(&rg_npoison, __ATOMIC_ACQUIRE);
	if (!np)
		return 0;
	uint64_t dev, ino;
	if (dir_id(n, &dev, &ino) != 0)
		return 0;
	for (uint32_t i = 0; i < np && i < RG_POISON; i++)
		if (rg_poison[i].dev == dev && rg_poison[i].ino == ino)
			return 1;
	return 0;
}

/* ---- the alert ------------------------------------------------------- */

/* One kind=raceguard alert, then the policy: returns (refuse) or halts. */
static void rg_race(const char *call, const char *path, int probe, const char *msg)
{
	char extra[1200];
	size_t p = 0;
	const char *parts[] = {" path=", NULL, " probe=", probe_names[probe], " call=", call, " action=",
	                       rg_mode_names[rg_mode]};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		if (i == 1) {
			p += __immunix_escape(extra + p, 1100 - p, path ? path : "?");
			continue;
		}
		for (const char *s = parts[i]; *s && p + 1 < sizeof extra; s++)
			extra[p++] = *s;
		extra[p] = 0;
	}
	__immunix_alert("raceguard", 0, extra, msg);
	if (rg_mode == RG_KILL)
		__immunix_halt();
}

static const char msg_create[] = "temporary file race: the name appeared between the probe and the create";

/* Ends the exclusive create of a claimed name: made (S_CREATED), or the
 * race (S_RACED, the alert, then the policy), or another failure. errno is
 * the create's (EEXIST for the race). Returns 0 when made. */
static int excl_done(const char *call, const char *path, const struct rg_hit *h, int ok)
{
	if (ok) {
		rg_end(h, S_CREATED);
		return 0;
	}
	int e = errno;
	if (e == EEXIST) {
		rg_end(h, S_RACED);
		rg_race(call, path, h->probe, msg_create);
	} else {
		rg_end(h, S_PENDING);
	}
	errno = e;
	return -1;
}

/* ---- creates --------------------------------------------------------- */

#define NEEDS_MODE(f) (((f) & O_CREAT) != 0 || ((f) & O_TMPFILE) == O_TMPFILE)

/* The open family. fn(dirfd, path, flags, mode) is the real call. */
typedef int (*open_fn)(int, const char *, int, mode_t, void *);

static int do_open(const char *call, int dirfd, const char *path, int flags, mode_t mode, open_fn fn, void *real)
{
	struct rg_name n;
	struct rg_hit h;
	if (rg_mode == RG_OFF || !(flags & O_CREAT) || !split_name(dirfd, path, &n))
		return fn(dirfd, path, flags, mode, real);
	if (flags & O_EXCL) {
		int fd = fn(dirfd, path, flags, mode, real);
		if (fd >= 0)
			rg_forget(dirfd, path);
		return fd;
	}
	int saved = errno;
	if (poisoned(&n)) {
		rg_race(call, path, P_MKDIR_RACE, "temporary file race: create inside a directory that replaced one the program was making");
		errno = EEXIST;
		return -1;
	}
	if (!rg_begin(&n, &h)) {
		errno = saved;
		return fn(dirfd, path, flags, mode, real);
	}
	errno = saved;
	int fd = fn(dirfd, path, flags | O_EXCL | O_NOFOLLOW, mode, real);
	excl_done(call, path, &h, fd >= 0);
	return fd;
}

static int call_open(int dirfd, const char *p, int f, mode_t m, void *real)
{
	if (!real)
		NOSYS(-1);
	if (dirfd == AT_FDCWD)
		return ((int (*)(const char *, int, ...))real)(p, f, m);
	return ((int (*)(int, const char *, int, ...))real)(dirfd, p, f, m);
}

static mode_t va_mode(int flags, va_list ap)
{
	return NEEDS_MODE(flags) ? (mode_t)va_arg(ap, int) : 0;
}

RG_WEAK int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = va_mode(flags, ap);
	va_end(ap);
	return do_open("open", AT_FDCWD, path, flags, m, call_open, (void *)R(open));
}

RG_WEAK int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = va_mode(flags, ap);
	va_end(ap);
	return do_open("open64", AT_FDCWD, path, flags, m, call_open, (void *)R(open64));
}

/* openat with dirfd AT_FDCWD calls the real openat, not open. */
static int call_openat(int dirfd, const char *p, int f, mode_t m, void *real)
{
	if (!real)
		NOSYS(-1);
	return ((int (*)(int, const char *, int, ...))real)(dirfd, p, f, m);
}

RG_WEAK int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = va_mode(flags, ap);
	va_end(ap);
	return do_open("openat", dirfd, path, flags, m, call_openat, (void *)R(openat));
}

RG_WEAK int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = va_mode(flags, ap);
	va_end(ap);
	return do_open("openat64", dirfd, path, flags, m, call_openat, (void *)R(openat64));
}

static int call_creat(int dirfd, const char *p, int f, mode_t m, void *real)
{
	(void)dirfd;
	if (f & O_EXCL) /* made exclusive: creat cannot say so; open can */
		return call_open(AT_FDCWD, p, f, m, (void *)R(open));
	if (!real)
		NOSYS(-1);
	return ((int (*)(const char *, mode_t))real)(p, m);
}

RG_WEAK int creat(const char *path, mode_t mode)
{
	return do_open("creat", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, call_creat, (void *)R(creat));
}

static int call_creat64(int dirfd, const char *p, int f, mode_t m, void *real)
{
	(void)dirfd;
	if (f & O_EXCL)
		return call_open(AT_FDCWD, p, f, m, (void *)R(open64));
	if (!real)
		NOSYS(-1);
	return ((int (*)(const char *, mode_t))real)(p, m);
}

RG_WEAK int creat64(const char *path, mode_t mode)
{
	return do_open("creat64", AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, call_creat64, (void *)R(creat64));
}

/* fopen modes: "w" and "a" create; "x" (glibc) is exclusive already. */
static int fmode_flags(const char *mode, int *flags)
{
	int f;
	switch (mode[0]) {
	case 'w':
		f = O_CREAT | O_TRUNC;
		break;
	case 'a':
		f = O_CREAT | O_APPEND;
		break;
	default:
		return 0;
	}
	int plus = 0, excl = 0, cloexec = 0;
	for (const char *c = mode + 1; *c && *c != ','; c++) {
		plus |= *c == '+';
		excl |= *c == 'x';
		cloexec |= *c == 'e';
	}
	f |= plus ? O_RDWR : O_WRONLY;
	if (excl)
		f |= O_EXCL;
	if (cloexec)
		f |= O_CLOEXEC;
	*flags = f;
	return 1;
}

/* The exclusive create for fopen/freopen of a remembered name: the file
 * descriptor of the new file, or -1 (refused or failed). */
static int fexcl(const char *call, const char *path, int flags, const struct rg_hit *h, int large)
{
	int fd = call_open(AT_FDCWD, path, (flags & ~O_TRUNC) | O_EXCL | O_NOFOLLOW, 0666,
	                   large ? (void *)R(open64) : (void *)R(open));
	excl_done(call, path, h, fd >= 0);
	return fd;
}

static FILE *do_fopen(const char *call, const char *path, const char *mode, int large)
{
	FILE *(*real)(const char *, const char *) = large ? R(fopen64) : R(fopen);
	if (!real)
		NOSYS(NULL);
	int flags;
	struct rg_name n;
	struct rg_hit h;
	if (rg_mode == RG_OFF || !mode || !fmode_flags(mode, &flags) || !split_name(AT_FDCWD, path, &n))
		return real(path, mode);
	int saved = errno;
	if (flags & O_EXCL) {
		FILE *f = real(path, mode);
		if (f)
			rg_forget(AT_FDCWD, path);
		return f;
	}
	if (poisoned(&n)) {
		rg_race(call, path, P_MKDIR_RACE, "temporary file race: create inside a directory that replaced one the program was making");
		errno = EEXIST;
		return NULL;
	}
	if (!rg_begin(&n, &h)) {
		errno = saved;
		return real(path, mode);
	}
	errno = saved;
	int fd = fexcl(call, path, flags, &h, large);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, mode);
	if (!f) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

RG_WEAK FILE *fopen(const char *restrict path, const char *restrict mode) { return do_fopen("fopen", path, mode, 0); }
RG_WEAK FILE *fopen64(const char *restrict path, const char *restrict mode) { return do_fopen("fopen64", path, mode, 1); }

static FILE *do_freopen(const char *call, const char *path, const char *mode, FILE *stream, int large)
{
	FILE *(*real)(const char *, const char *, FILE *) = large ? R(freopen64) : R(freopen);
	if (!real)
		NOSYS(NULL);
	int flags;
	struct rg_name n;
	struct rg_hit h;
	if (rg_mode == RG_OFF || !path || !mode || !fmode_flags(mode, &flags) || !split_name(AT_FDCWD, path, &n))
		return real(path, mode, stream);
	int saved = errno;
	if (!(flags & O_EXCL) && poisoned(&n)) {
		rg_race(call, path, P_MKDIR_RACE, "temporary file race: create inside a directory that replaced one the program was making");
		errno = EEXIST;
		return NULL;
	}
	if ((flags & O_EXCL) || !rg_begin(&n, &h)) {
		errno = saved;
		FILE *f = real(path, mode, stream);
		if (f && (flags & O_EXCL))
			rg_forget(AT_FDCWD, path);
		return f;
	}
	errno = saved;
	int fd = fexcl(call, path, flags, &h, large);
	if (fd < 0)
		return NULL;
	/* Reopen the stream on the very file just made, through its
	 * descriptor, never by name again. */
	char proc[40] = "/proc/self/fd/";
	size_t p = 14;
	char digits[12];
	int d = 0;
	for (unsigned v = (unsigned)fd; d == 0 || v; v /= 10)
		digits[d++] = (char)('0' + v % 10);
	while (d)
		proc[p++] = digits[--d];
	proc[p] = 0;
	FILE *f = real(proc, mode, stream);
	int e = errno;
	close(fd);
	errno = e;
	return f;
}

RG_WEAK FILE *freopen(const char *restrict path, const char *restrict mode, FILE *restrict stream)
{
	return do_freopen("freopen", path, mode, stream, 0);
}
RG_WEAK FILE *freopen64(const char *restrict path, const char *restrict mode, FILE *restrict stream)
{
	return do_freopen("freopen64", path, mode, stream, 1);
}

/* mkdir, mkfifo, mknod, link, symlink: exclusive already (they never follow
 * the last component). EEXIST on a remembered name is the race; for mkdir a
 * real directory of this process's effective user is not (parallel
 * "mkdir -p" of the same tree), and a directory that is not is poisoned:
 * creates inside it are refused too. */
struct mk_args {
	int kind; /* 0 mkdir(at), 1 mkfifo(at), 2 mknod(at), 3 link(at), 4 symlink(at) */
	int at;   /* the *at form */
	int dirfd, olddir, flags;
	const char *path, *old;
	mode_t mode;
	dev_t dev;
};

static int mk_call(const struct mk_args *a)
{
	switch (a->kind * 2 + a->at) {
	case 0:
		return R(mkdir) ? real_mkdir(a->path, a->mode) : (errno = ENOSYS, -1);
	case 1:
		return R(mkdirat) ? real_mkdirat(a->dirfd, a->path, a->mode) : (errno = ENOSYS, -1);
	case 2:
		return R(mkfifo) ? real_mkfifo(a->path, a->mode) : (errno = ENOSYS, -1);
	case 3:
		return R(mkfifoat) ? real_mkfifoat(a->dirfd, a->path, a->mode) : (errno = ENOSYS, -1);
	case 4:
		return R(mknod) ? real_mknod(a->path, a->mode, a->dev) : (errno = ENOSYS, -1);
	case 5:
		return R(mknodat) ? real_mknodat(a->dirfd, a->path, a->mode, a->dev) : (errno = ENOSYS, -1);
	case 6:
		return R(link) ? real_link(a->old, a->path) : (errno = ENOSYS, -1);
	case 7:
		return R(linkat) ? real_linkat(a->olddir, a->old, a->dirfd, a->path, a->flags) : (errno = ENOSYS, -1);
	case 8:
		return R(symlink) ? real_symlink(a->old, a->path) : (errno = ENOSYS, -1);
	default:
		return R(symlinkat) ? real_symlinkat(a->old, a->dirfd, a->path) : (errno = ENOSYS, -1);
	}
}

/* Remembers what a directory name that was raced leads to, so creates
 * inside it are refused too: "NAME/." follows NAME as an inner component,
 * which fs.protected_symlinks does not restrict (it guards only the last
 * one), exactly as the program's next "NAME/file" will. */
static void poison(int dirfd, const char *path)
{
	char inner[PATH_MAX];
	size_t pl = strlen(path);
	struct statx sx;
	if (pl + 3 > sizeof inner)
		return;
	memcpy(inner, path, pl);
	memcpy(inner + pl, "/.", 3);
	if (syscall(SYS_statx, (long)dirfd, inner, 0L, (long)(STATX_TYPE | STATX_INO), &sx) != 0 ||
	    !S_ISDIR(sx.stx_mode) || !rg_lock())
		return;
	uint32_t i = rg_npoison % RG_POISON;
	rg_poison[i].dev = ((uint64_t)sx.stx_dev_major << 32) | sx.stx_dev_minor;
	rg_poison[i].ino = sx.stx_ino;
	if (rg_npoison < RG_POISON)
		__atomic_store_n(&rg_npoison, rg_npoison + 1, __ATOMIC_RELEASE);
	rg_unlock();
}

/* mkdir, mkfifo, mknod, link, symlink: exclusive already (they never follow
 * the last component), so the call is made as asked; EEXIST on a claimed
 * remembered name is the race. For mkdir a real directory of this
 * process's effective user is not (a parallel "mkdir -p" of the same
 * tree); a directory that is not is poisoned. */
static int do_mk(const char *call, const struct mk_args *a)
{
	struct rg_name n;
	struct rg_hit h;
	if (rg_mode == RG_OFF || !split_name(a->dirfd, a->path, &n))
		return mk_call(a);
	int saved = errno;
	if (!rg_begin(&n, &h)) {
		errno = saved;
		return mk_call(a);
	}
	errno = saved;
	int r = mk_call(a);
	if (r == 0) {
		rg_end(&h, S_CREATED);
		return 0;
	}
	int e = errno;
	if (e != EEXIST) {
		rg_end(&h, S_PENDING);
		errno = e;
		return r;
	}
	int is_dir = a->kind == 0;
	struct statx sx;
	if (is_dir &&
	    syscall(SYS_statx, (long)n.dirfd, a->path, (long)AT_SYMLINK_NOFOLLOW, (long)(STATX_TYPE | STATX_UID), &sx) == 0 &&
	    S_ISDIR(sx.stx_mode) && sx.stx_uid == (uint32_t)geteuid()) {
		rg_end(&h, S_CREATED);
		errno = e;
		return r;
	}
	if (is_dir)
		poison(a->dirfd, a->path);
	rg_end(&h, S_RACED);
	rg_race(call, a->path, h.probe, msg_create);
	errno = EEXIST;
	return -1;
}

RG_WEAK int mkdir(const char *path, mode_t mode)
{
	struct mk_args a = {.kind = 0, .dirfd = AT_FDCWD, .path = path, .mode = mode};
	return do_mk("mkdir", &a);
}
RG_WEAK int mkdirat(int dirfd, const char *path, mode_t mode)
{
	struct mk_args a = {.kind = 0, .at = 1, .dirfd = dirfd, .path = path, .mode = mode};
	return do_mk("mkdirat", &a);
}
RG_WEAK int mkfifo(const char *path, mode_t mode)
{
	struct mk_args a = {.kind = 1, .dirfd = AT_FDCWD, .path = path, .mode = mode};
	return do_mk("mkfifo", &a);
}
RG_WEAK int mkfifoat(int dirfd, const char *path, mode_t mode)
{
	struct mk_args a = {.kind = 1, .at = 1, .dirfd = dirfd, .path = path, .mode = mode};
	return do_mk("mkfifoat", &a);
}
RG_WEAK int mknod(const char *path, mode_t mode, dev_t dev)
{
	struct mk_args a = {.kind = 2, .dirfd = AT_FDCWD, .path = path, .mode = mode, .dev = dev};
	return do_mk("mknod", &a);
}
RG_WEAK int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	struct mk_args a = {.kind = 2, .at = 1, .dirfd = dirfd, .path = path, .mode = mode, .dev = dev};
	return do_mk("mknodat", &a);
}
RG_WEAK int link(const char *old, const char *new)
{
	struct mk_args a = {.kind = 3, .dirfd = AT_FDCWD, .old = old, .path = new};
	return do_mk("link", &a);
}
RG_WEAK int linkat(int olddir, const char *old, int newdir, const char *new, int flags)
{
	struct mk_args a = {.kind = 3, .at = 1, .olddir = olddir, .old = old, .dirfd = newdir, .path = new, .flags = flags};
	return do_mk("linkat", &a);
}
RG_WEAK int symlink(const char *target, const char *path)
{
	struct mk_args a = {.kind = 4, .dirfd = AT_FDCWD, .old = target, .path = path};
	return do_mk("symlink", &a);
}
RG_WEAK int symlinkat(const char *target, int dirfd, const char *path)
{
	struct mk_args a = {.kind = 4, .at = 1, .old = target, .dirfd = dirfd, .path = path};
	return do_mk("symlinkat", &a);
}

/* rename onto a remembered name: RENAME_NOREPLACE. Where the file system
 * cannot (EINVAL), the plain rename (docs/raceguard.md). */
static int do_rename(const char *call, int od, const char *old, int nd, const char *new, unsigned int flags,
                     int (*plain)(int, const char *, int, const char *, unsigned int, const char *))
{
	struct rg_name n;
	struct rg_hit h;
	if (rg_mode == RG_OFF || (flags & (RENAME_NOREPLACE | RENAME_EXCHANGE)) || !split_name(nd, new, &n) ||
	    !rg_begin(&n, &h)) {
		int r = plain(od, old, nd, new, flags, call);
		if (r == 0 && rg_mode != RG_OFF)
			rg_forget(od, old);
		return r;
	}
	long r = syscall(SYS_renameat2, (long)od, old, (long)nd, new, (long)(flags | RENAME_NOREPLACE));
	if (r != 0 && errno == EINVAL)
		r = plain(od, old, nd, new, flags, call); /* no RENAME_NOREPLACE on this file system */
	if (excl_done(call, new, &h, r == 0) != 0)
		return -1;
	rg_forget(od, old);
	return 0;
}

static int plain_rename(int od, const char *old, int nd, const char *new, unsigned int flags, const char *call)
{
	if (call[6] == 0) { /* "rename" */
		(void)od, (void)nd, (void)flags;
		return R(rename) ? real_rename(old, new) : (errno = ENOSYS, -1);
	}
	if (call[8] == 0) /* "renameat" */
		return R(renameat) ? real_renameat(od, old, nd, new) : (errno = ENOSYS, -1);
	return R(renameat2) ? real_renameat2(od, old, nd, new, flags) : (errno = ENOSYS, -1);
}

RG_WEAK int rename(const char *old, const char *new) { return do_rename("rename", AT_FDCWD, old, AT_FDCWD, new, 0, plain_rename); }
RG_WEAK int renameat(int od, const char *old, int nd, const char *new)
{
	return do_rename("renameat", od, old, nd, new, 0, plain_rename);
}
RG_WEAK int renameat2(int od, const char *old, int nd, const char *new, unsigned int flags)
{
	return do_rename("renameat2", od, old, nd, new, flags, plain_rename);
}

/* ---- removals -------------------------------------------------------- */

RG_WEAK int unlink(const char *path)
{
	if (!R(unlink))
		NOSYS(-1);
	int r = real_unlink(path);
	if (r == 0)
		rg_forget(AT_FDCWD, path);
	return r;
}
RG_WEAK int unlinkat(int dirfd, const char *path, int flags)
{
	if (!R(unlinkat))
		NOSYS(-1);
	int r = real_unlinkat(dirfd, path, flags);
	if (r == 0)
		rg_forget(dirfd, path);
	return r;
}
RG_WEAK int rmdir(const char *path)
{
	if (!R(rmdir))
		NOSYS(-1);
	int r = real_rmdir(path);
	if (r == 0)
		rg_forget(AT_FDCWD, path);
	return r;
}
RG_WEAK int remove(const char *path)
{
	if (!R(remove))
		NOSYS(-1);
	int r = real_remove(path);
	if (r == 0)
		rg_forget(AT_FDCWD, path);
	return r;
}

RG_WEAK int chdir(const char *path)
{
	if (!R(chdir))
		NOSYS(-1);
	rg_before_chdir();
	return real_chdir(path);
}
RG_WEAK int fchdir(int fd)
{
	if (!R(fchdir))
		NOSYS(-1);
	rg_before_chdir();
	return real_fchdir(fd);
}

/* ---- probes ---------------------------------------------------------- */

#define PROBE_RET(r, dirfd, path, kind)                          \
	do {                                                      \
		if ((r) < 0 && errno == ENOENT)                   \
			rg_probe((dirfd), (path), (kind), ep);     \
		return (r);                                       \
	} while (0)

RG_WEAK int stat(const char *restrict path, struct stat *restrict buf)
{
	if (!R(stat))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_stat(path, buf);
	PROBE_RET(r, AT_FDCWD, path, P_STAT);
}
RG_WEAK int stat64(const char *restrict path, struct stat64 *restrict buf)
{
	if (!R(stat64))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_stat64(path, buf);
	PROBE_RET(r, AT_FDCWD, path, P_STAT64);
}
RG_WEAK int lstat(const char *restrict path, struct stat *restrict buf)
{
	if (!R(lstat))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_lstat(path, buf);
	PROBE_RET(r, AT_FDCWD, path, P_LSTAT);
}
RG_WEAK int lstat64(const char *restrict path, struct stat64 *restrict buf)
{
	if (!R(lstat64))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_lstat64(path, buf);
	PROBE_RET(r, AT_FDCWD, path, P_LSTAT64);
}
RG_WEAK int fstatat(int dirfd, const char *restrict path, struct stat *restrict buf, int flags)
{
	if (!R(fstatat))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_fstatat(dirfd, path, buf, flags);
	PROBE_RET(r, dirfd, path, P_FSTATAT);
}
RG_WEAK int fstatat64(int dirfd, const char *restrict path, struct stat64 *restrict buf, int flags)
{
	if (!R(fstatat64))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_fstatat64(dirfd, path, buf, flags);
	PROBE_RET(r, dirfd, path, P_FSTATAT64);
}
RG_WEAK int statx(int dirfd, const char *restrict path, int flags, unsigned int mask, struct statx *restrict buf)
{
	if (!R(statx))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_statx(dirfd, path, flags, mask, buf);
	PROBE_RET(r, dirfd, path, P_STATX);
}
/* glibc before 2.33 made stat an inline call of these; libraries built then
 * still call them. */
RG_WEAK int __xstat(int ver, const char *path, void *buf);
RG_WEAK int __xstat(int ver, const char *path, void *buf)
{
	if (!R(__xstat))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real___xstat(ver, path, buf);
	PROBE_RET(r, AT_FDCWD, path, P_XSTAT);
}
RG_WEAK int __xstat64(int ver, const char *path, void *buf);
RG_WEAK int __xstat64(int ver, const char *path, void *buf)
{
	if (!R(__xstat64))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real___xstat64(ver, path, buf);
	PROBE_RET(r, AT_FDCWD, path, P_XSTAT);
}
RG_WEAK int __lxstat(int ver, const char *path, void *buf);
RG_WEAK int __lxstat(int ver, const char *path, void *buf)
{
	if (!R(__lxstat))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real___lxstat(ver, path, buf);
	PROBE_RET(r, AT_FDCWD, path, P_XSTAT);
}
RG_WEAK int __lxstat64(int ver, const char *path, void *buf);
RG_WEAK int __lxstat64(int ver, const char *path, void *buf)
{
	if (!R(__lxstat64))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real___lxstat64(ver, path, buf);
	PROBE_RET(r, AT_FDCWD, path, P_XSTAT);
}
RG_WEAK int __fxstatat(int ver, int dirfd, const char *path, void *buf, int flags);
RG_WEAK int __fxstatat(int ver, int dirfd, const char *path, void *buf, int flags)
{
	if (!R(__fxstatat))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real___fxstatat(ver, dirfd, path, buf, flags);
	PROBE_RET(r, dirfd, path, P_XSTAT);
}
RG_WEAK int __fxstatat64(int ver, int dirfd, const char *path, void *buf, int flags);
RG_WEAK int __fxstatat64(int ver, int dirfd, const char *path, void *buf, int flags)
{
	if (!R(__fxstatat64))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real___fxstatat64(ver, dirfd, path, buf, flags);
	PROBE_RET(r, dirfd, path, P_XSTAT);
}
RG_WEAK int access(const char *path, int mode)
{
	if (!R(access))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_access(path, mode);
	PROBE_RET(r, AT_FDCWD, path, P_ACCESS);
}
RG_WEAK int faccessat(int dirfd, const char *path, int mode, int flags)
{
	if (!R(faccessat))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_faccessat(dirfd, path, mode, flags);
	PROBE_RET(r, dirfd, path, P_FACCESSAT);
}
RG_WEAK int euidaccess(const char *path, int mode)
{
	if (!R(euidaccess))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_euidaccess(path, mode);
	PROBE_RET(r, AT_FDCWD, path, P_EUIDACCESS);
}
RG_WEAK int eaccess(const char *path, int mode)
{
	if (!R(eaccess))
		NOSYS(-1);
	uint32_t ep = rg_epoch_now();
	int r = real_eaccess(path, mode);
	PROBE_RET(r, AT_FDCWD, path, P_EUIDACCESS);
}

/* ---- names that will be created ---------------------------------------- */

RG_WEAK char *mktemp(char *tmpl)
{
	if (!R(mktemp))
		NOSYS(NULL);
	char *r = real_mktemp(tmpl);
	if (r && r[0])
		rg_probe(AT_FDCWD, r, P_MKTEMP, rg_epoch_now());
	return r;
}
RG_WEAK char *tmpnam(char s[L_tmpnam])
{
	if (!R(tmpnam))
		NOSYS(NULL);
	char *r = real_tmpnam(s);
	if (r)
		rg_probe(AT_FDCWD, r, P_TMPNAM, rg_epoch_now());
	return r;
}
RG_WEAK char *tmpnam_r(char s[L_tmpnam])
{
	if (!R(tmpnam_r))
		NOSYS(NULL);
	char *r = real_tmpnam_r(s);
	if (r)
		rg_probe(AT_FDCWD, r, P_TMPNAM_R, rg_epoch_now());
	return r;
}
RG_WEAK char *tempnam(const char *dir, const char *pfx)
{
	if (!R(tempnam))
		NOSYS(NULL);
	char *r = real_tempnam(dir, pfx);
	if (r)
		rg_probe(AT_FDCWD, r, P_TEMPNAM, rg_epoch_now());
	return r;
}

/* ---- initialisation ---------------------------------------------------- */

static int parse_mode(const char *v, size_t n, int *mode)
{
	static const struct {
		const char *s;
		int m;
	} k[] = {{"refuse", RG_REFUSE}, {"kill", RG_KILL}, {"off", RG_OFF}};
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(k[i].s);
		if (n == l && memcmp(v, k[i].s, l) == 0) {
			*mode = k[i].m;
			return 1;
		}
	}
	return 0;
}

static void say_bad(const char *where, const char *v, size_t n)
{
	char line[300];
	size_t p = 0;
	const char *parts[] = {"immunix: ", where, ": IMMUNIX_RACEGUARD=", NULL,
	                       " is not refuse, kill or off; using refuse\n"};
	for (size_t i = 0; i < 5; i++) {
		const char *s = parts[i];
		size_t l = i == 3 ? (n > 64 ? 64 : n) : strlen(s);
		if (i == 3)
			s = v;
		for (size_t j = 0; j < l && p < sizeof line; j++)
			line[p++] = s[j];
	}
	ssize_t w = write(2, line, p);
	(void)w;
}

/* IMMUNIX_RACEGUARD=... from the configuration file (KEY=VALUE lines, '#'
 * comments, optional double quotes: the format immunix-cc reads). */
static int conf_mode(const char *path, int *mode)
{
	int fd = (int)syscall(SYS_openat, (long)AT_FDCWD, path, (long)(O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (fd < 0)
		return 0;
	char buf[8192];
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == sizeof buf - 1)
			break;
	}
	close(fd);
	buf[len] = 0;
	int found = 0;
	static const char key[] = "IMMUNIX_RACEGUARD";
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		char *end = nl ? nl : line + strlen(line);
		char *s = line;
		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		if (s < end && *s != '#' && strncmp(s, key, sizeof key - 1) == 0) {
			char *v = s + sizeof key - 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			if (v < end && *v == '=') {
				v++;
				char *e = end;
				while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
					e--;
				while (v < e && (*v == ' ' || *v == '\t'))
					v++;
				if (e - v >= 2 && *v == '"' && e[-1] == '"')
					v++, e--;
				if (parse_mode(v, (size_t)(e - v), mode))
					found = 1;
				else
					say_bad(path, v, (size_t)(e - v));
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return found;
}

IMMUNIX_HIDDEN __attribute__((constructor(102))) void __immunix_raceguard_init(void);

void __immunix_raceguard_init(void)
{
	/* The program starts with the errno the loader left: reading the
	 * configuration must not change it (a program's first "%m" would
	 * print our ENOENT). */
	int saved_errno = errno;
	int secure = __immunix_secure();
	const char *conf = "/etc/immunix/immunix.conf";
	if (!secure) {
		const char *c = getenv("IMMUNIX_CONFIG");
		if (c && *c)
			conf = c;
	}
	int mode = RG_REFUSE;
	conf_mode(conf, &mode);
	if (!secure) {
		const char *v = getenv("IMMUNIX_RACEGUARD");
		if (v && *v && !parse_mode(v, strlen(v), &mode))
			say_bad("environment", v, strlen(v));
	} else if (mode < RG_REFUSE) {
		mode = RG_REFUSE; /* set-uid programs never go below refuse */
	}
	rg_mode = mode;
	static const char *const names[] = {
	    "open",      "open64",     "openat",     "openat64",  "creat",    "creat64",     "fopen",     "fopen64",
	    "freopen",   "freopen64",  "stat",       "stat64",    "lstat",    "lstat64",     "fstatat",   "fstatat64",
	    "statx",     "__xstat",    "__xstat64",  "__lxstat",  "__lxstat64", "__fxstatat", "__fxstatat64", "access",
	    "faccessat", "euidaccess", "eaccess",    "mktemp",    "tmpnam",   "tmpnam_r",    "tempnam",   "mkdir",
	    "mkdirat",   "mkfifo",     "mkfifoat",   "mknod",     "mknodat",  "link",        "linkat",    "symlink",
	    "symlinkat", "rename",     "renameat",   "renameat2", "unlink",   "unlinkat",    "rmdir",     "remove",
	    "chdir",     "fchdir"};
	void **slots[] = {
	    (void **)&real_open,      (void **)&real_open64,     (void **)&real_openat,     (void **)&real_openat64,
	    (void **)&real_creat,     (void **)&real_creat64,    (void **)&real_fopen,      (void **)&real_fopen64,
	    (void **)&real_freopen,   (void **)&real_freopen64,  (void **)&real_stat,       (void **)&real_stat64,
	    (void **)&real_lstat,     (void **)&real_lstat64,    (void **)&real_fstatat,    (void **)&real_fstatat64,
	    (void **)&real_statx,     (void **)&real___xstat,    (void **)&real___xstat64,  (void **)&real___lxstat,
	    (void **)&real___lxstat64, (void **)&real___fxstatat, (void **)&real___fxstatat64, (void **)&real_access,
	    (void **)&real_faccessat, (void **)&real_euidaccess, (void **)&real_eaccess,    (void **)&real_mktemp,
	    (void **)&real_tmpnam,    (void **)&real_tmpnam_r,   (void **)&real_tempnam,    (void **)&real_mkdir,
	    (void **)&real_mkdirat,   (void **)&real_mkfifo,     (void **)&real_mkfifoat,   (void **)&real_mknod,
	    (void **)&real_mknodat,   (void **)&real_link,       (void **)&real_linkat,     (void **)&real_symlink,
	    (void **)&real_symlinkat, (void **)&real_rename,     (void **)&real_renameat,   (void **)&real_renameat2,
	    (void **)&real_unlink,    (void **)&real_unlinkat,   (void **)&real_rmdir,      (void **)&real_remove,
	    (void **)&real_chdir,     (void **)&real_fchdir};
	_Static_assert(sizeof names / sizeof names[0] == sizeof slots / sizeof slots[0], "names and slots");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		rg_sym(slots[i], names[i]);
	static int atfork_done;
	if (!atfork_done) {
		atfork_done = 1;
		pthread_atfork(rg_prepare, rg_parent, rg_child);
	}
	errno = saved_errno;
}
