// Package elfnote owns the ELF note record layout: the one walker of the
// notes in a note section or segment, for internal/stamp (the immunix build
// stamp) and check/elfacts (.note.gnu.property), and the one encoder of a
// note record (Append, for tests and fuzz seeds; immunix-cc writes its notes
// as assembly, internal/stamp's noteAsm).
//
// A note is a 12-byte header (namesz, descsz, type, in the file's byte
// order), the name (namesz bytes, NUL included) and the desc (descsz
// bytes). As in glibc's ELF_NOTE_DESC_OFFSET and ELF_NOTE_NEXT_OFFSET and
// binutils' readelf, the desc starts at the 12+namesz offset rounded up to
// the note alignment and the next note at the end of the desc rounded up
// to it. The alignment is the section's or segment's: 4 for the notes of
// the gABI (ELF32 and ELF64 alike), 8 for NT_GNU_PROPERTY_TYPE_0 in ELF64
// (the x86-64 and AArch64 psABIs; the kernel's parse_elf_properties reads
// them so). With a 4-byte name such as "GNU" both rules put the desc at 16.
//
// Example:
//
//	b := elfnote.Append(nil, binary.LittleEndian, 4, "Immunix", 1, []byte("v=1\x00"))
//	err := elfnote.Walk(b, binary.LittleEndian, 4, func(name string, typ uint32, desc []byte) error {
//		fmt.Println(name, typ, string(desc)) // Immunix 1 v=1
//		return nil
//	})
package elfnote

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// HeaderSize is the size of a note header: namesz, descsz and type.
const HeaderSize = 12

// Walk calls fn with each note in data, the raw contents of a note section
// or segment, in order: the name without its trailing NULs, the type and
// the desc, a subslice of data (nothing is copied, so hostile sizes cost no
// memory). align is 4 or 8. A note whose header, name or desc runs past
// the end of data ends the walk with an error, after fn has seen the notes
// before it; a missing pad after the last desc is not an error (linkers
// leave it out of a section's size). An error from fn ends the walk and is
// returned as is.
func Walk(data []byte, order binary.ByteOrder, align int, fn func(name string, typ uint32, desc []byte) error) error {
	if align != 4 && align != 8 {
		return fmt.Errorf("note alignment %d, want 4 or 8", align)
	}
	a := uint64(align)
	for off := 0; len(data) > 0; {
		if len(data) < HeaderSize {
			return fmt.Errorf("note at offset %d: truncated header (%d bytes)", off, len(data))
		}
		namesz := uint64(order.Uint32(data[0:]))
		descsz := uint64(order.Uint32(data[4:]))
		typ := order.Uint32(data[8:])
		// All in uint64: namesz and descsz are at most 2^32-1, so
		// no sum below overflows.
		size := uint64(len(data))
		if HeaderSize+namesz > size {
			return fmt.Errorf("note at offset %d: name of %d bytes runs past the end (%d bytes left)", off, namesz, size-HeaderSize)
		}
		descOff := alignUp(HeaderSize+namesz, a)
		if descOff+descsz > size {
			return fmt.Errorf("note at offset %d: desc of %d bytes runs past the end (%d bytes left)", off, descsz, size-min(descOff, size))
		}
		name := strings.TrimRight(string(data[HeaderSize:HeaderSize+namesz]), "\x00")
		desc := data[descOff : descOff+descsz : descOff+descsz]
		next := min(alignUp(descOff+descsz, a), size)
		data = data[next:]
		off += int(next)
		if err := fn(name, typ, desc); err != nil {
			return err
		}
	}
	return nil
}

// Append appends one note record to b, the name NUL-terminated, name and
// desc padded with NULs to align (4 or 8) as Walk reads them. It panics
// for another align or a name or desc of 4 GiB or more (a caller's bug).
func Append(b []byte, order binary.ByteOrder, align int, name string, typ uint32, desc []byte) []byte {
	if align != 4 && align != 8 {
		panic(fmt.Sprintf("elfnote.Append: alignment %d, want 4 or 8", align))
	}
	namesz := uint64(len(name)) + 1
	if namesz > 1<<32-1 || uint64(len(desc)) > 1<<32-1 {
		panic("elfnote.Append: name or desc of 4 GiB or more")
	}
	start := len(b)
	var h [HeaderSize]byte
	order.PutUint32(h[0:], uint32(namesz))
	order.PutUint32(h[4:], uint32(len(desc)))
	order.PutUint32(h[8:], typ)
	b = append(b, h[:]...)
	b = append(b, name...)
	b = append(b, 0)
	b = pad(b, start, align)
	b = append(b, desc...)
	return pad(b, start, align)
}

func pad(b []byte, start, align int) []byte {
	for (len(b)-start)%align != 0 {
		b = append(b, 0)
	}
	return b
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }
