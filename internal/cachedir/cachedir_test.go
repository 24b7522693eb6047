package cachedir

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

func TestRootDoesNotCreateMissingHome(t *testing.T) {
	t.Setenv(EnvVar, "")
	t.Setenv("XDG_CACHE_HOME", "")
	missing := filepath.Join(t.TempDir(), "nonexistent")
	t.Setenv("HOME", missing)
	root := Root()
	if strings.HasPrefix(root, missing+string(filepath.Separator)) || root == missing {
		t.Fatalf("Root() = %s, inside the missing HOME %s", root, missing)
	}
	t.Setenv("HOME", t.TempDir())
	if root := Root(); filepath.Base(root) != "immunix" {
		t.Fatalf("Root() with a real HOME = %s, want .../immunix", root)
	}
}
