package cachedir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestInstall: a directory is installed, replaced whole by a second
// install, kept as it was when a fill fails, and no temporary directory
// is left behind.
func TestInstall(t *testing.T) {
	dest := t.TempDir()
	write := func(content string) func(stage, scratch string) error {
		return func(stage, scratch string) error {
			if err := os.WriteFile(filepath.Join(scratch, "work"), nil, 0o644); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(stage, "f-"+content), []byte(content), 0o644)
		}
	}
	dir, err := Install(dest, "k", write("one"))
	if err != nil || dir != filepath.Join(dest, "k") {
		t.Fatalf("Install: %q, %v", dir, err)
	}
	if _, err := Install(dest, "k", write("two")); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(dest, "k", func(stage, _ string) error {
		os.WriteFile(filepath.Join(stage, "partial"), nil, 0o644)
		return errors.New("compiler failed")
	}); err == nil {
		t.Fatal("a failed fill was installed")
	}
	entries, _ := os.ReadDir(dest)
	if len(entries) != 1 || entries[0].Name() != "k" {
		t.Errorf("dest holds %v, want only k", entries)
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 || files[0].Name() != "f-two" {
		t.Errorf("k holds %v, want the second install's file only", files)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("k: %v, %v; want mode 0755", st, err)
	}
}
