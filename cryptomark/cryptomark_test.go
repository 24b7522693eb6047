package cryptomark

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// elfFile copies /bin/true (a real ELF executable) into dir.
func elfFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skipf("no /bin/true to sign: %v", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func newKey(t *testing.T, dir, name string) (*PrivateKey, *PublicKey) {
	t.Helper()
	k, err := GenerateKey(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := LoadPublicKey(filepath.Join(dir, name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	if pub.ID != k.ID {
		t.Fatalf("public key id %s != private key id %s", pub.ID, k.ID)
	}
	return k, pub
}

func TestGenerateKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k")
	k, err := GenerateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, %v; want 0600", st.Mode(), err)
	}
	if _, err := GenerateKey(p); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second GenerateKey: %v, want a refusal to overwrite", err)
	}
	k2, err := LoadPrivateKey(p)
	if err != nil || k2.ID != k.ID || !bytes.Equal(k2.Key, k.Key) {
		t.Fatalf("LoadPrivateKey: %v", err)
	}
	os.Chmod(p, 0o644)
	if _, err := LoadPrivateKey(p); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("world-readable key loaded: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "junk.pub"), []byte("ssh-ed25519 AAAA\n"), 0o644)
	if _, err := LoadPublicKey(filepath.Join(dir, "junk.pub")); err == nil || !strings.Contains(err.Error(), "not an immunix key file") {
		t.Fatalf("junk public key: %v", err)
	}
}

func TestKeyring(t *testing.T) {
	dir := t.TempDir()
	_, pub := newKey(t, dir, "a")
	keys := t.TempDir()
	data, _ := os.ReadFile(pub.File)
	os.WriteFile(filepath.Join(keys, "a.pub"), data, 0o644)
	ring, err := LoadKeyring(keys)
	if err != nil || ring.Lookup(pub.ID) == nil {
		t.Fatalf("LoadKeyring: %v", err)
	}
	if r, err := LoadKeyring(filepath.Join(keys, "missing")); err != nil || len(r.IDs()) != 0 {
		t.Fatalf("missing dir: %v %v", r.IDs(), err)
	}
	os.WriteFile(filepath.Join(keys, "bad"), []byte("garbage"), 0o644)
	if _, err := LoadKeyring(keys); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Fatalf("a bad file in the trust store must be an error naming it: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	dir := t.TempDir()
	k, pub := newKey(t, dir, "trusted")
	_, other := newKey(t, dir, "other")
	ring := NewKeyring(pub)
	otherKey, _ := LoadPrivateKey(filepath.Join(dir, "other"))
	_ = other

	signed := elfFile(t, dir, "signed")
	orig, _ := os.ReadFile(signed)
	if _, err := SignFile(signed, k); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(signed)
	if !bytes.Equal(after[:len(orig)], orig) || len(after) != len(orig)+TrailerSize {
		t.Fatal("signing changed the covered bytes or appended the wrong size")
	}
	if v := VerifyFile(signed, ring); !v.OK() || v.KeyID != k.ID.String() {
		t.Fatalf("signed file: %+v", v)
	}
	// Re-signing replaces the trailer.
	if r, err := SignFile(signed, k); err != nil || !r.Resigned {
		t.Fatalf("re-sign: %+v %v", r, err)
	}
	if st, _ := os.Stat(signed); st.Size() != int64(len(orig)+TrailerSize) {
		t.Fatalf("re-signing grew the file to %d", st.Size())
	}

	mutate := func(name string, f func([]byte) []byte) string {
		p := filepath.Join(dir, name)
		data, _ := os.ReadFile(signed)
		os.WriteFile(p, f(data), 0o755)
		return p
	}
	tests := []struct {
		name    string
		path    string
		ring    *Keyring
		signed  bool
		wantErr error
	}{
		{"unsigned", elfFile(t, dir, "plain"), ring, false, ErrUnsigned},
		{"one byte changed", mutate("flip", func(b []byte) []byte { b[100] ^= 1; return b }), ring, true, ErrBadSignature},
		{"last covered byte changed", mutate("flip2", func(b []byte) []byte { b[len(b)-TrailerSize-1] ^= 0x80; return b }), ring, true, ErrBadSignature},
		{"signature changed", mutate("sig", func(b []byte) []byte { b[len(b)-TrailerSize+offSig] ^= 1; return b }), ring, true, ErrBadSignature},
		{"key id changed", mutate("kid", func(b []byte) []byte { b[len(b)-TrailerSize+offID] ^= 1; return b }), ring, true, ErrUntrusted},
		{"bytes prepended", mutate("pre", func(b []byte) []byte { return append([]byte{0}, b...) }), ring, true, ErrCorrupt},
		{"cut in the middle", mutate("cut", func(b []byte) []byte { return append(b[:1000:1000], b[len(b)-TrailerSize:]...) }), ring, true, ErrCorrupt},
		{"untrusted key", signed, NewKeyring(), true, ErrUntrusted},
		{"nil keyring", signed, nil, true, ErrUntrusted},
		{"trailer only", mutate("only", func(b []byte) []byte { return b[len(b)-TrailerSize:] }), ring, true, ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := VerifyFile(tt.path, tt.ring)
			if v.OK() || !errors.Is(v.Err, tt.wantErr) || v.Signed != tt.signed {
				t.Fatalf("got %+v, want error %v, signed=%v", v, tt.wantErr, tt.signed)
			}
		})
	}
	// Signed by another key: untrusted here, valid with that key.
	o := elfFile(t, dir, "byother")
	SignFile(o, otherKey)
	if v := VerifyFile(o, ring); v.OK() || !errors.Is(v.Err, ErrUntrusted) {
		t.Fatalf("other key: %+v", v)
	}
	if v := VerifyFile(o, NewKeyring(other)); !v.OK() {
		t.Fatalf("other key trusted: %+v", v)
	}
}

func TestSignSkipsNonELF(t *testing.T) {
	dir := t.TempDir()
	k, _ := newKey(t, dir, "k")
	for name, data := range map[string][]byte{
		"script":    []byte("#!/bin/sh\necho hi\n"),
		"empty":     nil,
		"truncated": []byte("\x7fELF\x02\x01"),
		"object":    append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 1, 0),
		"core":      append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 4, 0),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o755)
		if _, err := SignFile(p, k); !errors.Is(err, ErrNotELF) {
			t.Errorf("%s: %v, want ErrNotELF", name, err)
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(after, data) {
			t.Errorf("%s: changed by a refused signing", name)
		}
	}
}

