package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
		served, err := fetchSource(cache, pkg)
		if errors.Is(err, errNotServed) {
			// No version the archive lists is served: the archive's
			// fault, not a tool this machine lacks nor a failure of ours.
			t.Skipf("archive: apt-get source %s: %v", pkg, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		// .complete holds the version taken when it is not the default.
		if err := os.WriteFile(filepath.Join(cache, ".complete"), []byte(served), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if served, _ := os.ReadFile(filepath.Join(cache, ".complete")); len(served) > 0 {
		t.Logf("archive: apt-get source %s: the newest version it lists is not served (404); using %s, the newest it serves", pkg, served)
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

// errNotServed: the archive lists a source package but serves none of its
// versions (404 for every one).
var errNotServed = errors.New("the archive does not serve any version of the source it lists (404)")

// fetchSource unpacks pkg's source into cache (emptied first) with
// `apt-get source`. When the archive lists a version it does not serve
// (seen: zlib's security update, 1:1.2.13.dfsg-1+deb12u1, 404 on
// deb.debian.org/debian-security here, while 1:1.2.13.dfsg-1 is served),
// it tries the other listed versions, newest first, and returns the one it
// took; "" means the default version was served.
func fetchSource(cache, pkg string) (string, error) {
	get := func(spec string) (bool, error) {
		os.RemoveAll(cache)
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return false, err
		}
		cmd := exec.Command("apt-get", "source", "-qq", spec)
		cmd.Dir = cache
		out, err := cmd.CombinedOutput()
		if err == nil {
			return true, nil
		}
		if strings.Contains(string(out), "404  Not Found") {
			return false, nil
		}
		return false, fmt.Errorf("apt-get source %s: %w\n%s", spec, err, out)
	}
	if ok, err := get(pkg); ok || err != nil {
		return "", err
	}
	out, err := exec.Command("apt-cache", "showsrc", pkg).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache showsrc %s: %w", pkg, err)
	}
	for _, v := range newestFirst(sourceVersions(string(out))) {
		if ok, err := get(pkg + "=" + v); err != nil {
			return "", err
		} else if ok {
			return v, nil
		}
	}
	os.RemoveAll(cache)
	return "", errNotServed
}

// sourceVersions reads the distinct Version fields of `apt-cache showsrc`.
func sourceVersions(showsrc string) []string {
	var vs []string
	seen := map[string]bool{}
	for _, l := range strings.Split(showsrc, "\n") {
		if v, ok := strings.CutPrefix(l, "Version: "); ok && !seen[v] {
			seen[v] = true
			vs = append(vs, strings.TrimSpace(v))
		}
	}
	return vs
}

// newestFirst orders Debian versions newest first, as dpkg compares them.
func newestFirst(vs []string) []string {
	sort.SliceStable(vs, func(i, j int) bool {
		return exec.Command("dpkg", "--compare-versions", vs[i], "gt", vs[j]).Run() == nil
	})
	return vs
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
