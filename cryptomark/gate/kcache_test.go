package gate

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRootOnly: the kernel-side cache and the verdict cache on tmpfs
// trust only files no one but root can open for writing.
func TestRootOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   unix.Stat_t
		want bool
	}{
		{"root 0755", unix.Stat_t{Mode: unix.S_IFREG | 0o755}, true},
		{"root 0700", unix.Stat_t{Mode: unix.S_IFREG | 0o700}, true},
		{"root, group-writable (or an ACL mask with w)", unix.Stat_t{Mode: unix.S_IFREG | 0o775}, false},
		{"root, world-writable", unix.Stat_t{Mode: unix.S_IFREG | 0o757}, false},
		{"a user's 0755", unix.Stat_t{Mode: unix.S_IFREG | 0o755, Uid: 1000}, false},
		{"root directory", unix.Stat_t{Mode: unix.S_IFDIR | 0o755}, false},
	} {
		if got := rootOnly(&tc.st); got != tc.want {
			t.Errorf("%s: rootOnly = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFSClasses: only filesystems whose every change moves the ctime (or
// that cannot change) are trusted with a user's file; tmpfs is not.
func TestFSClasses(t *testing.T) {
	for magic, want := range map[int64]fsClass{
		unix.EXT4_SUPER_MAGIC:      fsWriteback,
		unix.TMPFS_MAGIC:           fsNoNotify,
		unix.SQUASHFS_MAGIC:        fsReadOnly,
		unix.NFS_SUPER_MAGIC:       fsUnknown,
		unix.FUSE_SUPER_MAGIC:      fsUnknown,
		unix.OVERLAYFS_SUPER_MAGIC: fsUnknown,
	} {
		if got := fsClasses[magic]; got != want {
			t.Errorf("filesystem %#x: class %d, want %d", magic, got, want)
		}
	}
}

// TestRecentChangeNotCached: a file changed in the last second keeps no
// verdict (a change in the same clock tick keeps the ctime on kernels
// without fine-grained timestamps); the test hook keeps everything.
func TestRecentChangeNotCached(t *testing.T) {
	now := unix.NsecToTimespec(time.Now().UnixNano())
	st := unix.Stat_t{Mode: unix.S_IFREG | 0o755, Ctim: now}
	ev := &event{fd: -1}
	if (&Gate{}).cacheable(ev, &st) {
		t.Error("a file changed just now was cacheable")
	}
	st.Ctim = unix.NsecToTimespec(time.Now().Add(time.Hour).UnixNano())
	if (&Gate{}).cacheable(ev, &st) {
		t.Error("a file with a ctime in the future was cacheable")
	}
	if !(&Gate{trustCache: true}).cacheable(ev, &st) {
		t.Error("the trust-cache test hook did not keep the verdict")
	}
}
