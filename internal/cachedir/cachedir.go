// Package cachedir owns immunix's on-disk cache: where it lives, and how an
// entry is built exactly once, atomically, even when many compiler
// invocations of a parallel build ask for it at the same moment.
//
// Example:
//
//	dir, err := cachedir.Materialize("runtime/gcc-12-x86_64", func(tmp string) error {
//		return buildArchiveInto(tmp)
//	})
//	// dir now holds the complete entry; no reader ever sees a partial one.
package cachedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// EnvVar names the environment variable that overrides the cache root.
const EnvVar = "IMMUNIX_CACHE_DIR"

// Root returns the cache root: $IMMUNIX_CACHE_DIR if set, else
// os.UserCacheDir()/immunix when $HOME exists, else a directory under
// os.TempDir() named for the user (a build user with no HOME still gets a
// cache).
func Root() string {
	if d := os.Getenv(EnvVar); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil && usableHome() {
		return filepath.Join(d, "immunix")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("immunix-cache-%d", os.Getuid()))
}

// usableHome reports whether $HOME names an existing directory. Package
// builders often set HOME to a path that must not exist (sbuild's
// /sbuild-nonexistent, pbuilder's /nonexistent); the cache must not create
// it, so such builds fall back to a per-user directory under the temp dir.
func usableHome() bool {
	if os.Getenv("XDG_CACHE_HOME") != "" {
		return true
	}
	home := os.Getenv("HOME")
	if home == "" {
		return false
	}
	st, err := os.Stat(home)
	return err == nil && st.IsDir()
}

// Materialize returns Root()/key, building it with build if it does not yet
// exist. build receives an empty temporary directory on the same file system;
// when it succeeds the directory is renamed to its final name. An exclusive
// lock on Root()/key.lock serialises builders; a caller that finds the entry
// complete takes no lock at all.
func Materialize(key string, build func(tmpdir string) error) (string, error) {
	return MaterializeIn(Root(), key, build)
}

// MaterializeIn is Materialize with an explicit root.
func MaterializeIn(root, key string, build func(tmpdir string) error) (string, error) {
	final := filepath.Join(root, key)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("create cache directory: %w", err)
	}
	lock, err := os.OpenFile(final+".lock", os.O_CREATE|os.O_RDWR, 0o644)
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
	if _, err := os.Stat(final); err == nil {
		return final, nil
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
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("install cache entry %s: %w", final, err)
	}
	return final, nil
}
