package guardlib

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/immunix/immunix/formatguard"
	"github.com/immunix/immunix/internal/cachedir"
)

// FormatGuardKey names one version of the FormatGuard wrapper headers:
// "formatguard-include-HASH", HASH covering every file's name and contents
// (formatguard.HeadersHash, kept equal to the embedded files by
// formatguard's tests, so immunix-cc does not hash 47 KB on every start).
// The same key names the cache entry and the system copy.
func FormatGuardKey() (string, error) {
	return "formatguard-include-" + formatguard.HeadersHash, nil
}

// WriteFormatGuardHeaders writes the embedded wrapper headers into dir (which
// must exist), keeping their layout (dir/stdio.h, dir/sys/syslog.h, ...).
// "immunix guardlib --prebuild" can use it to fill SystemDir/FormatGuardKey().
func WriteFormatGuardHeaders(dir string) error {
	return fs.WalkDir(formatguard.Headers, "include", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "include" {
			return err
		}
		rel, err := filepath.Rel("include", filepath.FromSlash(p))
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(formatguard.Headers, p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return fmt.Errorf("write formatguard header: %w", err)
		}
		return nil
	})
}

// FormatGuardDir returns the directory holding the FormatGuard wrapper
// headers: the system copy SystemDir/KEY when it holds stdio.h, else the
// cache entry, written on first use (atomically, once, see cachedir).
func FormatGuardDir() (string, error) {
	key, err := FormatGuardKey()
	if err != nil {
		return "", err
	}
	sys := filepath.Join(SystemDir, key)
	if fi, err := os.Stat(filepath.Join(sys, "stdio.h")); err == nil && fi.Mode().IsRegular() {
		// Only a copy nobody but root (or this user) can have written.
		if err := cachedir.Trusted(filepath.Join(sys, "stdio.h")); err != nil {
			return "", fmt.Errorf("formatguard headers: system copy: %w", err)
		}
		return sys, nil
	}
	dir, err := cachedir.Materialize(key, WriteFormatGuardHeaders)
	if err != nil {
		return "", fmt.Errorf("formatguard headers: %w", err)
	}
	return dir, nil
}

// FormatGuardArgs returns the compile arguments that put the FormatGuard
// wrapper headers first on the system include path, "-isystem DIR",
// materialising the headers on first use.
func FormatGuardArgs() ([]string, error) {
	dir, err := FormatGuardDir()
	if err != nil {
		return nil, err
	}
	return []string{"-isystem", dir}, nil
}
