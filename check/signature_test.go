package check

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/cryptomark"
	"github.com/immunix/immunix/internal/testenv"
)

func TestSignatureResult(t *testing.T) {
	dir := t.TempDir()
	k, err := cryptomark.GenerateKey(filepath.Join(dir, "k"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := cryptomark.LoadPublicKey(filepath.Join(dir, "k.pub"))
	ring := cryptomark.NewKeyring(pub)
	data, err := os.ReadFile("/bin/true")
	if err != nil {
		testenv.Missing(t, "an ELF program to sign: "+err.Error())
	}
	p := filepath.Join(dir, "prog")
	os.WriteFile(p, data, 0o755)
	if _, err := cryptomark.SignFile(p, k); err != nil {
		t.Fatal(err)
	}
	signed, _ := os.ReadFile(p)
	changed := bytes.Clone(signed)
	changed[300] ^= 1
	corrupt := bytes.Clone(signed)
	corrupt[len(corrupt)-cryptomark.TrailerSize+17] = 7
	tests := []struct {
		name   string
		data   []byte
		ring   *cryptomark.Keyring
		status Status
		value  string
	}{
		{"unsigned", data, ring, Fail, "unsigned"},
		{"signed", signed, ring, Pass, "signed, key " + k.ID.String() + ", valid, trusted"},
		{"untrusted", signed, nil, Fail, "signed, key " + k.ID.String() + ", not trusted"},
		{"changed", changed, ring, Fail, "signed, key " + k.ID.String() + ", trusted, invalid: signature does not match"},
		{"corrupt", corrupt, ring, Fail, "signed, corrupt signature: version 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signatureResult(bytes.NewReader(tt.data), int64(len(tt.data)), tt.ring)
			if r.Status != tt.status || !strings.HasPrefix(r.Value, tt.value) {
				t.Errorf("got %s %q, want %s %q", r.Status, r.Value, tt.status, tt.value)
			}
		})
	}
	pol, _ := NewPolicy(Basic)
	if pol, err = pol.WithRequire("signed"); err != nil || pol.Want(PSignature) != "pass" {
		t.Errorf("--require signed: %v", err)
	}
}
