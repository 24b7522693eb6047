package ccwrap

import (
	"fmt"
	"path/filepath"

	"github.com/immunix/immunix/cryptomark"
)

// SignKeyEnv names the CryptoMark private key immunix-cc signs what it
// links with (docs/cryptomark.md): for local builds; packages are signed
// after stripping by the rpm and debhelper hooks instead.
const SignKeyEnv = "IMMUNIX_SIGN_KEY"

// ErrSign wraps a failure to sign the linked output (exit 107).
var ErrSign = codedError(ExitSign, SignKeyEnv)

// signOutput returns the file this invocation links, to be signed with
// the key in IMMUNIX_SIGN_KEY, or "" when there is nothing to sign.
func (j *job) signOutput() string {
	if j.e.getenv(SignKeyEnv) == "" || j.explain || j.inv.Reason != NoReason ||
		j.inv.Mode != ModeLink || j.inv.Link == LinkReloc || j.inv.Output == "-" {
		return ""
	}
	if j.inv.Output == "" {
		return "a.out"
	}
	return j.inv.Output
}

// sign signs out after a successful link (code 0).
func (j *job) sign(out string, code int, err error) (int, error) {
	if err != nil || code != 0 {
		return code, err
	}
	k, err := cryptomark.LoadPrivateKey(j.e.getenv(SignKeyEnv))
	if err == nil {
		_, err = cryptomark.SignFile(filepath.Clean(out), k)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSign, err)
	}
	return 0, nil
}

// runChild runs the final command as a child (so immunix-cc can sign its
// output afterwards), its output passed on.
func (j *job) runChild(argv []string) (int, error) {
	code, out, errb, err := j.child(argv, nil)
	j.e.Stdout.Write(out)
	j.e.Stderr.Write(errb)
	return code, err
}
