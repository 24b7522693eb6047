package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// MasqueradeNames are the compiler names a masquerade directory covers: what
// real package builds call (Debian rules hard-code some of them).
var MasqueradeNames = []string{
	"cc", "c++", "gcc", "g++", "clang", "clang++",
	"x86_64-linux-gnu-gcc", "x86_64-linux-gnu-g++",
	"x86_64-linux-gnu-gcc-12", "x86_64-linux-gnu-g++-12",
	"gcc-12", "g++-12", "clang-14", "clang++-14",
}

// Masquerade makes a temporary directory of symlinks, one per
// MasqueradeNames entry, pointing at the immunix-cc built by Binaries, and
// returns it. Put it first in PATH.
func Masquerade(t testing.TB) string {
	t.Helper()
	bin := Binaries(t)
	dir := t.TempDir()
	for _, n := range MasqueradeNames {
		if err := os.Symlink(filepath.Join(bin, "immunix-cc"), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
