package elfacts

import (
	"debug/elf"
	"encoding/binary"
)

// ehFrameFuncs lists the functions described by .eh_frame's FDEs (the
// unwind table: stripping keeps it, and x86-64 code has one FDE per function
// by default, -fasynchronous-unwind-tables). Layout: the LSB "Exception Frame"
// chapter (CIE/FDE records, DW_EH_PE pointer encodings).
//
// A linked file's table is found the way the unwinder finds it: through
// the PT_GNU_EH_FRAME program header (.eh_frame_hdr), whose eh_frame_ptr
// gives the table's address. The section headers (which a forger can
// rename or remove) are used only for relocatable objects and files
// without that header.
func ehFrameFuncs(f *elf.File, im *image) []funcRange {
	for _, p := range f.Progs {
		if p.Type != elf.PT_GNU_EH_FRAME || p.Filesz < 4 || p.Filesz > MaxSectionSize {
			continue
		}
		hdr := make([]byte, min(p.Filesz, 64))
		if n, _ := p.ReadAt(hdr, 0); n < len(hdr) {
			continue
		}
		addr, ok := EHFrameHdrPtr(hdr, p.Vaddr, f.ByteOrder)
		if !ok {
			continue
		}
		data := im.readToSegmentEnd(addr)
		if data == nil {
			continue
		}
		return ParseEHFrame(data, addr, f.ByteOrder)
	}
	s := f.Section(".eh_frame")
	// LLVM's lld and gold give it type SHT_X86_64_UNWIND (0x70000001).
	if s == nil || (s.Type != elf.SHT_PROGBITS && s.Type != shtX86_64Unwind) || s.Size > MaxSectionSize {
		return nil
	}
	data, err := s.Data()
	if err != nil {
		return nil
	}
	return ParseEHFrame(data, s.Addr, f.ByteOrder)
}

// EHFrameHdrPtr decodes the eh_frame_ptr field of an .eh_frame_hdr
// (version 1) loaded at addr: the address of the .eh_frame table.
func EHFrameHdrPtr(hdr []byte, addr uint64, bo binary.ByteOrder) (uint64, bool) {
	if len(hdr) < 4 || hdr[0] != 1 || hdr[1] == peOmit {
		return 0, false
	}
	c := &cursor{b: hdr, pos: 4, bo: bo}
	return c.encoded(hdr[1], addr+4)
}

const shtX86_64Unwind elf.SectionType = 0x70000001

// DW_EH_PE pointer encodings.
const (
	pePtr     = 0x00
	peULEB    = 0x01
	peU2      = 0x02
	peU4      = 0x03
	peU8      = 0x04
	peSLEB    = 0x09
	peS2      = 0x0a
	peS4      = 0x0b
	peS8      = 0x0c
	pePCRel   = 0x10
	peOmit    = 0xff
	peFmtMask = 0x0f
	peAppMask = 0x70
)

// ParseEHFrame decodes the FDEs of an .eh_frame section loaded at addr. It
// stops at the first malformed record and returns what it decoded so far.
func ParseEHFrame(data []byte, addr uint64, bo binary.ByteOrder) []funcRange {
	cies := map[uint64]byte{} // CIE offset -> FDE pointer encoding
	var out []funcRange
	for off := uint64(0); off+4 <= uint64(len(data)); {
		length := uint64(bo.Uint32(data[off:]))
		hdr := uint64(4)
		if length == 0 {
			break // terminator
		}
		if length == 0xffffffff {
			if off+12 > uint64(len(data)) {
				break
			}
			length = bo.Uint64(data[off+4:])
			hdr = 12
		}
		start := off + hdr
		if length > uint64(len(data))-start || length < 4 {
			break
		}
		end := start + length
		rec := data[start:end]
		id := uint64(bo.Uint32(rec))
		if id == 0 {
			enc, ok := parseCIE(rec[4:], bo)
			if !ok {
				break
			}
			cies[off] = enc
		} else {
			if id > start {
				break
			}
			enc, ok := cies[start-id]
			if !ok {
				break
			}
			r := &cursor{b: rec, pos: 4, bo: bo}
			pcAddr := addr + start + 4
			begin, ok1 := r.encoded(enc, pcAddr)
			size, ok2 := r.encoded(enc&peFmtMask, 0)
			if !ok1 || !ok2 {
				break
			}
			if size > 0 {
				out = append(out, funcRange{addr: begin, size: size})
			}
		}
		off = end
	}
	return out
}

