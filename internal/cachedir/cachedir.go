// Package cachedir owns immunix's on-disk cache: where it lives, that nobody
// but its owner can have put anything in it, and how an entry is built
// exactly once, atomically, even when many compiler invocations of a
// parallel build ask for it at the same moment.
//
// Example:
//
//	dir, err := cachedir.Materialize("runtime/gcc-12-x86_64", func(tmp string) error {
//		return buildArchiveInto(tmp)
//	})
//	// dir now holds the complete entry, checked against its manifest; no
//	// reader ever sees a partial one.
package cachedir

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// EnvVar names the environment variable that overrides the cache root.
const EnvVar = "IMMUNIX_CACHE_DIR"

// passwdFile is where the fallback home directory is looked up (tests
// point it elsewhere).
var passwdFile = "/etc/passwd"

var (
	rootMu  sync.Mutex
	rootSig string
	rootSet bool
	rootDir string
	rootErr error
)

// Root returns the cache root, creating it (mode 0700) when missing. The
// candidates, first usable one wins:
//
//  1. $IMMUNIX_CACHE_DIR (when set, the only candidate);
//  2. $XDG_CACHE_HOME/immunix (when set to an absolute path);
//  3. $HOME/.cache/immunix, when $HOME names an existing directory (package
//     builders set HOME to paths that must not exist: /sbuild-nonexistent,
//     /nonexistent; the cache never creates them);
//  4. HOME/.cache/immunix with HOME from the password file, when that
//     directory exists (root with HOME unset gets /root/.cache/immunix);
//  5. $XDG_RUNTIME_DIR/immunix-cache (when set);
//  6. TMPDIR/immunix-cache-UID (os.TempDir(), default /tmp).
//
// A candidate is used only when Secure accepts it: no other user can own or
// write the directory or any directory above it. A directory another user
// planted at /tmp/immunix-cache-UID is refused, never used. When no
// candidate is usable the error says why for each.
func Root() (string, error) {
	sig := strings.Join([]string{os.Getenv(EnvVar), os.Getenv("XDG_CACHE_HOME"), os.Getenv("HOME"), os.Getenv("XDG_RUNTIME_DIR"), os.TempDir(), passwdFile}, "\x00")
	rootMu.Lock()
	defer rootMu.Unlock()
	if !rootSet || rootSig != sig {
		rootDir, rootErr = locate()
		rootSig, rootSet = sig, true
	}
	return rootDir, rootErr
}

type candidate struct{ dir, from string }

func candidates() []candidate {
	if d := os.Getenv(EnvVar); d != "" {
		return []candidate{{d, "$" + EnvVar}}
	}
	var out []candidate
	if x := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(x) {
		out = append(out, candidate{filepath.Join(x, "immunix"), "$XDG_CACHE_HOME"})
	}
	home := os.Getenv("HOME")
	if isDir(home) {
		out = append(out, candidate{filepath.Join(home, ".cache", "immunix"), "$HOME"})
	}
	if h := passwdHome(os.Getuid()); h != "" && h != home && isDir(h) {
		out = append(out, candidate{filepath.Join(h, ".cache", "immunix"), "the home directory in " + passwdFile})
	}
	if r := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(r) && isDir(r) {
		out = append(out, candidate{filepath.Join(r, "immunix-cache"), "$XDG_RUNTIME_DIR"})
	}
	out = append(out, candidate{filepath.Join(os.TempDir(), fmt.Sprintf("immunix-cache-%d", os.Getuid())), "the temporary directory"})
	return out
}

func locate() (string, error) {
	var why []string
	for _, c := range candidates() {
		dir, err := Secure(c.dir, true)
		if err == nil {
			return dir, nil
		}
		why = append(why, fmt.Sprintf("%s (%s): %v", c.dir, c.from, err))
	}
	return "", fmt.Errorf("no safe cache directory (set %s to a directory only you can write): %s", EnvVar, strings.Join(why, "; "))
}

