// Package cryptomark owns CryptoMark's signatures: ed25519 key files and
// their key ids, the trusted-key directory, the signature carrier
// appended to a signed file, and signing and verifying files.
//
// The carrier is a fixed-size trailer after the last byte of the file
// (the way Linux signs kernel modules): the kernel and ld.so read an ELF
// file through its headers and never look past the last segment or
// section, so the program runs unchanged; the trailer covers every byte
// before it and survives cp, cp -a, tar, .deb and .rpm packaging and
// installation, because those copy bytes. Anything that rewrites the
// file (strip, objcopy, prelink) drops or invalidates it, which is what a
// signature must do: sign after the last change.
//
//	k, _ := cryptomark.LoadPrivateKey("/etc/immunix/signing.key")
//	res, _ := cryptomark.SignFile("/usr/bin/prog", k)
//	ring, _ := cryptomark.LoadKeyring(cryptomark.DefaultKeysDir)
//	v := cryptomark.VerifyFile("/usr/bin/prog", ring) // v.OK() when valid and trusted
//
// The trailer's layout is in docs/cryptomark.md and in Trailer.
package cryptomark
