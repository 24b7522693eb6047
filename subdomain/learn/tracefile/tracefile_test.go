package tracefile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestRoundTrip: what NewWriter compresses, Open gives back; a plain
// trace is read as it is; a missing file is an error naming the
// operation.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	trace := []byte("# cwd=/srv\n4242 openat(AT_FDCWD</srv>, \"x\", O_RDONLY) = 3</srv/x>\n")
	var zbuf bytes.Buffer
	w, err := NewWriter(&zbuf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(trace)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(zbuf.Bytes(), []byte(zstdMagic)) {
		t.Fatalf("not zstd: % x", zbuf.Bytes()[:8])
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"t.trace.zst", zbuf.Bytes()},
		{"t.trace", trace},
		{"empty", nil},
	}
	for _, tc := range tests {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		rc, err := Open(p)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := trace
		if tc.data == nil {
			want = nil
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, want)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil || !bytes.Contains([]byte(err.Error()), []byte("open trace")) {
		t.Errorf("missing file: err = %v", err)
	}
}