// FuzzParseTrailer: any tail parses to a trailer, ErrUnsigned or
// ErrCorrupt; a parsed trailer marshals back to the same bytes.
func FuzzParseTrailer(f *testing.F) {
	good := (&Trailer{Covered: 10, Hash: HashSHA256}).Marshal()
	f.Add(good, int64(10+TrailerSize))
	f.Add(good, int64(5))
	f.Add(make([]byte, TrailerSize), int64(TrailerSize))
	bad := bytes.Clone(good)
	bad[offVer] = 9
	f.Add(bad, int64(10+TrailerSize))
	f.Fuzz(func(t *testing.T, tail []byte, size int64) {
		tr, err := ParseTrailer(tail, size)
		if err != nil {
			if !errors.Is(err, ErrUnsigned) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if !bytes.Equal(tr.Marshal(), tail) || tr.Covered != size-TrailerSize {
			t.Fatalf("round trip differs")
		}
	})
}

// FuzzVerify: verifying arbitrary file contents never panics and never
// calls a file OK without the key's signature.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	k, err := GenerateKey(filepath.Join(dir, "k"))
	if err != nil {
		f.Fatal(err)
	}
	pub, _ := LoadPublicKey(filepath.Join(dir, "k.pub"))
	ring := NewKeyring(pub)
	p := filepath.Join(dir, "x")
	os.WriteFile(p, []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00 some body"), 0o644)
	SignFile(p, k)
	signed, _ := os.ReadFile(p)
	f.Add(signed)
	f.Add(signed[:len(signed)-1])
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		v := Verify(bytes.NewReader(data), int64(len(data)), ring)
		if v.OK() && !bytes.Equal(data, signed) {
			// Only a byte-identical copy of what we signed may pass
			// (ed25519 signatures are not malleable).
			t.Fatalf("forged file verified: %q", data)
		}
	})
}
