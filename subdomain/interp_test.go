package subdomain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInterpreters(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "s")
	os.WriteFile(script, []byte("#!/bin/sh -e\necho hi\n"), 0o755)
	got := Interpreters(script)
	if len(got) < 1 || got[0] != "/bin/sh" {
		t.Fatalf("Interpreters(script) = %v, want /bin/sh first", got)
	}
	if len(got) < 2 || !strings.Contains(got[1], "ld-linux") {
		t.Errorf("the shell's own ELF interpreter is missing: %v", got)
	}
	if got := Interpreters("/usr/bin/true"); len(got) != 1 || !strings.Contains(got[0], "ld-linux") {
		t.Errorf("Interpreters(/usr/bin/true) = %v", got)
	}
	if !IsELF("/usr/bin/true") || IsELF(script) {
		t.Error("IsELF wrong")
	}
	text := filepath.Join(dir, "t")
	os.WriteFile(text, []byte("plain"), 0o644)
	if got := Interpreters(text); got != nil {
		t.Errorf("Interpreters(text) = %v", got)
	}
	if got := Interpreters(filepath.Join(dir, "missing")); got != nil {
		t.Errorf("Interpreters(missing) = %v", got)
	}
}
