package cryptomark

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// TrailerSize is the size of the signature trailer appended to a file.
const TrailerSize = 104

// Magic ends every signed file.
const Magic = "~immunix-sign1~\n"

// Layout of the trailer (little-endian), after the covered bytes:
//
//	0   8  covered length: the number of bytes before the trailer
//	8   8  key id
//	16  1  hash algorithm (HashSHA256)
//	17  1  version (1)
//	18  6  zero
//	24 64  ed25519 signature of SignedMessage
//	88 16  Magic
const (
	offLen  = 0
	offID   = 8
	offHash = 16
	offVer  = 17
	offSig  = 24
	offMag  = 88
	version = 1
)

// HashSHA256 is the only hash algorithm: SHA-256, which Go computes with
// the CPU's SHA extensions where there are some (BENCHMARKS.md).
const HashSHA256 = 1

// domain separates CryptoMark signatures from any other use of a key.
const domain = "immunix cryptomark v1\x00"

// Trailer is a parsed signature trailer.
type Trailer struct {
	Covered int64 // bytes before the trailer, all of them signed
	KeyID   KeyID
	Hash    byte
	Sig     [ed25519.SignatureSize]byte
}

// Errors of ParseTrailer.
var (
	// ErrUnsigned: the file ends without the magic.
	ErrUnsigned = errors.New("not signed")
	// ErrCorrupt: the magic is there but the trailer is not one this
	// version wrote.
	ErrCorrupt = errors.New("corrupt signature")
)

// ParseTrailer reads the trailer from the last TrailerSize bytes of a
// file of size bytes. It returns ErrUnsigned when there is no magic and
// an error wrapping ErrCorrupt when there is one but a field is wrong.
func ParseTrailer(tail []byte, size int64) (*Trailer, error) {
	if len(tail) != TrailerSize || size < TrailerSize || string(tail[offMag:]) != Magic {
		return nil, ErrUnsigned
	}
	t := &Trailer{Covered: int64(binary.LittleEndian.Uint64(tail[offLen:])), Hash: tail[offHash]}
	copy(t.KeyID[:], tail[offID:])
	copy(t.Sig[:], tail[offSig:])
	switch {
	case tail[offVer] != version:
		return nil, fmt.Errorf("%w: version %d (this immunix reads %d)", ErrCorrupt, tail[offVer], version)
	case t.Hash != HashSHA256:
		return nil, fmt.Errorf("%w: unknown hash algorithm %d", ErrCorrupt, t.Hash)
	case !bytes.Equal(tail[offVer+1:offSig], make([]byte, offSig-offVer-1)):
		return nil, fmt.Errorf("%w: reserved bytes are not zero", ErrCorrupt)
	case t.Covered != size-TrailerSize:
		return nil, fmt.Errorf("%w: signs %d bytes but %d precede it (the file was cut or extended)", ErrCorrupt, t.Covered, size-TrailerSize)
	}
	return t, nil
}

// header returns the signed part of the trailer (everything before the
// signature).
func (t *Trailer) header() []byte {
	b := make([]byte, offSig)
	binary.LittleEndian.PutUint64(b[offLen:], uint64(t.Covered))
	copy(b[offID:], t.KeyID[:])
	b[offHash] = t.Hash
	b[offVer] = version
	return b
}

// Marshal returns the trailer's bytes.
func (t *Trailer) Marshal() []byte {
	b := make([]byte, TrailerSize)
	copy(b, t.header())
	copy(b[offSig:], t.Sig[:])
	copy(b[offMag:], Magic)
	return b
}