func isDir(p string) bool {
	if p == "" {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// passwdHome returns the home directory of uid in the password file, or "".
func passwdHome(uid int) string {
	f, err := os.Open(passwdFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	want := strconv.Itoa(uid)
	sc := bufio.NewScanner(io.LimitReader(f, 16<<20))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 7 && fields[2] == want && filepath.IsAbs(fields[5]) {
			return fields[5]
		}
	}
	return ""
}

// ErrUnsafe wraps every refusal of a directory or file another user could
// have written.
var ErrUnsafe = errors.New("unsafe")

// Secure checks, from the root directory down, every component of dir
// (symbolic links followed, each one checked too) and returns the resolved
// path. Each directory is opened relative to the one above it with
// O_NOFOLLOW and checked with fstat on what was opened, so nothing can be
// swapped between the check and the use:
//
//   - every directory and symbolic link must be owned by root or by the
//     calling user;
//   - a directory above dir that group or others can write must have the
//     sticky bit (as /tmp has): then nobody else can rename or remove what
//     the user owns in it;
//   - dir itself must be owned by the calling user and writable by nobody
//     else.
//
// With create, missing components are created with mode 0700.
func Secure(dir string, create bool) (string, error) {
	return walk(dir, create, true)
}

// Trusted checks a file or directory that immunix uses but does not write
// (the system copy of the runtime under /usr/lib/immunix): every component
// down to it owned by root or the calling user, and none but a sticky
// directory writable by group or others.
func Trusted(path string) error {
	_, err := walk(path, false, false)
	return err
}

func walk(dir string, create, ownLast bool) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	rest := split(abs)
	for hops := 0; ; hops++ {
		if hops > 40 {
			return "", &fs.PathError{Op: "resolve", Path: abs, Err: unix.ELOOP}
		}
		res, link, err := walkOnce(rest, create, ownLast)
		if err != nil || link == nil {
			return res, err
		}
		rest = link
	}
}

// walkOnce walks the components from /; on meeting a symbolic link it
// returns the components to walk instead (the link's target and the rest).
func walkOnce(rest []string, create, ownLast bool) (string, []string, error) {
	uid := uint32(os.Getuid())
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("open /: %w", err)
	}
	defer func() { unix.Close(fd) }()
	cur := "/"
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", nil, fmt.Errorf("stat /: %w", err)
	}
	if err := checkDir(cur, &st, uid, len(rest) == 0 && ownLast); err != nil {
		return "", nil, err
	}
	for i, name := range rest {
		last := i == len(rest)-1
		next := filepath.Join(cur, name)
		nfd, err := unix.Openat(fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, name, 0o700); err == nil || errors.Is(err, unix.EEXIST) {
				nfd, err = unix.Openat(fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		if err != nil {
			return "", nil, &fs.PathError{Op: "open", Path: next, Err: err}
		}
		if err := unix.Fstat(nfd, &st); err != nil {
			unix.Close(nfd)
			return "", nil, &fs.PathError{Op: "stat", Path: next, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			defer unix.Close(nfd)
			if st.Uid != 0 && st.Uid != uid {
				return "", nil, fmt.Errorf("%w: symbolic link %s is owned by uid %d, not by you (uid %d) or root", ErrUnsafe, next, st.Uid, uid)
			}
			target, err := readlinkFD(nfd)
			if err != nil {
				return "", nil, &fs.PathError{Op: "readlink", Path: next, Err: err}
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			return "", append(split(filepath.Clean(target)), rest[i+1:]...), nil
		}
		unix.Close(fd)
		fd = nfd
		cur = next
		if (!last || ownLast) && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", nil, fmt.Errorf("%w: %s is not a directory", ErrUnsafe, cur)
		}
		if err := checkDir(cur, &st, uid, last && ownLast); err != nil {
			return "", nil, err
		}
	}
	return cur, nil, nil
}

func checkDir(path string, st *unix.Stat_t, uid uint32, own bool) error {
	if own {
		if st.Uid != uid {
			return fmt.Errorf("%w: %s is owned by uid %d, not by you (uid %d)", ErrUnsafe, path, st.Uid, uid)
		}
		if st.Mode&0o022 != 0 {
			return fmt.Errorf("%w: %s is writable by group or others (mode %#o)", ErrUnsafe, path, st.Mode&0o7777)
		}
		return nil
	}
	if st.Uid != 0 && st.Uid != uid {
		return fmt.Errorf("%w: %s is owned by uid %d, not by you (uid %d) or root", ErrUnsafe, path, st.Uid, uid)
	}
	if st.Mode&0o022 != 0 && (st.Mode&unix.S_ISVTX == 0 || st.Mode&unix.S_IFMT != unix.S_IFDIR) {
		return fmt.Errorf("%w: %s is writable by group or others (mode %#o) without the sticky bit", ErrUnsafe, path, st.Mode&0o7777)
	}
	return nil
}

func readlinkFD(fd int) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	if n >= len(buf) {
		return "", unix.ENAMETOOLONG
	}
	return string(buf[:n]), nil
}

func split(abs string) []string {
	var out []string
	for _, p := range strings.Split(abs, "/") {
		if p != "" && p != "." {
			out = append(out, p)
		}
	}
	return out
}

// Materialize returns Root()/key, building it with build if it does not yet
// exist. build receives an empty temporary directory (mode 0700) on the same
// file system; when it succeeds, a manifest of the entry (the key, and the
// SHA-256 of every file) is written into it and it is renamed to its final
// name. An exclusive lock on Root()/key.lock serialises builders. Every use
// checks the entry against its manifest (Verify); an entry that does not
// match is removed and built again.
func Materialize(key string, build func(tmpdir string) error) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	return MaterializeIn(root, key, build)
}

