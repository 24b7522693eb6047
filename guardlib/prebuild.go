package guardlib

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/immunix/immunix/internal/cachedir"
)

// Prebuild builds the runtime for t into dest/key (the system copy immunix-cc
// prefers to its cache, SystemDir by default), atomically, keeping only
// OutputFiles, and returns the archive's path.
func Prebuild(t Target, key, dest string, opts BuildOptions) (string, error) {
	dir, err := cachedir.Install(dest, key, func(stage, scratch string) error {
		if err := Build(t, scratch, opts); err != nil {
			return err
		}
		// Keep only the archives and the export lists: the sources and
		// objects were scratch.
		for _, name := range OutputFiles {
			out := filepath.Join(stage, name)
			if err := os.Rename(filepath.Join(scratch, name), out); err != nil {
				return err
			}
			if err := os.Chmod(out, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("prebuild: %w", err)
	}
	return filepath.Join(dir, ArchiveName), nil
}

// PrebuildSameAs fills dest/key atomically with relative symbolic links to
// every file of dest/same (OutputFiles), which must be complete: a compiler
// reached under several names (cc, gcc, gcc-12, the triplet's names) links
// the one runtime built for its binary, and the link line finds each file
// it names under every key. It returns the archive's path.
func PrebuildSameAs(key, dest, same string) (string, error) {
	if key == same {
		return "", fmt.Errorf("prebuild: --same-as %s is this compiler's own key", same)
	}
	if err := CheckPrebuilt(filepath.Join(dest, same)); err != nil {
		return "", fmt.Errorf("prebuild: --same-as: %w", err)
	}
	dir, err := cachedir.Install(dest, key, func(stage, _ string) error {
		for _, name := range OutputFiles {
			if err := os.Symlink(filepath.Join("..", same, name), filepath.Join(stage, name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("prebuild: %w", err)
	}
	return filepath.Join(dir, ArchiveName), nil
}

// PrebuildFormatGuardHeaders writes the FormatGuard wrapper headers into
// dest/FormatGuardKey(), where immunix-cc prefers them to its cache.
func PrebuildFormatGuardHeaders(dest string) (string, error) {
	key, err := FormatGuardKey()
	if err != nil {
		return "", err
	}
	dir, err := cachedir.Install(dest, key, func(stage, _ string) error {
		return WriteFormatGuardHeaders(stage)
	})
	if err != nil {
		return "", fmt.Errorf("prebuild: %w", err)
	}
	return dir, nil
}
