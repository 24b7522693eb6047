package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRewriteStringConst(t *testing.T) {
	p := filepath.Join(t.TempDir(), "h.go")
	if err := os.WriteFile(p, []byte("package x\n\nconst Hash = \"aa\"\nconst Other = \"aa\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	RewriteStringConst(t, p, "Hash", "aa", "bb")
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := "package x\n\nconst Hash = \"bb\"\nconst Other = \"aa\"\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
