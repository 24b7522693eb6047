package testenv

import (
	"bytes"
	"os"
	"testing"
)

// RewriteStringConst replaces the line `const name = "old"` of the Go file
// path with `const name = "new"`: the -update step of a test that keeps a
// generated constant (a hash of embedded files) equal to what it names.
func RewriteStringConst(t testing.TB, path, name, old, new string) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(`const ` + name + ` = "` + old + `"`)
	if !bytes.Contains(src, line) {
		t.Fatalf("%s: no line %s", path, line)
	}
	src = bytes.Replace(src, line, []byte(`const `+name+` = "`+new+`"`), 1)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
}
