package pkg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// RPM file layout (the LSB "Package File Format" chapter): a 96-byte lead,
// a signature header padded to 8 bytes, the main header, then the
// compressed cpio payload.
const (
	rpmLeadLen   = 96
	rpmLeadMagic = "\xed\xab\xee\xdb"
	rpmHdrMagic  = "\x8e\xad\xe8\x01"
	// maxRPMHeader bounds a header's index and data (rpm itself caps the
	// data at 256 MiB; real headers are far smaller).
	maxRPMHeader = 256 << 20
)

// RPMHeader is a decoded header structure: the string tags only, which is
// all the gate needs.
type RPMHeader struct {
	Strings map[int]string
}

// Tags of the main header read by the gate.
const (
	TagName              = 1000
	TagVersion           = 1001
	TagPayloadFormat     = 1124
	TagPayloadCompressor = 1125
)

// ReadRPMHeaders reads the lead, the signature header and the main header
// from r, leaving r at the start of the payload.
func ReadRPMHeaders(r io.Reader) (*RPMHeader, error) {
	var lead [rpmLeadLen]byte
	if _, err := io.ReadFull(r, lead[:]); err != nil {
		return nil, fmt.Errorf("rpm: truncated lead: %w", err)
	}
	if string(lead[:4]) != rpmLeadMagic {
		return nil, errors.New("rpm: bad lead magic")
	}
	if _, err := readRPMHeader(r, true); err != nil {
		return nil, fmt.Errorf("rpm: signature header: %w", err)
	}
	h, err := readRPMHeader(r, false)
	if err != nil {
		return nil, fmt.Errorf("rpm: main header: %w", err)
	}
	return h, nil
}

func readRPMHeader(r io.Reader, pad bool) (*RPMHeader, error) {
	var intro [16]byte
	if _, err := io.ReadFull(r, intro[:]); err != nil {
		return nil, fmt.Errorf("truncated: %w", err)
	}
	if string(intro[:4]) != rpmHdrMagic {
		return nil, errors.New("bad header magic")
	}
	nindex := int64(binary.BigEndian.Uint32(intro[8:]))
	hsize := int64(binary.BigEndian.Uint32(intro[12:]))
	if nindex*16+hsize > maxRPMHeader {
		return nil, fmt.Errorf("header of %d entries and %d bytes is too large", nindex, hsize)
	}
	index := make([]byte, nindex*16)
	if _, err := io.ReadFull(r, index); err != nil {
		return nil, fmt.Errorf("truncated index: %w", err)
	}
	data := make([]byte, hsize)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("truncated data: %w", err)
	}
	if pad {
		if p := (8 - hsize%8) % 8; p > 0 {
			if _, err := io.CopyN(io.Discard, r, p); err != nil {
				return nil, fmt.Errorf("truncated padding: %w", err)
			}
		}
	}
	h := &RPMHeader{Strings: map[int]string{}}
	for i := int64(0); i < nindex; i++ {
		e := index[i*16:]
		tag, typ, off := int(binary.BigEndian.Uint32(e)), binary.BigEndian.Uint32(e[4:]), int64(binary.BigEndian.Uint32(e[8:]))
		const rpmString = 6
		if typ != rpmString || off >= hsize {
			continue
		}
		end := off
		for end < hsize && data[end] != 0 {
			end++
		}
		h.Strings[tag] = string(data[off:end])
	}
	return h, nil
}