// MaterializeIn is Materialize with an explicit root, which the caller has
// checked (Secure).
func MaterializeIn(root, key string, build func(tmpdir string) error) (string, error) {
	final := filepath.Join(root, key)
	if files, hashed, err := verify(final, key); err == nil {
		if hashed {
			recordIdentities(final, key, files)
		}
		return final, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", fmt.Errorf("create cache directory: %w", err)
	}
	lock, err := os.OpenFile(final+".lock", os.O_CREATE|os.O_RDWR|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("open cache lock: %w", err)
	}
	defer lock.Close()
	for {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("lock %s: %w", final+".lock", err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN) //nolint:errcheck // released on close anyway

	// Another builder may have finished while we waited.
	files, hashed, verr := verify(final, key)
	if verr == nil {
		if hashed {
			recordIdentities(final, key, files)
		}
		return final, nil
	}
	if _, err := os.Lstat(final); err == nil {
		// There, but not what was built under this key (an older format, a
		// partial copy, a changed file): move it aside and build again.
		aside, err := os.MkdirTemp(filepath.Dir(final), filepath.Base(final)+".bad-")
		if err != nil {
			return "", fmt.Errorf("replace cache entry %s: %w", final, err)
		}
		if err := os.Rename(final, filepath.Join(aside, "entry")); err != nil {
			os.RemoveAll(aside)
			return "", fmt.Errorf("replace cache entry %s (%v): %w", final, verr, err)
		}
		os.RemoveAll(aside)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("stat cache entry: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), filepath.Base(final)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("create temporary cache directory: %w", err)
	}
	if err := build(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := writeManifest(tmp, key); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("cache entry %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("install cache entry %s: %w", final, err)
	}
	return final, nil
}

// ManifestName is the file in each cache entry that lists its key and the
// SHA-256 of each of its files.
const ManifestName = ".immunix-manifest"

// manifest returns the manifest text of dir: "key KEY" and one line
// "sha256 HEX PATH" per regular file, sorted. Anything but directories and
// regular files is refused, as is a file not owned by the calling user.
func manifest(dir, key string) ([]byte, error) {
	m, _, _, err := manifestWith(dir, key, nil)
	return m, err
}

// manifestWith is manifest, taking a file's sum from known instead of
// reading the file when known vouches for the file's identity; hashed
// reports whether any file was read.
func manifestWith(dir, key string, known *identities) ([]byte, []identity, bool, error) {
	var files []identity
	hashed := false
	uid := uint32(os.Getuid())
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == ManifestName {
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file", ErrUnsafe, p)
		}
		rel = filepath.ToSlash(rel)
		if known != nil {
			st, err := statOwned(p, uid)
			if err != nil {
				return err
			}
			if id, ok := known.lookup(rel, st); ok {
				files = append(files, id)
				return nil
			}
		}
		sum, st, err := hashFileStat(p, uid)
		if err != nil {
			return err
		}
		hashed = true
		files = append(files, identityOf(rel, st, sum))
		return nil
	})
	if err != nil {
		return nil, nil, hashed, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	var b bytes.Buffer
	fmt.Fprintf(&b, "key %s\n", key)
	for _, f := range files {
		fmt.Fprintf(&b, "sha256 %s %s\n", f.sum, f.path)
	}
	return b.Bytes(), files, hashed, nil
}

// statOwned checks with lstat that p is a regular file owned by uid and
// writable by nobody else, and returns what lstat gave.
func statOwned(p string, uid uint32) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(unix.AT_FDCWD, p, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	if err := ownedRegular(p, &st, uid); err != nil {
		return nil, err
	}
	return &st, nil
}

func ownedRegular(p string, st *unix.Stat_t, uid uint32) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != uid || st.Mode&0o022 != 0 {
		return fmt.Errorf("%w: %s is not a regular file of yours writable only by you (uid %d, mode %#o)", ErrUnsafe, p, st.Uid, st.Mode&0o7777)
	}
	return nil
}

// hashFileStat opens p without following a symbolic link, checks with fstat that
// it is a regular file owned by uid and writable by nobody else, and
// returns its SHA-256 and what fstat gave before the file was read.
func hashFileStat(p string, uid uint32) (string, *unix.Stat_t, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	if err := ownedRegular(p, &st, uid); err != nil {
		return "", nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", nil, fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), &st, nil
}

func writeManifest(dir, key string) error {
	m, err := manifest(dir, key)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestName), m, 0o600)
}