// SignedMessage is what the signature covers: the domain string, the
// trailer header (length, key id, algorithm, version) and the SHA-256 of
// the covered bytes.
func (t *Trailer) SignedMessage(digest []byte) []byte {
	m := append([]byte(domain), t.header()...)
	return append(m, digest...)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Digest hashes the first n bytes of r.
func Digest(r io.ReaderAt, n int64) ([]byte, error) {
	h := sha256.New()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	if _, err := io.CopyBuffer(h, io.NewSectionReader(r, 0, n), *bp); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return h.Sum(nil), nil
}

// ErrNotELF is returned (wrapped) by SignFile for a file it does not
// sign: not an ELF executable or shared library.
var ErrNotELF = errors.New("not an ELF executable or shared library")

// elfKind reports whether the header is that of an ELF executable or
// shared object (ET_EXEC or ET_DYN), and the type otherwise.
func elfKind(hdr []byte) error {
	if len(hdr) < 18 || string(hdr[:4]) != "\x7fELF" {
		return fmt.Errorf("%w (no ELF header)", ErrNotELF)
	}
	var typ uint16
	switch hdr[5] {
	case 1:
		typ = binary.LittleEndian.Uint16(hdr[16:])
	case 2:
		typ = binary.BigEndian.Uint16(hdr[16:])
	default:
		return fmt.Errorf("%w (bad ELF data encoding %d)", ErrNotELF, hdr[5])
	}
	switch typ {
	case 2, 3: // ET_EXEC, ET_DYN
		return nil
	case 1:
		return fmt.Errorf("%w (a relocatable object)", ErrNotELF)
	case 4:
		return fmt.Errorf("%w (a core dump)", ErrNotELF)
	}
	return fmt.Errorf("%w (ELF type %d)", ErrNotELF, typ)
}

// SignResult says what SignFile did.
type SignResult struct {
	Resigned bool // a previous signature was replaced
}

// SignFile appends (or replaces) the signature trailer of an ELF
// executable or shared library in place, keeping its mode, owner and
// links. A file that is not one is left alone with an error wrapping
// ErrNotELF.
func SignFile(path string, k *PrivateKey) (SignResult, error) {
	var res SignResult
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return res, fmt.Errorf("sign: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("sign %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return res, fmt.Errorf("sign %s: %w (not a regular file)", path, ErrNotELF)
	}
	hdr := make([]byte, 18)
	n, _ := f.ReadAt(hdr, 0)
	if err := elfKind(hdr[:n]); err != nil {
		return res, fmt.Errorf("sign %s: %w", path, err)
	}
	size := st.Size()
	covered := size
	if size >= TrailerSize {
		tail := make([]byte, TrailerSize)
		if _, err := f.ReadAt(tail, size-TrailerSize); err != nil {
			return res, fmt.Errorf("sign %s: %w", path, err)
		}
		if string(tail[offMag:]) == Magic {
			// A previous signature (valid or not) is replaced, never
			// signed over.
			covered = size - TrailerSize
			res.Resigned = true
		}
	}
	digest, err := Digest(f, covered)
	if err != nil {
		return res, fmt.Errorf("sign %s: %w", path, err)
	}
	t := &Trailer{Covered: covered, KeyID: k.ID, Hash: HashSHA256}
	copy(t.Sig[:], ed25519.Sign(k.Key, t.SignedMessage(digest)))
	if _, err := f.WriteAt(t.Marshal(), covered); err != nil {
		return res, fmt.Errorf("sign %s: %w", path, err)
	}
	if err := f.Truncate(covered + TrailerSize); err != nil {
		return res, fmt.Errorf("sign %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return res, fmt.Errorf("sign %s: %w", path, err)
	}
	return res, nil
}

// Verdict is the outcome of verifying one file.
type Verdict struct {
	Signed  bool   // a trailer is present (even a corrupt one)
	KeyID   string // the key id it names ("" when unsigned or unreadable)
	Trusted bool   // the key id is in the keyring
	Valid   bool   // the signature checked out against the trusted key
	Err     error  // why it is not OK; nil when OK
}

// OK reports a valid signature by a trusted key.
func (v Verdict) OK() bool { return v.Signed && v.Trusted && v.Valid && v.Err == nil }

// ErrUntrusted and ErrBadSignature are the reasons of a Verdict.
var (
	ErrUntrusted    = errors.New("signed by a key that is not trusted")
	ErrBadSignature = errors.New("signature does not match the contents (changed after signing, or forged)")
)

// Verify checks the signature of the size bytes readable from r against
// the trusted keys. It reads every covered byte once (the hash) and the
// trailer. A read error is reported in Verdict.Err.
func Verify(r io.ReaderAt, size int64, ring *Keyring) Verdict {
	var v Verdict
	if size < TrailerSize {
		v.Err = ErrUnsigned
		return v
	}
	tail := make([]byte, TrailerSize)
	if _, err := r.ReadAt(tail, size-TrailerSize); err != nil {
		v.Err = fmt.Errorf("read signature: %w", err)
		return v
	}
	t, err := ParseTrailer(tail, size)
	if err != nil {
		v.Signed = !errors.Is(err, ErrUnsigned)
		v.Err = err
		return v
	}
	v.Signed = true
	v.KeyID = t.KeyID.String()
	k := ring.Lookup(t.KeyID)
	if k == nil {
		v.Err = ErrUntrusted
		return v
	}
	v.Trusted = true
	digest, err := Digest(r, t.Covered)
	if err != nil {
		v.Err = err
		return v
	}
	if !ed25519.Verify(k.Key, t.SignedMessage(digest), t.Sig[:]) {
		v.Err = ErrBadSignature
		return v
	}
	v.Valid = true
	return v
}

// VerifyFile opens path and verifies it.
func VerifyFile(path string, ring *Keyring) Verdict {
	f, err := os.Open(path)
	if err != nil {
		return Verdict{Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Verdict{Err: err}
	}
	if !st.Mode().IsRegular() {
		return Verdict{Err: errors.New("not a regular file")}
	}
	return Verify(f, st.Size(), ring)
}

// IsSignable returns nil for an ELF executable or shared library, and an
// error wrapping ErrNotELF (or the open error) otherwise.
func IsSignable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := make([]byte, 18)
	n, _ := f.ReadAt(hdr, 0)
	return elfKind(hdr[:n])
}
