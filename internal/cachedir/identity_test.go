package cachedir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIdentityRecordSkipsReading: once a file is old enough to be recorded,
// a use of the entry does not read it; any change to it afterwards (same
// size, modification time put back, or a same-sized file renamed over it)
// is still found, because the kernel sets the change time.
func TestIdentityRecordSkipsReading(t *testing.T) {
	root := t.TempDir()
	build := func(tmp string) error {
		if err := os.MkdirAll(filepath.Join(tmp, "sub"), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "sub", "a.h"), []byte("good"), 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "b.a"), []byte("archive"), 0o644)
	}
	dir, err := MaterializeIn(root, "e/k", build)
	if err != nil {
		t.Fatal(err)
	}
	// Just built: too recent to be recorded, so every use reads the files.
	if _, hashed, err := verify(dir, "e/k"); err != nil || !hashed {
		t.Fatalf("fresh entry: hashed=%v err=%v, want read", hashed, err)
	}
	// Two seconds later (the clock moved for the record only), a use
	// records the files; the next use reads none.
	defer func() { timeNow = time.Now }()
	timeNow = func() time.Time { return time.Now().Add(2 * identityMinAge) }
	if _, err := MaterializeIn(root, "e/k", build); err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile(dir + identitySuffix)
	if err != nil || strings.Count(string(rec), "\n") != 4 {
		t.Fatalf("identity record: %q, %v", rec, err)
	}
	if _, hashed, err := verify(dir, "e/k"); err != nil || hashed {
		t.Fatalf("recorded entry: hashed=%v err=%v, want no file read", hashed, err)
	}

	changes := []struct {
		name   string
		change func(t *testing.T, p string)
	}{
		{"same size, mtime restored", func(t *testing.T, p string) {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("evil"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}},
		{"renamed over", func(t *testing.T, p string) {
			if err := os.WriteFile(p+".new", []byte("evil"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p+".new", p); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			dir, err := MaterializeIn(root, "e/k", build)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := MaterializeIn(root, "e/k", build); err != nil { // records the new entry
				t.Fatal(err)
			}
			if _, hashed, err := verify(dir, "e/k"); err != nil || hashed {
				t.Fatalf("before the change: hashed=%v err=%v", hashed, err)
			}
			c.change(t, filepath.Join(dir, "sub", "a.h"))
			if err := Verify(dir, "e/k"); err == nil {
				t.Fatal("Verify accepts a file changed after its identity was recorded")
			}
			dir, err = MaterializeIn(root, "e/k", build)
			if b, _ := os.ReadFile(filepath.Join(dir, "sub", "a.h")); err != nil || string(b) != "good" {
				t.Fatalf("after the change: %q, %v", b, err)
			}
		})
	}
}

// TestIdentityRecordIgnoredWhenForeign: a record for another key, of
// another format, or not the user's own regular file, is not used.
func TestIdentityRecordIgnoredWhenForeign(t *testing.T) {
	root := t.TempDir()
	dir, err := MaterializeIn(root, "e/k", func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, "f"), []byte("good"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := verify(dir, "e/k")
	if err != nil {
		t.Fatal(err)
	}
	good := formatIdentities("e/k", files, time.Now().Add(time.Hour))
	for name, rec := range map[string][]byte{
		"other key":    formatIdentities("e/other", files, time.Now().Add(time.Hour)),
		"other format": []byte(strings.Replace(string(good), identityHeader, "immunix-cache-identity 0", 1)),
		"wrong sum":    []byte(strings.Replace(string(good), files[0].sum, strings.Repeat("0", 64), 1)),
	} {
		if err := os.WriteFile(dir+identitySuffix, rec, 0o600); err != nil {
			t.Fatal(err)
		}
		_, hashed, err := verify(dir, "e/k")
		if name == "wrong sum" {
			// A record whose sum disagrees with the manifest fails the
			// entry: it is built again, never used on the record's word.
			if err == nil {
				t.Errorf("%s: accepted", name)
			}
			continue
		}
		if err != nil || !hashed {
			t.Errorf("%s: hashed=%v err=%v, want the files read", name, hashed, err)
		}
	}
	if err := os.WriteFile(dir+identitySuffix, good, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir+identitySuffix, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, hashed, err := verify(dir, "e/k"); err != nil || !hashed {
		t.Errorf("world-writable record: hashed=%v err=%v, want it ignored", hashed, err)
	}
}

func FuzzParseIdentities(f *testing.F) {
	f.Add([]byte(identityHeader + "\nkey e/k\n2049 131 4 1700000000000000000 1700000000000000000 " + strings.Repeat("ab", 32) + " sub/a.h\n"))
	f.Add([]byte(identityHeader + "\nkey e/k\n1 2 3\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parseIdentities(strings.NewReader(string(data)), "e/k")
		if err == nil && k == nil {
			t.Fatal("nil record without an error")
		}
	})
}
