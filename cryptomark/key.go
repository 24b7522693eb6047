package cryptomark

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultKeysDir holds the trusted public keys, one file each.
const DefaultKeysDir = "/etc/immunix/keys"

// KeyIDSize is the length in bytes of a key id: the first bytes of the
// SHA-256 of the public key.
const KeyIDSize = 8

// KeyID names a public key.
type KeyID [KeyIDSize]byte

// String is the key id as 16 hex digits.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// IDOf derives the key id of a public key.
func IDOf(pub ed25519.PublicKey) KeyID {
	sum := sha256.Sum256(pub)
	var id KeyID
	copy(id[:], sum[:KeyIDSize])
	return id
}

// The first word of each key file's single line.
const (
	privateTag = "immunix-ed25519-private"
	publicTag  = "immunix-ed25519"
)

// PrivateKey is a signing key with its id.
type PrivateKey struct {
	ID  KeyID
	Key ed25519.PrivateKey
}

// PublicKey is a verification key with its id and the file it came from.
type PublicKey struct {
	ID   KeyID
	Key  ed25519.PublicKey
	File string
}

// GenerateKey writes a new private key to path (mode 0600, never over an
// existing file) and its public key to path+".pub" (mode 0644, likewise).
func GenerateKey(path string) (*PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	id := IDOf(pub)
	if _, err := os.Lstat(path + ".pub"); err == nil {
		return nil, fmt.Errorf("%s.pub already exists: not overwriting a key", path)
	}
	privLine := fmt.Sprintf("%s %s %s\n", privateTag, base64.StdEncoding.EncodeToString(priv.Seed()), id)
	if err := writeNew(path, privLine, 0o600); err != nil {
		return nil, err
	}
	pubLine := fmt.Sprintf("%s %s %s\n", publicTag, base64.StdEncoding.EncodeToString(pub), id)
	if err := writeNew(path+".pub", pubLine, 0o644); err != nil {
		os.Remove(path)
		return nil, err
	}
	return &PrivateKey{ID: id, Key: priv}, nil
}

func writeNew(path, content string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: not overwriting a key", path)
		}
		return fmt.Errorf("write key: %w", err)
	}
	if err := f.Chmod(mode); err == nil { // umask may have narrowed it; never widened
		_, err = f.WriteString(content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			return nil
		}
	} else {
		f.Close()
	}
	os.Remove(path)
	return fmt.Errorf("write key %s: %w", path, err)
}

// maxKeyFile bounds what a key file may hold: one line.
const maxKeyFile = 4096

// parseKeyLine reads "TAG BASE64 [ID]" and returns the decoded key bytes.
func parseKeyLine(path string, data []byte, tag string, size int) ([]byte, error) {
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: not an immunix key file (larger than %d bytes)", path, maxKeyFile)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 2 || f[0] != tag {
		return nil, fmt.Errorf("%s: not an immunix key file (want a line %q KEY)", path, tag)
	}
	raw, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil || len(raw) != size {
		return nil, fmt.Errorf("%s: damaged key: want %d base64-encoded bytes", path, size)
	}
	return raw, nil
}

// LoadPrivateKey reads a key file written by GenerateKey. It refuses a
// key file that others can read.
func LoadPrivateKey(path string) (*PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: private key is readable by others (mode %04o): chmod 600 it", path, st.Mode().Perm())
	}
	data := make([]byte, maxKeyFile+1)
	n, _ := f.Read(data)
	seed, err := parseKeyLine(path, data[:n], privateTag, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &PrivateKey{ID: IDOf(priv.Public().(ed25519.PublicKey)), Key: priv}, nil
}

// LoadPublicKey reads a public key file (KEYFILE.pub).
func LoadPublicKey(path string) (*PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	raw, err := parseKeyLine(path, data, publicTag, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	pub := ed25519.PublicKey(raw)
	return &PublicKey{ID: IDOf(pub), Key: pub, File: path}, nil
}

// Keyring is a set of trusted public keys by id.
type Keyring struct {
	keys map[KeyID]*PublicKey
}

// NewKeyring makes a keyring of the given keys.
func NewKeyring(keys ...*PublicKey) *Keyring {
	r := &Keyring{keys: map[KeyID]*PublicKey{}}
	for _, k := range keys {
		r.keys[k.ID] = k
	}
	return r
}

// Lookup returns the trusted key with this id, or nil.
func (r *Keyring) Lookup(id KeyID) *PublicKey {
	if r == nil {
		return nil
	}
	return r.keys[id]
}

// IDs lists the trusted key ids, sorted.
func (r *Keyring) IDs() []string {
	var ids []string
	if r != nil {
		for id := range r.keys {
			ids = append(ids, id.String())
		}
	}
	sort.Strings(ids)
	return ids
}

// LoadKeyring reads every regular file in dir as a public key. A missing
// directory is an empty keyring; a file that is not a public key is an
// error naming it (a trust store must not be half-read silently). Files
// whose names start with "." are skipped.
func LoadKeyring(dir string) (*Keyring, error) {
	r := NewKeyring()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trusted keys: %w", err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		k, err := LoadPublicKey(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("trusted keys: %w", err)
		}
		r.keys[k.ID] = k
	}
	return r, nil
}
