package pkg

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// CpioHeader is one entry of a cpio "newc" archive (the RPM payload format).
type CpioHeader struct {
	Name  string
	Mode  uint32 // st_mode: type bits and permissions
	Size  int64
	Nlink uint32
}

// Regular reports whether the entry is a regular file.
func (h *CpioHeader) Regular() bool { return h.Mode&0o170000 == 0o100000 }

// CpioReader reads a cpio archive in the SVR4 "newc" format (magic 070701,
// or 070702 with checksums), which is what rpmbuild writes.
type CpioReader struct {
	r   io.Reader
	cur *io.LimitedReader
	pad int64
}

// NewCpioReader returns a reader for the newc archive in r.
func NewCpioReader(r io.Reader) *CpioReader { return &CpioReader{r: r} }

const cpioHeaderLen = 110

// maxCpioName bounds an entry's name length (PATH_MAX is 4096).
const maxCpioName = 1 << 16

// Next returns the next entry's header; io.EOF after the TRAILER!!! entry.
func (c *CpioReader) Next() (*CpioHeader, error) {
	if c.cur != nil {
		if _, err := io.Copy(io.Discard, c.cur); err != nil {
			return nil, fmt.Errorf("cpio: skip entry: %w", err)
		}
		if c.cur.N > 0 {
			return nil, errors.New("cpio: truncated entry data")
		}
	}
	if err := c.skip(c.pad); err != nil {
		return nil, err
	}
	var h [cpioHeaderLen]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return nil, fmt.Errorf("cpio: truncated header: %w", err)
	}
	magic := string(h[0:6])
	if magic != "070701" && magic != "070702" {
		return nil, fmt.Errorf("cpio: bad magic %q (only newc archives are supported)", magic)
	}
	field := func(i int) (uint32, error) {
		v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			return 0, fmt.Errorf("cpio: bad header field %d: %q", i, h[6+8*i:14+8*i])
		}
		return uint32(v), nil
	}
	var f [13]uint32
	for i := range f {
		v, err := field(i)
		if err != nil {
			return nil, err
		}
		f[i] = v
	}
	mode, nlink, size, namesize := f[1], f[4], int64(f[6]), f[11]
	if namesize == 0 || namesize > maxCpioName {
		return nil, fmt.Errorf("cpio: bad name size %d", namesize)
	}
	name := make([]byte, namesize)
	if _, err := io.ReadFull(c.r, name); err != nil {
		return nil, fmt.Errorf("cpio: truncated name: %w", err)
	}
	if err := c.skip(pad4(cpioHeaderLen + int64(namesize))); err != nil {
		return nil, err
	}
	hdr := &CpioHeader{Name: string(name[:namesize-1]), Mode: mode, Size: size, Nlink: nlink}
	if hdr.Name == "TRAILER!!!" {
		return nil, io.EOF
	}
	c.cur = &io.LimitedReader{R: c.r, N: size}
	c.pad = pad4(size)
	return hdr, nil
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

func (c *CpioReader) skip(n int64) error {
	if n == 0 {
		return nil
	}
	if _, err := io.CopyN(io.Discard, c.r, n); err != nil {
		return fmt.Errorf("cpio: truncated padding: %w", err)
	}
	return nil
}

// Read reads the current entry's data.
func (c *CpioReader) Read(p []byte) (int, error) {
	if c.cur == nil {
		return 0, io.EOF
	}
	n, err := c.cur.Read(p)
	if err == io.EOF && c.cur.N > 0 {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}
