package check

import (
	"errors"
	"io"

	"github.com/immunix/immunix/cryptomark"
)

// PSignature is the CryptoMark signature property (docs/cryptomark.md).
const PSignature = "signature"

// canonical maps the names --require and --allow accept besides the
// property names ("--require signed") to the property.
func canonical(prop string) string {
	if prop == "signed" {
		return PSignature
	}
	return prop
}

// signatureResult verifies the file's CryptoMark signature against the
// trusted keys: pass when it is signed by a trusted key and unchanged
// since; the value says whether it is signed, by which key id, and
// whether that key is trusted and the signature valid.
func signatureResult(r io.ReaderAt, size int64, keys *cryptomark.Keyring) Result {
	res := Result{Property: PSignature, Status: Fail}
	v := cryptomark.Verify(r, size, keys)
	switch {
	case v.OK():
		res.Status, res.Value = Pass, "signed, key "+v.KeyID+", valid, trusted"
	case !v.Signed && errors.Is(v.Err, cryptomark.ErrUnsigned):
		res.Value = "unsigned"
	case !v.Signed:
		res.Status, res.Value = Unknown, "unreadable: "+v.Err.Error()
	case v.KeyID == "":
		res.Value = "signed, " + v.Err.Error()
	case !v.Trusted:
		res.Value = "signed, key " + v.KeyID + ", not trusted"
	default:
		res.Value = "signed, key " + v.KeyID + ", trusted, invalid: " + v.Err.Error()
	}
	return res
}
