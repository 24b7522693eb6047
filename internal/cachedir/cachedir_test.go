package cachedir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestMaterializeBuildsOnceUnderContention(t *testing.T) {
	root := t.TempDir()
	var builds atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir, err := MaterializeIn(root, "entry/a", func(tmp string) error {
				builds.Add(1)
				return os.WriteFile(filepath.Join(tmp, "f"), []byte("complete"), 0o644)
			})
			if err != nil {
				t.Error(err)
				return
			}
			b, err := os.ReadFile(filepath.Join(dir, "f"))
			if err != nil || string(b) != "complete" {
				t.Errorf("reader saw %q, %v", b, err)
			}
		}()
	}
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Fatalf("built %d times, want 1", n)
	}
}

func TestMaterializeFailedBuildLeavesNothing(t *testing.T) {
	root := t.TempDir()
	_, err := MaterializeIn(root, "x", func(tmp string) error { return os.ErrInvalid })
	if err == nil {
		t.Fatal("want error")
	}
	if _, err := os.Stat(filepath.Join(root, "x")); !os.IsNotExist(err) {
		t.Fatalf("entry exists after failed build: %v", err)
	}
}

// isolate points every source of the cache root at test directories: no
// $HOME, no XDG variables, a password file without the test's uid, and
// TMPDIR at a fresh sticky, world-writable directory like /tmp.
func isolate(t *testing.T) (tmp string) {
	t.Helper()
	t.Setenv(EnvVar, "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("HOME", "")
	old := passwdFile
	passwdFile = filepath.Join(t.TempDir(), "passwd")
	t.Cleanup(func() { passwdFile = old })
	if err := os.WriteFile(passwdFile, []byte("other:x:4242:4242::/nonexistent:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp = t.TempDir()
	if err := syscall.Chmod(tmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	return tmp
}

func TestRootDoesNotCreateMissingHome(t *testing.T) {
	tmp := isolate(t)
	missing := filepath.Join(t.TempDir(), "nonexistent")
	t.Setenv("HOME", missing)
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(root, missing+string(filepath.Separator)) || root == missing {
		t.Fatalf("Root() = %s, inside the missing HOME %s", root, missing)
	}
	if want := filepath.Join(tmp, fmt.Sprintf("immunix-cache-%d", os.Getuid())); root != want {
		t.Fatalf("Root() without a home = %s, want %s", root, want)
	}
	if st, err := os.Stat(root); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("the fallback root %s: %v, %v: want a directory of mode 0700", root, st.Mode(), err)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	if root, err := Root(); err != nil || root != filepath.Join(home, ".cache", "immunix") {
		t.Fatalf("Root() with a real HOME = %s, %v, want HOME/.cache/immunix", root, err)
	}
}

// TestRootFromPasswdWhenHomeUnset: with HOME unset (sbuild, services), the
// home directory of the password file comes before the shared temporary
// directory.
func TestRootFromPasswdWhenHomeUnset(t *testing.T) {
	isolate(t)
	home := t.TempDir()
	line := fmt.Sprintf("me:x:%d:%d::%s:/bin/sh\n", os.Getuid(), os.Getgid(), home)
	if err := os.WriteFile(passwdFile, []byte("other:x:4242:4242::/nonexistent:/bin/sh\n"+line), 0o644); err != nil {
		t.Fatal(err)
	}
	if root, err := Root(); err != nil || root != filepath.Join(home, ".cache", "immunix") {
		t.Fatalf("Root() = %s, %v, want the password file's home", root, err)
	}
}

// needRoot skips tests that must make files owned by another user.
func needRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to make directories owned by another uid (chown)")
	}
}

const otherUID = 4242

// TestRootRefusesPlantedDirectory (issue 14 item 1): another user who
// creates TMPDIR/immunix-cache-UID first, and plants an entry in it, does
// not get it used: Root refuses it and Materialize builds nothing there.
func TestRootRefusesPlantedDirectory(t *testing.T) {
	needRoot(t)
	for _, tt := range []struct {
		name  string
		plant func(t *testing.T, dir string)
		want  string
	}{
		{"owned by another user", func(t *testing.T, dir string) {
			mkdir(t, dir, 0o755)
			chown(t, dir, otherUID)
		}, fmt.Sprintf("is owned by uid %d, not by you (uid %d)", otherUID, os.Getuid())},
		{"writable by others", func(t *testing.T, dir string) {
			mkdir(t, dir, 0o777)
		}, "is writable by group or others (mode 0777)"},
		{"symbolic link of another user", func(t *testing.T, dir string) {
			target := filepath.Join(filepath.Dir(dir), "elsewhere")
			mkdir(t, target, 0o700)
			if err := os.Symlink(target, dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(dir, otherUID, otherUID); err != nil {
				t.Fatal(err)
			}
		}, fmt.Sprintf("symbolic link %s is owned by uid %d", "DIR", otherUID)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := isolate(t)
			planted := filepath.Join(tmp, fmt.Sprintf("immunix-cache-%d", os.Getuid()))
			tt.plant(t, planted)
			// The attacker's entry, where the victim would look for it.
			evil := filepath.Join(planted, "stamp-h", "x")
			if st, err := os.Stat(planted); err == nil && st.IsDir() {
				mkdir(t, filepath.Dir(evil), 0o777)
				mkdir(t, evil, 0o777)
				if err := os.WriteFile(filepath.Join(evil, "h"), []byte("planted"), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			want := strings.ReplaceAll(tt.want, "DIR", planted)
			if root, err := Root(); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Root() = %q, %v; want it refused: %q", root, err, want)
			}
			built := false
			dir, err := Materialize("stamp-h/x", func(tmp string) error {
				built = true
				return os.WriteFile(filepath.Join(tmp, "h"), []byte("ours"), 0o644)
			})
			if err == nil || built {
				t.Fatalf("Materialize used the planted directory: %s, built=%v", dir, built)
			}
		})
	}
}

// TestSecureWalk: the rules from the root down, with the attacker's
// directories made with chown.
func TestSecureWalk(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	sticky := filepath.Join(base, "sticky")
	mkdir(t, sticky, 0o1777)
	open := filepath.Join(base, "open")
	mkdir(t, open, 0o777)
	theirs := filepath.Join(base, "theirs")
	mkdir(t, theirs, 0o755)
	chown(t, theirs, otherUID)
	for _, tt := range []struct {
		dir  string
		want string // "" for accepted
	}{
		{filepath.Join(sticky, "mine", "cache"), ""},
		{filepath.Join(open, "cache"), "without the sticky bit"},
		{filepath.Join(theirs, "cache"), "not by you"},
	} {
		got, err := Secure(tt.dir, true)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Secure(%s): %v", tt.dir, err)
		case tt.want == "" && got != tt.dir:
			t.Errorf("Secure(%s) = %s", tt.dir, got)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Secure(%s) = %s, %v; want an error containing %q", tt.dir, got, err, tt.want)
		}
	}
	if st, err := os.Stat(filepath.Join(sticky, "mine")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v, want mode 0700", err)
	}
	// A symbolic link of ours is followed, and what it leads to is checked.
	link := filepath.Join(base, "link")
	if err := os.Symlink("theirs", link); err != nil {
		t.Fatal(err)
	}
	if _, err := Secure(filepath.Join(link, "cache"), true); err == nil || !strings.Contains(err.Error(), theirs) {
		t.Errorf("Secure through a link to another user's directory: %v", err)
	}
}

// TestMaterializeRebuildsChangedEntry: an entry whose file changed after it
// was built (or that has no manifest) is not used; it is built again.
func TestMaterializeRebuildsChangedEntry(t *testing.T) {
	root := t.TempDir()
	builds := 0
	build := func(tmp string) error {
		builds++
		return os.WriteFile(filepath.Join(tmp, "f"), []byte("good"), 0o644)
	}
	dir, err := MaterializeIn(root, "e/k", build)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("evil"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(dir, "e/k"); err == nil {
		t.Fatal("Verify accepts a changed file")
	}
	dir, err = MaterializeIn(root, "e/k", build)
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "good" || builds != 2 {
		t.Fatalf("after a change: %q, %v, %d builds", b, err, builds)
	}
	// An entry moved under another key does not pass as that key's.
	if err := os.Rename(dir, filepath.Join(root, "e", "other")); err != nil {
		t.Fatal(err)
	}
	if err := Verify(filepath.Join(root, "e", "other"), "e/other"); err == nil {
		t.Fatal("Verify accepts an entry built under another key")
	}
	// An extra file, or a symbolic link in place of a file, is refused.
	dir, _ = MaterializeIn(root, "e/k", build)
	if err := os.WriteFile(filepath.Join(dir, "extra"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(dir, "e/k"); err == nil {
		t.Fatal("Verify accepts an extra file")
	}
	os.Remove(filepath.Join(dir, "extra"))
	os.Remove(filepath.Join(dir, "f"))
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	if err := Verify(dir, "e/k"); err == nil {
		t.Fatal("Verify accepts a symbolic link")
	}
}

// mkdir makes dir with exactly the permission bits mode (0o1777 is sticky).
func mkdir(t *testing.T, dir string, mode uint32) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, p string, uid int) {
	t.Helper()
	if err := os.Chown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}