// Verify checks that the entry dir holds exactly what its manifest lists,
// byte for byte (SHA-256), under key, every file a regular file of the
// calling user's that nobody else can write.
//
// A file is read and hashed again unless the entry's identity record (see
// identityRecord) says the file is the very one whose sum it recorded: the
// same device, inode, size, modification and change time, and a change
// time older than the record's own. The change time cannot be set from
// user space, so any write, truncation, replacement or chmod after the
// record was written makes the file hashed again.
func Verify(dir, key string) error {
	_, _, err := verify(dir, key)
	return err
}

// verify is Verify; hashed reports whether any file had to be read (the
// identity record was missing, stale, or too recent to be trusted).
func verify(dir, key string) (files []identity, hashed bool, err error) {
	uid := uint32(os.Getuid())
	want, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, false, fmt.Errorf("cache entry %s: no manifest: %w", dir, err)
	}
	if _, err := statOwned(filepath.Join(dir, ManifestName), uid); err != nil {
		return nil, false, err
	}
	known := readIdentities(dir, key, uid)
	got, files, hashed, err := manifestWith(dir, key, known)
	if err != nil {
		return nil, hashed, fmt.Errorf("cache entry %s: %w", dir, err)
	}
	if !bytes.Equal(got, want) {
		return nil, hashed, fmt.Errorf("cache entry %s does not match the manifest it was built with under key %s", dir, key)
	}
	return files, hashed, nil
}
