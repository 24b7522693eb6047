package pkg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ArMagic starts every ar archive (and so every .deb).
const ArMagic = "!<arch>\n"

// ArHeader is one ar member's header.
type ArHeader struct {
	Name string
	Size int64
}

// ArReader reads the members of an ar archive in order, System V/GNU
// format (deb uses its common subset). GNU long names ("/N" into the "//"
// table) and BSD long names ("#1/N") are resolved; the symbol table member
// "/" is returned like any other member.
type ArReader struct {
	r       io.Reader
	cur     io.Reader // the current member's data
	pad     int64     // padding after the current member
	names   []byte    // GNU long-name table
	started bool
}

// NewArReader returns a reader for the ar archive in r.
func NewArReader(r io.Reader) *ArReader { return &ArReader{r: r} }

// Next advances to the next member and returns its header; io.EOF at the
// end of the archive.
func (a *ArReader) Next() (*ArHeader, error) {
	if !a.started {
		a.started = true
		var m [8]byte
		if _, err := io.ReadFull(a.r, m[:]); err != nil || string(m[:]) != ArMagic {
			return nil, errors.New("ar: missing \"!<arch>\" magic")
		}
	}
	if a.cur != nil {
		if _, err := io.Copy(io.Discard, a.cur); err != nil {
			return nil, fmt.Errorf("ar: skip member: %w", err)
		}
	}
	if a.pad > 0 {
		var b [1]byte
		if _, err := io.ReadFull(a.r, b[:]); err != nil {
			if err == io.EOF {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("ar: %w", err)
		}
		a.pad = 0
	}
	var h [60]byte
	n, err := io.ReadFull(a.r, h[:])
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("ar: truncated member header (%d of 60 bytes)", n)
	}
	if h[58] != '`' || h[59] != '\n' {
		return nil, errors.New("ar: bad member header terminator")
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
	if err != nil || size < 0 {
		return nil, fmt.Errorf("ar: bad member size %q", strings.TrimSpace(string(h[48:58])))
	}
	name := strings.TrimRight(string(h[0:16]), " ")
	data := io.LimitReader(a.r, size)
	switch {
	case strings.HasPrefix(name, "#1/"):
		ln, err := strconv.Atoi(name[3:])
		if err != nil || ln < 0 || int64(ln) > size || ln > 4096 {
			return nil, fmt.Errorf("ar: bad BSD long name %q", name)
		}
		b := make([]byte, ln)
		if _, err := io.ReadFull(data, b); err != nil {
			return nil, fmt.Errorf("ar: read long name: %w", err)
		}
		name = strings.TrimRight(string(b), "\x00")
		size -= int64(ln)
	case name == "//":
		if size > 16<<20 {
			return nil, fmt.Errorf("ar: long-name table of %d bytes is too large", size)
		}
		b, err := io.ReadAll(data)
		if err != nil {
			return nil, fmt.Errorf("ar: read long-name table: %w", err)
		}
		a.names = b
		a.cur, a.pad = nil, size&1
		return a.Next()
	case len(name) > 1 && name[0] == '/' && name[1] >= '0' && name[1] <= '9':
		off, err := strconv.Atoi(name[1:])
		if err != nil || off < 0 || off >= len(a.names) {
			return nil, fmt.Errorf("ar: long name %q points outside the name table", name)
		}
		rest := a.names[off:]
		if i := bytes.IndexAny(rest, "\n"); i >= 0 {
			rest = rest[:i]
		}
		name = strings.TrimSuffix(string(rest), "/")
	case name != "/" && name != "/SYM64/":
		name = strings.TrimSuffix(name, "/")
	}
	a.cur = data
	a.pad = size & 1
	return &ArHeader{Name: name, Size: size}, nil
}

// Read reads the current member's data.
func (a *ArReader) Read(p []byte) (int, error) {
	if a.cur == nil {
		return 0, io.EOF
	}
	n, err := a.cur.Read(p)
	if err == io.EOF {
		// A short member is a truncated archive, not a clean end.
		if lr, ok := a.cur.(*io.LimitedReader); ok && lr.N > 0 {
			return n, io.ErrUnexpectedEOF
		}
	}
	return n, err
}
