package pkg

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Format is a package format.
type Format string

// The package formats Walk reads.
const (
	Deb Format = "deb"
	RPM Format = "rpm"
)

// Sniff returns the package format that the first bytes of a file show, or
// "" when they are neither a .deb nor an .rpm.
func Sniff(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, []byte(ArMagic+"debian-binary")):
		return Deb
	case bytes.HasPrefix(head, []byte(rpmLeadMagic)):
		return RPM
	}
	return ""
}

// Member is one regular file inside a package.
type Member struct {
	Name string // as stored, e.g. "./usr/bin/hello"
	Size int64
}

// Walk calls fn for every regular file in the package read from r, in
// archive order, with a reader of its contents (valid during the call). A
// non-nil error from fn stops the walk and is returned.
func Walk(r io.Reader, fn func(Member, io.Reader) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(len(ArMagic) + len("debian-binary"))
	switch Sniff(head) {
	case Deb:
		return walkDeb(br, fn)
	case RPM:
		return walkRPM(br, fn)
	}
	return errors.New("not a .deb or .rpm package")
}

func walkDeb(r io.Reader, fn func(Member, io.Reader) error) error {
	ar := NewArReader(r)
	sawData := false
	for {
		h, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("deb: %w", err)
		}
		if !strings.HasPrefix(h.Name, "data.tar") {
			continue
		}
		sawData = true
		dr, closer, err := Decompress(ar)
		if err != nil {
			return fmt.Errorf("deb: %s: %w", h.Name, err)
		}
		err = walkTar(dr, fn)
		closer()
		if err != nil {
			return fmt.Errorf("deb: %s: %w", h.Name, err)
		}
	}
	if !sawData {
		return errors.New("deb: no data.tar member")
	}
	return nil
}

func walkTar(r io.Reader, fn func(Member, io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := fn(Member{Name: h.Name, Size: h.Size}, tr); err != nil {
			return err
		}
	}
}

func walkRPM(r io.Reader, fn func(Member, io.Reader) error) error {
	if _, err := ReadRPMHeaders(r); err != nil {
		return err
	}
	dr, closer, err := Decompress(r)
	if err != nil {
		return fmt.Errorf("rpm: payload: %w", err)
	}
	defer closer()
	cr := NewCpioReader(dr)
	for {
		h, err := cr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("rpm: payload: %w", err)
		}
		// Hard links: newc stores the data once, with the last link.
		if !h.Regular() || h.Size == 0 {
			continue
		}
		if err := fn(Member{Name: h.Name, Size: h.Size}, cr); err != nil {
			return err
		}
	}
}

// Decompress sniffs the compression of r (gzip, zstd, xz, lzma, bzip2, or
// none) and returns a reader of the decompressed stream and a function that
// releases it.
func Decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(6)
	nop := func() {}
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, nop, fmt.Errorf("gzip: %w", err)
		}
		return z, func() { z.Close() }, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, nop, fmt.Errorf("zstd: %w", err)
		}
		return z, z.Close, nil
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, nop, fmt.Errorf("xz: %w", err)
		}
		return z, nop, nil
	case bytes.HasPrefix(head, []byte("BZh")):
		return bzip2.NewReader(br), nop, nil
	case len(head) >= 3 && head[0] == 0x5d && head[1] == 0 && head[2] == 0:
		z, err := lzma.NewReader(br)
		if err != nil {
			return nil, nop, fmt.Errorf("lzma: %w", err)
		}
		return z, nop, nil
	}
	return br, nop, nil
}
