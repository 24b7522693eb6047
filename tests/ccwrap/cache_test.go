package ccwrap_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/immunix/immunix/internal/cachedir"
	"github.com/immunix/immunix/internal/testenv"
)

const (
	victimUID   = 65534 // nobody: its home, /nonexistent, does not exist
	attackerUID = 12345
)

// evilStampHeader is what the attacker puts where immunix-cc looks for its
// stamp header: a constructor in every program built with it.
const evilStampHeader = `#if !defined(__ASSEMBLER__)
#include <stdio.h>
__attribute__((constructor)) static void planted(void) { puts("PWNED"); }
#endif
`

// TestCacheHijackRefused (issue 14 item 1): a user with no usable home
// (nobody, as under sbuild or a service) falls back to
// TMPDIR/immunix-cache-UID. Another user who created that directory first,
// with a stamp header that adds a constructor, must not get it into the
// victim's program. The test first shows that the planted cache does run
// the attacker's code when it is trusted, then that the victim refuses it.
func TestCacheHijackRefused(t *testing.T) {
	testenv.NeedsRoot(t)
	gcc := testenv.NeedsTool(t, "gcc")
	base, err := os.MkdirTemp("", "immunix-hijack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	must(t, os.Chmod(base, 0o755))
	tmp := filepath.Join(base, "tmp")
	must(t, os.Mkdir(tmp, 0o700))
	must(t, syscall.Chmod(tmp, 0o1777))
	binDir := filepath.Join(base, "bin")
	must(t, os.Mkdir(binDir, 0o755))
	w := filepath.Join(binDir, "immunix-cc")
	data, err := os.ReadFile(filepath.Join(testenv.Binaries(t), "immunix-cc"))
	must(t, err)
	must(t, os.WriteFile(w, data, 0o755))
	work := filepath.Join(base, "work")
	must(t, os.Mkdir(work, 0o755))
	writeFile(t, filepath.Join(work, "hello.c"), helloC)
	must(t, os.Chown(work, victimUID, victimUID))

	// The attacker's cache: a real one, with the stamp header replaced and
	// its manifest made to match.
	seed := filepath.Join(base, "seed")
	must(t, os.Mkdir(seed, 0o700))
	env := []string{"PATH=" + filepath.Dir(gcc) + ":/usr/bin:/bin", "LC_ALL=C", "IMMUNIX_CC=gcc", "IMMUNIX_CONFIG=/nonexistent/immunix.conf", "TMPDIR=" + tmp}
	runAs(t, 0, work, append(env, "IMMUNIX_CACHE_DIR="+seed), w, "-O2", "hello.c", "-o", "/dev/null")
	planted := 0
	must(t, filepath.WalkDir(seed, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "immunix-stamp.h" {
			planted++
			must(t, os.WriteFile(p, []byte(evilStampHeader), 0o644))
			forgeManifest(t, seed, filepath.Dir(p))
		}
		return err
	}))
	if planted == 0 {
		t.Fatal("no stamp header in the seeded cache")
	}
	// The attack works where the cache is trusted (the attacker's own
	// build with this cache prints PWNED).
	runAs(t, 0, work, append(env, "IMMUNIX_CACHE_DIR="+seed), w, "-O2", "hello.c", "-o", "proof")
	if out, _ := exec.Command(filepath.Join(work, "proof")).Output(); !strings.Contains(string(out), "PWNED") {
		t.Fatalf("the planted stamp header does not work: %q", out)
	}

	// The attacker plants it as TMPDIR/immunix-cache-65534, owned by them.
	hijack := filepath.Join(tmp, fmt.Sprintf("immunix-cache-%d", victimUID))
	must(t, os.Rename(seed, hijack))
	must(t, filepath.WalkDir(hijack, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			err = os.Lchown(p, attackerUID, attackerUID)
			if err == nil && d.IsDir() {
				err = os.Chmod(p, 0o755)
			}
		}
		return err
	}))
	r := runAs(t, victimUID, work, env, w, "-O2", "hello.c", "-o", "hello")
	out, err := exec.Command(filepath.Join(work, "hello")).Output()
	if err != nil || strings.Contains(string(out), "PWNED") || string(out) != "hello\n" {
		t.Fatalf("the victim's program ran the planted code: %q, %v\nimmunix-cc said: %s", out, err, r)
	}
	if want := fmt.Sprintf("%s is owned by uid %d, not by you (uid %d)", hijack, attackerUID, victimUID); !strings.Contains(r, want) {
		t.Errorf("immunix-cc does not say why it refused the cache (want %q):\n%s", want, r)
	}
	if !strings.Contains(r, "immunix-cc: warning: runtime left out") {
		t.Errorf("the runtime left out without a warning:\n%s", r)
	}
}

// runAs runs argv as uid in dir with exactly env, and returns its stderr;
// the command must succeed.
func runAs(t *testing.T, uid int, dir string, env []string, argv ...string) string {
	t.Helper()
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir, c.Env = dir, env
	if uid != 0 {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("%s (uid %d): %v\n%s", strings.Join(argv, " "), uid, err, stderr.String())
	}
	return stderr.String()
}

// forgeManifest rewrites the manifest of the cache entry dir under root, as
// an attacker who knows the format would.
func forgeManifest(t *testing.T, root, dir string) {
	t.Helper()
	key, err := filepath.Rel(root, dir)
	must(t, err)
	var lines []string
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == cachedir.ManifestName {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		lines = append(lines, "sha256 "+hex.EncodeToString(sum[:])+" "+filepath.ToSlash(rel))
		return nil
	}))
	sort.Strings(lines)
	m := "key " + key + "\n" + strings.Join(lines, "\n") + "\n"
	must(t, os.WriteFile(filepath.Join(dir, cachedir.ManifestName), []byte(m), 0o600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
