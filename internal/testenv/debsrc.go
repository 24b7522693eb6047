package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// SourceCache is where DebianSource keeps unpacked Debian source packages
// between test runs.
const SourceCache = "/var/cache/immunix-tests/src"

var debSrcMu sync.Mutex

// DebianSource returns a fresh copy (in a temporary directory) of the
// unpacked Debian source package pkg, fetched once with `apt-get source`
// into SourceCache. It configures the deb-src entries it needs from the
// machine's own deb entries. Needs root and the package archive.
func DebianSource(t testing.TB, pkg string) string {
	t.Helper()
	NeedsTool(t, "dpkg-source")
	NeedsRoot(t)
	debSrcMu.Lock()
	defer debSrcMu.Unlock()
	cache := filepath.Join(SourceCache, pkg)
	if _, err := os.Stat(filepath.Join(cache, ".complete")); err != nil {
		if err := ensureDebSrc(); err != nil {
			t.Fatalf("configure deb-src: %v", err)
		}
		os.RemoveAll(cache)
		if err := os.MkdirAll(cache, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("apt-get", "source", "-qq", pkg)
		cmd.Dir = cache
		if out, err := cmd.CombinedOutput(); err != nil {
			if strings.Contains(string(out), "404  Not Found") {
				// The archive lists a source it does not serve (seen:
				// zlib's security update): the archive's fault, not a
				// tool this machine lacks nor a failure of ours.
				t.Skipf("archive: apt-get source %s: the archive does not serve the source it lists (404)\n%s", pkg, out)
			}
			t.Fatalf("apt-get source %s: %v\n%s", pkg, err, out)
		}
		if err := os.WriteFile(filepath.Join(cache, ".complete"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	var src string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), pkg+"-") {
			src = filepath.Join(cache, e.Name())
		}
	}
	if src == "" {
		t.Fatalf("apt-get source %s left no %s-* directory in %s", pkg, pkg, cache)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", src, err, out)
	}
	return dst
}

// ensureDebSrc writes /etc/apt/sources.list.d/immunix-deb-src.sources from the
// machine's deb entries (same mirrors, Types: deb-src) and updates the lists,
// unless deb-src entries already exist.
func ensureDebSrc() error {
	const out = "/etc/apt/sources.list.d/immunix-deb-src.sources"
	if _, err := os.Stat(out); err == nil {
		return nil
	}
	src, err := os.ReadFile("/etc/apt/sources.list.d/debian.sources")
	if err != nil {
		return fmt.Errorf("read the machine's Debian sources: %w", err)
	}
	if bytes.Contains(src, []byte("deb-src")) {
		return nil
	}
	if err := os.WriteFile(out, bytes.ReplaceAll(src, []byte("Types: deb\n"), []byte("Types: deb-src\n")), 0o644); err != nil {
		return err
	}
	if b, err := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v\n%s", err, b)
	}
	return nil
}
