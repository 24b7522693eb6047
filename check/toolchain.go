package check

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/immunix/immunix/check/pkg"
)

// ToolchainIndex recognises the functions of static runtime libraries
// (libc.a, libgcc.a, ...) in a linked program by their code, not by their
// name: a program's own function called next_line is not libc's next_line.
// Each archive function is kept as its size and a hash of its bytes with
// the relocated fields (and the opcode bytes the linker may relax next to
// them) masked out; a linked function with the same name, the same size
// and the same masked bytes is the archive's.
type ToolchainIndex struct {
	funcs map[string][]codeSig
}

type codeSig struct {
	size uint64
	mask [][2]uint32 // byte ranges, relative to the function, left out
	hash uint64
}

// Len is the number of functions indexed.
func (ix *ToolchainIndex) Len() int {
	n := 0
	for _, s := range ix.funcs {
		n += len(s)
	}
	return n
}

// Match reports whether code, the bytes of a function named name in a
// linked file, is one of the indexed functions.
func (ix *ToolchainIndex) Match(name string, code []byte) bool {
	if ix == nil {
		return false
	}
	for _, sig := range ix.funcs[name] {
		if sig.size == uint64(len(code)) && maskedHash(code, sig.mask) == sig.hash {
			return true
		}
	}
	return false
}

func maskedHash(code []byte, mask [][2]uint32) uint64 {
	h := fnv.New64a()
	pos := uint32(0)
	for _, m := range mask {
		if m[0] > pos {
			h.Write(code[pos:m[0]])
		}
		pos = max(pos, m[1])
	}
	if int(pos) < len(code) {
		h.Write(code[pos:])
	}
	return h.Sum64()
}

// relocation field widths on x86-64, and how far around them the linker
// may rewrite bytes (GOTPCRELX relaxation rewrites the two opcode bytes
// before the field; TLS relaxations rewrite whole sequences).
func relocSpan(typ uint32) (before, width uint32) {
	switch typ {
	case 1, 16, 17, 24, 25, 26: // 64, DTPMOD64, DTPOFF64, PC64, GOTOFF64, GOTPC64
		return 0, 8
	case 19, 20, 34: // TLSGD, TLSLD, GOTPC32_TLSDESC
		return 4, 16
	case 0:
		return 0, 0
	}
	return 3, 4
}

// ReadToolchainIndex reads the functions of static archives.
func ReadToolchainIndex(paths []string) (*ToolchainIndex, error) {
	ix := &ToolchainIndex{funcs: map[string][]codeSig{}}
	var errs []string
	for _, p := range paths {
		if err := ix.addArchive(p); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if ix.Len() == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return ix, nil
}

func (ix *ToolchainIndex) addArchive(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ar := pkg.NewArReader(bufio.NewReaderSize(f, 1<<20))
	n := 0
	for {
		h, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if !strings.HasSuffix(h.Name, ".o") || h.Size > 64<<20 {
			continue
		}
		data, err := io.ReadAll(ar)
		if err != nil {
			return fmt.Errorf("read %s(%s): %w", path, h.Name, err)
		}
		n += ix.addObject(data)
	}
	if n == 0 {
		return fmt.Errorf("read %s: no functions found", path)
	}
	return nil
}

func (ix *ToolchainIndex) addObject(data []byte) (n int) {
	defer func() {
		if recover() != nil { // a malformed member: skip it
			n = 0
		}
	}()
	o, err := elf.NewFile(bytes.NewReader(data))
	if err != nil || o.Machine != elf.EM_X86_64 || o.Class != elf.ELFCLASS64 {
		return 0
	}
	// Relocated fields per section.
	masks := map[int][][2]uint32{}
	for _, s := range o.Sections {
		if s.Type != elf.SHT_RELA || int(s.Info) >= len(o.Sections) {
			continue
		}
		raw, err := s.Data()
		if err != nil {
			continue
		}
		for i := 0; i+24 <= len(raw); i += 24 {
			off := binary.LittleEndian.Uint64(raw[i:])
			typ := uint32(binary.LittleEndian.Uint64(raw[i+8:]))
			before, width := relocSpan(typ)
			if width == 0 || off > 1<<31 {
				continue
			}
			a := uint32(off)
			a -= min(a, before)
			masks[int(s.Info)] = append(masks[int(s.Info)], [2]uint32{a, uint32(off) + width})
		}
	}
	for k := range masks {
		m := masks[k]
		sort.Slice(m, func(i, j int) bool { return m[i][0] < m[j][0] })
	}
	syms, _ := o.Symbols()
	cache := map[int][]byte{}
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Name == "" || s.Size == 0 || s.Section == elf.SHN_UNDEF || int(s.Section) >= len(o.Sections) {
			continue
		}
		sec := int(s.Section)
		d, ok := cache[sec]
		if !ok {
			d, _ = o.Sections[sec].Data()
			cache[sec] = d
		}
		if s.Value+s.Size > uint64(len(d)) || s.Value > s.Value+s.Size {
			continue
		}
		code := d[s.Value : s.Value+s.Size]
		var mask [][2]uint32
		for _, m := range masks[sec] {
			if uint64(m[1]) <= s.Value || uint64(m[0]) >= s.Value+s.Size {
				continue
			}
			lo := uint32(max(int64(m[0])-int64(s.Value), 0))
			hi := uint32(min(uint64(m[1])-s.Value, s.Size))
			mask = append(mask, [2]uint32{lo, hi})
		}
		ix.funcs[s.Name] = append(ix.funcs[s.Name], codeSig{size: s.Size, mask: mask, hash: maskedHash(code, mask)})
		n++
	}
	return n
}