func parseCIE(b []byte, bo binary.ByteOrder) (byte, bool) {
	r := &cursor{b: b, bo: bo}
	version, ok := r.u8()
	if !ok {
		return 0, false
	}
	aug := r.cstring()
	if _, ok := r.uleb(); !ok { // code alignment
		return 0, false
	}
	if _, ok := r.sleb(); !ok { // data alignment
		return 0, false
	}
	if version == 1 {
		r.u8()
	} else if _, ok := r.uleb(); !ok {
		return 0, false
	}
	enc := byte(pePtr)
	if len(aug) == 0 || aug[0] != 'z' {
		return enc, true
	}
	if _, ok := r.uleb(); !ok {
		return 0, false
	}
	for _, c := range aug[1:] {
		switch c {
		case 'R':
			e, ok := r.u8()
			if !ok {
				return 0, false
			}
			enc = e
		case 'L':
			if _, ok := r.u8(); !ok {
				return 0, false
			}
		case 'P':
			e, ok := r.u8()
			if !ok {
				return 0, false
			}
			if _, ok := r.encoded(e&^0x80, 0); !ok {
				return 0, false
			}
		case 'S', 'B':
		default:
			return enc, true // unknown augmentation: 'R' came first if present
		}
	}
	return enc, true
}

type cursor struct {
	b   []byte
	pos int
	bo  binary.ByteOrder
}

func (c *cursor) u8() (byte, bool) {
	if c.pos >= len(c.b) {
		return 0, false
	}
	c.pos++
	return c.b[c.pos-1], true
}

func (c *cursor) cstring() string {
	start := c.pos
	for c.pos < len(c.b) && c.b[c.pos] != 0 {
		c.pos++
	}
	s := string(c.b[start:c.pos])
	if c.pos < len(c.b) {
		c.pos++
	}
	return s
}

func (c *cursor) uleb() (uint64, bool) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, ok := c.u8()
		if !ok {
			return 0, false
		}
		v |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return v, true
		}
	}
	return 0, false
}

func (c *cursor) sleb() (int64, bool) {
	var v int64
	var shift uint
	for shift < 64 {
		b, ok := c.u8()
		if !ok {
			return 0, false
		}
		v |= int64(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v, true
		}
	}
	return 0, false
}

func (c *cursor) fixed(n int) ([]byte, bool) {
	if n > len(c.b)-c.pos {
		return nil, false
	}
	c.pos += n
	return c.b[c.pos-n : c.pos], true
}

// encoded reads a pointer in encoding enc; pc is the address the pointer is
// read from, for DW_EH_PE_pcrel.
func (c *cursor) encoded(enc byte, pc uint64) (uint64, bool) {
	if enc == peOmit {
		return 0, true
	}
	var v uint64
	switch enc & peFmtMask {
	case pePtr, peU8, peS8:
		b, ok := c.fixed(8)
		if !ok {
			return 0, false
		}
		v = c.bo.Uint64(b)
	case peU4:
		b, ok := c.fixed(4)
		if !ok {
			return 0, false
		}
		v = uint64(c.bo.Uint32(b))
	case peS4:
		b, ok := c.fixed(4)
		if !ok {
			return 0, false
		}
		v = uint64(int64(int32(c.bo.Uint32(b))))
	case peU2:
		b, ok := c.fixed(2)
		if !ok {
			return 0, false
		}
		v = uint64(c.bo.Uint16(b))
	case peS2:
		b, ok := c.fixed(2)
		if !ok {
			return 0, false
		}
		v = uint64(int64(int16(c.bo.Uint16(b))))
	case peULEB:
		u, ok := c.uleb()
		if !ok {
			return 0, false
		}
		v = u
	case peSLEB:
		s, ok := c.sleb()
		if !ok {
			return 0, false
		}
		v = uint64(s)
	default:
		return 0, false
	}
	switch enc & peAppMask {
	case 0:
	case pePCRel:
		v += pc // pc is the field's own address
	default:
		return 0, false // datarel/textrel/funcrel: not used for FDE pc_begin on x86-64
	}
	return v, true
}
