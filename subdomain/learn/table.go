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

// The system calls the parser learns from. Most of them name one or two
// paths and do one thing to each: they are rows of paths (kPaths), which
// call handles in one loop. The others (the open family, which reads its
// mode from the flags, exec, the current directory, fds, memory maps,
// sockets, signals, clone) have a kind of their own.

// pathArg is one path a system call names.
type pathArg struct {
	dir  int // index of the directory-fd argument, or -1: the process's cwd
	path int // index of the path argument
	mode subdomain.Mode
	// isDir: the path names a directory (the event's path ends in "/");
	// dirFlag > 0 also makes it one when that argument holds AT_REMOVEDIR.
	isDir   bool
	dirFlag int
}

// syscallShape is how one system call is read.
type syscallShape struct {
	kind  int       // kPaths, or a kind call handles by itself
	paths []pathArg // kPaths: the paths it names, in order
	args  int       // leading arguments to split (kPaths: from paths)
	// lookup: the call only looks names up (stat, access, readlink...);
	// Parser.SkipLookups drops it unless it is dangerous.
	lookup bool
}

// Kinds of system call: kPaths is read from its pathArgs alone.
const (
	kPaths = iota
	kOpen
	kOpenat
	kOpenat2
	kCreat
	kExecve
	kExecveat
	kChdir
	kFchdir
	kFdWrite
	kMmap
	kBind
	kConnect
	kClone
	kMemfd
	kSocket
	kKill
	kOther // dangerous calls without a path: ptrace, reboot, modules
)

// paths is a call that does mode to each of its path arguments (mode 0:
// looks the name up; with a pathArg's own mode, that one).
func paths(mode subdomain.Mode, args ...pathArg) syscallShape {
	sh := syscallShape{kind: kPaths, paths: args}
	for i := range sh.paths {
		a := &sh.paths[i]
		if a.mode == 0 {
			a.mode = mode
		}
		sh.args = max(sh.args, a.dir+1, a.path+1, a.dirFlag+1)
	}
	return sh
}

// lookups is a call that only looks its path up (stat, access, readlink).
func lookups(a pathArg) syscallShape {
	sh := paths(0, a)
	sh.lookup = true
	return sh
}

func special(kind, args int) syscallShape { return syscallShape{kind: kind, args: args} }

var (
	cwdPath = pathArg{dir: -1, path: 0} // f(path, ...)
	atPath  = pathArg{dir: 0, path: 1}  // f(dirfd, path, ...)
	cwdDir  = pathArg{dir: -1, path: 0, isDir: true}
	atDir   = pathArg{dir: 0, path: 1, isDir: true}
	second  = pathArg{dir: -1, path: 1} // f(x, path, ...)
	atThird = pathArg{dir: 1, path: 2}  // f(x, dirfd, path, ...)
	atNew   = pathArg{dir: 2, path: 3}  // f(olddirfd, old, newdirfd, new, ...)
)

func with(a pathArg, m subdomain.Mode) pathArg { a.mode = m; return a }

func syscallShapes() map[string]syscallShape {
	const (
		r, w, c = subdomain.Read, subdomain.Write, subdomain.Create
	)
	lookup, lookupAt := lookups(cwdPath), lookups(atPath)
	write, writeAt := paths(w, cwdPath), paths(w, atPath)
	fdWrite := special(kFdWrite, 1)
	m := map[string]syscallShape{
		"open": special(kOpen, 2), "openat": special(kOpenat, 3), "openat2": special(kOpenat2, 3),
		"creat":  special(kCreat, 1),
		"execve": special(kExecve, 1), "execveat": special(kExecveat, 2),
		"chdir": special(kChdir, 1), "fchdir": special(kFchdir, 1),
		"mmap": special(kMmap, 5), "mmap2": special(kMmap, 5),
		"bind": special(kBind, 2), "connect": special(kConnect, 2),
		"clone": special(kClone, 0), "clone3": special(kClone, 0), "fork": special(kClone, 0), "vfork": special(kClone, 0),
		"memfd_create": special(kMemfd, 2), "socket": special(kSocket, 0),
		"kill": special(kKill, 1), "tkill": special(kKill, 1), "tgkill": special(kKill, 1),

		"newfstatat": lookupAt, "fstatat64": lookupAt, "statx": lookupAt, "faccessat": lookupAt,
		"faccessat2": lookupAt, "readlinkat": lookupAt,
		"futimesat": writeAt, "utimensat": writeAt, "fchmodat": writeAt, "fchmodat2": writeAt, "fchownat": writeAt,
		"mkdir": paths(c, cwdDir), "mkdirat": paths(c, atDir), "rmdir": paths(c, cwdDir),
		"unlink": paths(c, cwdPath), "unlinkat": paths(c, pathArg{dir: 0, path: 1, dirFlag: 2}),
		"mknod": paths(c, cwdPath), "mknodat": paths(c, atPath),
		"rename": paths(c, cwdPath, second), "renameat": paths(c, atPath, atNew), "renameat2": paths(c, atPath, atNew),
		"link": paths(c, with(cwdPath, r), second), "linkat": paths(c, with(atPath, r), atNew),
		"symlink": paths(c, second), "symlinkat": paths(c, atThird),
		// chroot and mount change what names mean: looked up, and granted
		// as dangerous system calls.
		"chroot": paths(0, cwdPath), "mount": paths(0, second),
	}
	for _, n := range []string{"stat", "lstat", "stat64", "lstat64", "access", "readlink", "statfs",
		"statfs64", "getxattr", "lgetxattr", "listxattr", "llistxattr",
		"umount2", "umount", "pivot_root", "swapon", "swapoff", "acct"} {
		m[n] = lookup
	}
	for _, n := range []string{"utime", "utimes", "chmod", "chown", "lchown", "chown32", "lchown32",
		"truncate", "truncate64", "setxattr", "lsetxattr", "removexattr", "lremovexattr"} {
		m[n] = write
	}
	for _, n := range []string{"fchmod", "fchown", "fchown32", "ftruncate", "ftruncate64", "fsetxattr", "fremovexattr"} {
		m[n] = fdWrite
	}
	for _, n := range []string{"ptrace", "reboot", "init_module", "finit_module", "delete_module",
		"kexec_load", "kexec_file_load", "adjtimex", "clock_adjtime", "clock_settime", "settimeofday",
		"io_uring_setup"} {
		m[n] = special(kOther, 0)
	}
	return m
}

type syscallInfo struct {
	syscallShape
	name      string // interned, so events do not allocate it
	dangerous bool
}

// syscallTable is built on first use, not at start-up: immunix run links
// this package (complain mode) and should not pay for it otherwise.
var syscallTable = sync.OnceValue(func() map[string]syscallInfo {
	shapes := syscallShapes()
	m := make(map[string]syscallInfo, len(shapes))
	for name, sh := range shapes {
		m[name] = syscallInfo{syscallShape: sh, name: name, dangerous: subdomain.SyscallGrant(name) != ""}
	}
	return m
})
