package canary

import (
	"io/fs"
	"strings"
	"testing"
)

// TestSources: the runtime parts guardlib must compile are embedded, and
// none of them turns the stack protector or FORTIFY on for itself.
func TestSources(t *testing.T) {
	want := map[string]bool{
		"runtime/stack_chk.c":   false,
		"runtime/renew.c":       false,
		"runtime/fortify_str.c": false,
		"runtime/fortify_io.c":  false,
	}
	err := fs.WalkDir(Sources, "runtime", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, ok := want[p]; ok {
			want[p] = true
		}
		b, err := fs.ReadFile(Sources, p)
		if err != nil {
			return err
		}
		for _, bad := range []string{"stack_protect", "_FORTIFY_SOURCE 2", "_FORTIFY_SOURCE 3"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, ok := range want {
		if !ok {
			t.Errorf("%s is not embedded", p)
		}
	}
}
