package learn

import (
	"bytes"
	"sync"

	"github.com/immunix/immunix/subdomain"
)

func openMode(flags []byte) subdomain.Mode {
	var m subdomain.Mode
	switch {
	case bytes.Contains(flags, []byte("O_RDWR")):
		m = subdomain.Read | subdomain.Write
	case bytes.Contains(flags, []byte("O_WRONLY")):
		m = subdomain.Write
	default:
		m = subdomain.Read
	}
	if bytes.Contains(flags, []byte("O_CREAT")) || bytes.Contains(flags, []byte("O_TMPFILE")) {
		m |= subdomain.Create
	}
	if bytes.Contains(flags, []byte("O_TRUNC")) {
		m |= subdomain.Write
	}
	return m
}

// needArgs is how many leading arguments each kind uses.
var needArgs = [...]int{
	kOther: 0, kOpen: 2, kOpenat: 3, kOpenat2: 3, kCreat: 1, kStat: 1, kStatat: 2,
	kExecve: 1, kExecveat: 2, kChdir: 1, kFchdir: 1, kMkdir: 1, kMkdirat: 2,
	kRmdir: 1, kUnlink: 1, kUnlinkat: 3, kRename: 2, kRenameat: 4, kLink: 2,
	kLinkat: 4, kSymlink: 2, kSymlinkat: 3, kChmod: 1, kChmodat: 2, kFdWrite: 1,
	kMknod: 1, kMknodat: 2, kMmap: 5, kMount: 2, kBind: 2, kConnect: 2, kClone: 0,
	kMemfd: 2, kSocket: 0, kKill: 1,
}

// Syscall kinds the parser understands.
const (
	kOther = iota
	kOpen
	kOpenat
	kOpenat2
	kCreat
	kStat
	kStatat
	kExecve
	kExecveat
	kChdir
	kFchdir
	kMkdir
	kMkdirat
	kRmdir
	kUnlink
	kUnlinkat
	kRename
	kRenameat
	kLink
	kLinkat
	kSymlink
	kSymlinkat
	kChmod
	kChmodat
	kFdWrite
	kMknod
	kMknodat
	kMmap
	kMount
	kBind
	kConnect
	kClone
	kMemfd
	kSocket
	kKill
)

type syscallInfo struct {
	kind      int
	name      string // interned, so events do not allocate it
	dangerous bool
}

// syscallTable is built on first use, not at start-up: immunix run links
// this package (complain mode) and should not pay for it otherwise.
var syscallTable = sync.OnceValue(func() map[string]syscallInfo {
	kinds := syscallKinds()
	m := make(map[string]syscallInfo, len(kinds))
	for name, k := range kinds {
		m[name] = syscallInfo{kind: k, name: name, dangerous: subdomain.SyscallGrant(name) != ""}
	}
	return m
})

func syscallKinds() map[string]int {
	return map[string]int{
		"open": kOpen, "openat": kOpenat, "openat2": kOpenat2, "creat": kCreat,
		"stat": kStat, "lstat": kStat, "stat64": kStat, "lstat64": kStat, "access": kStat,
		"readlink": kStat, "statfs": kStat, "statfs64": kStat, "getxattr": kStat, "lgetxattr": kStat,
		"listxattr": kStat, "llistxattr": kStat, "utime": kChmod, "utimes": kChmod,
		"newfstatat": kStatat, "fstatat64": kStatat, "statx": kStatat, "faccessat": kStatat,
		"faccessat2": kStatat, "readlinkat": kStatat, "futimesat": kChmodat, "utimensat": kChmodat,
		"execve": kExecve, "execveat": kExecveat,
		"chdir": kChdir, "fchdir": kFchdir, "chroot": kMount,
		"mkdir": kMkdir, "mkdirat": kMkdirat, "rmdir": kRmdir,
		"unlink": kUnlink, "unlinkat": kUnlinkat,
		"rename": kRename, "renameat": kRenameat, "renameat2": kRenameat,
		"link": kLink, "linkat": kLinkat, "symlink": kSymlink, "symlinkat": kSymlinkat,
		"chmod": kChmod, "chown": kChmod, "lchown": kChmod, "chown32": kChmod, "lchown32": kChmod,
		"truncate": kChmod, "truncate64": kChmod, "setxattr": kChmod, "lsetxattr": kChmod,
		"removexattr": kChmod, "lremovexattr": kChmod,
		"fchmodat": kChmodat, "fchmodat2": kChmodat, "fchownat": kChmodat,
		"fchmod": kFdWrite, "fchown": kFdWrite, "fchown32": kFdWrite, "ftruncate": kFdWrite,
		"ftruncate64": kFdWrite, "fsetxattr": kFdWrite, "fremovexattr": kFdWrite,
		"mknod": kMknod, "mknodat": kMknodat,
		"mmap": kMmap, "mmap2": kMmap,
		"mount": kMount, "umount2": kStat, "umount": kStat, "pivot_root": kStat,
		"swapon": kStat, "swapoff": kStat, "acct": kStat,
		"bind": kBind, "connect": kConnect,
		"clone": kClone, "clone3": kClone, "fork": kClone, "vfork": kClone,
		"ptrace": kOther, "reboot": kOther, "init_module": kOther, "finit_module": kOther,
		"delete_module": kOther, "kexec_load": kOther, "kexec_file_load": kOther,
		"adjtimex": kOther, "clock_adjtime": kOther, "clock_settime": kOther, "settimeofday": kOther,
		"io_uring_setup": kOther, "memfd_create": kMemfd,
		"socket": kSocket, "kill": kKill, "tkill": kKill, "tgkill": kKill,
	}
}
