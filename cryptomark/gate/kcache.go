package gate

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel-side cache. A verified file's exec costs a round trip
// through the daemon even when its verdict is cached: the exec waits, the
// daemon wakes, reads the event, answers. kernelCache ends those round
// trips for a file whose signature was verified and found valid, by an
// ignore mark on its inode (FAN_MARK_IGNORED_MASK with the group's whole
// mask): the kernel stops sending this group the file's events. The
// kernel drops the mark itself
//
//   - when the file is written or truncated (write, pwrite, truncate,
//     O_TRUNC, copy_file_range...: an ignore mark without
//     FAN_MARK_IGNORED_SURV_MODIFY is cleared by the modify event, before
//     the writer's call returns), and
//   - when the inode leaves the kernel's cache (FAN_MARK_EVICTABLE: the
//     marks never pin memory),
//
// so the next exec after either comes to the gate and is checked again
// (its changed ctime misses the verdict cache). A change the kernel does
// not report as a modification is a change through a shared writable
// memory mapping. So the mark is set only where no one but root can make
// one: a regular file owned by root, writable by nobody else (mode, and
// so the ACL mask), that nobody holds open for writing at the time of the
// mark (a read lease is refused while any writer or shared writable
// mapping exists), on a local filesystem whose every change goes through
// this kernel. What that leaves (docs/cryptomark.md): root itself, or
// root making a marked file writable by others (chmod, chown), followed
// by a change made only through a shared mapping.
//
// The same question decides whether a verdict may be kept at all
// (cacheable): a verdict keyed by (device, inode, ctime, mtime, size) is
// only as good as the promise that every change moves the ctime.
const testTrustCacheEnv = "IMMUNIX_TEST_MARKD_TRUST_CACHE"

// recentChange: a file whose ctime is younger than this is not cached.
const recentChange = time.Second

// Filesystems by how a change through a shared writable mapping shows.
type fsClass uint8

const (
	fsUnknown   fsClass = iota // remote, FUSE, overlay, anything else: no promise
	fsWriteback                // write-protects mapped pages until a write fault, which updates ctime
	fsNoNotify                 // tmpfs: a page mapped by a read fault is writable at once, and writes through it change nothing the kernel reports (no ctime, no modify event)
	fsReadOnly                 // cannot change at all
)

var fsClasses = map[int64]fsClass{
	unix.EXT4_SUPER_MAGIC:     fsWriteback, // ext2, ext3, ext4
	unix.XFS_SUPER_MAGIC:      fsWriteback,
	unix.BTRFS_SUPER_MAGIC:    fsWriteback,
	unix.F2FS_SUPER_MAGIC:     fsWriteback,
	unix.TMPFS_MAGIC:          fsNoNotify,
	unix.SQUASHFS_MAGIC:       fsReadOnly,
	unix.EROFS_SUPER_MAGIC_V1: fsReadOnly,
}

func fsClassOf(fd int32) fsClass {
	var sfs unix.Statfs_t
	if unix.Fstatfs(int(fd), &sfs) != nil {
		return fsUnknown
	}
	return fsClasses[int64(sfs.Type)]
}

// rootOnly reports a regular file only root can open for writing.
func rootOnly(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Uid == 0 && st.Mode&0o022 == 0
}

// noWriters reports that nobody holds the file open for writing (nor a
// shared writable mapping of it) now: the kernel refuses a read lease
// (EAGAIN) while anyone does. A page a writer already made writable
// changes the file without a fault, so without this a writer present
// during the verification could change the file afterwards, unseen.
func noWriters(fd int32) bool {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		return false
	}
	unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
	return true
}

// cacheable reports whether what was learnt from reading the file of ev
// (stat st) may be kept in the verdict cache: nobody can change the file
// from now on without moving its ctime or size. That holds with no
// writer now, on a filesystem that write-protects mapped pages (or
// cannot change), or for a file only root can write (root is outside
// the threat model). A user's file on tmpfs is read again at every exec.
func (g *Gate) cacheable(ev *event, st *unix.Stat_t) bool {
	if g.trustCache {
		return true
	}
	// Without fine-grained timestamps (kernels before 6.13, Debian 12's
	// 6.1 among them) a change within the clock tick of the last one
	// keeps the ctime. A file changed in the last second is therefore not
	// cached: any change after its verdict is kept falls in a later tick
	// and moves the ctime. (A ctime in the future, a clock set back,
	// counts as recent.)
	if time.Since(time.Unix(st.Ctim.Unix())) < recentChange {
		return false
	}
	switch fsClassOf(ev.fd) {
	case fsReadOnly:
		return true
	case fsWriteback:
	case fsNoNotify:
		if !rootOnly(st) {
			return false
		}
	default:
		if !rootOnly(st) {
			return false
		}
	}
	return noWriters(ev.fd)
}

// kernelCache sets the ignore mark for the file of ev, verified as key,
// when it is safe (see above); it never fails an exec.
func (g *Gate) kernelCache(ev *event, key cacheKey) {
	if !g.kcache.Load() {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(int(ev.fd), &st) != nil || !rootOnly(&st) || keyOf(&st) != key || fsClassOf(ev.fd) == fsUnknown {
		return
	}
	// As for the verdict cache: a write in the clock tick of the
	// verification, before the mark existed, would keep the key that the
	// check after marking compares.
	if !g.trustCache && time.Since(time.Unix(st.Ctim.Unix())) < recentChange {
		return
	}
	if !g.trustCache && !noWriters(ev.fd) {
		return
	}
	if err := g.ignoreMark(unix.FAN_MARK_ADD, ev.fd); err != nil {
		if err == unix.EINVAL {
			// A kernel without FAN_MARK_EVICTABLE (before 5.19): no
			// kernel cache, every exec comes to the gate.
			g.kcache.Store(false)
			fmt.Fprintf(g.cfg.Log, "immunix markd: no kernel-side cache (fanotify_mark: %v): every exec is read by the gate\n", err)
		}
		return
	}
	// A write between the verification and the mark raised its modify
	// event before the mark existed: what is marked must still be what
	// was verified, else the mark goes.
	if unix.Fstat(int(ev.fd), &st) != nil || keyOf(&st) != key {
		g.ignoreMark(unix.FAN_MARK_REMOVE, ev.fd)
		return
	}
	atomic.AddUint64(&g.stats.KernelCached, 1)
}

// ignoreMark adds or removes the ignore mark on the inode of fd (no path:
// exactly the file the kernel is about to run).
func (g *Gate) ignoreMark(op uint, fd int32) error {
	flags := op | unix.FAN_MARK_IGNORED_MASK
	if op == unix.FAN_MARK_ADD {
		flags |= unix.FAN_MARK_EVICTABLE
	}
	rc, err := g.f.SyscallConn()
	if err != nil {
		return err
	}
	var markErr error
	if err := rc.Control(func(fan uintptr) {
		markErr = unix.FanotifyMark(int(fan), flags, g.mask, int(fd), "")
	}); err != nil {
		return err
	}
	return markErr
}

func keyOf(st *unix.Stat_t) cacheKey {
	return cacheKey{dev: st.Dev, ino: st.Ino, ctime: st.Ctim, mtime: st.Mtim, size: st.Size}
}
