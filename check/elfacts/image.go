package elfacts

import (
	"debug/elf"
	"encoding/binary"
	"sort"
)

// image is the file as the kernel and the dynamic loader see it: the
// PT_LOAD segments of the program headers, and what PT_DYNAMIC points to.
// Section headers are not used: the loader ignores them, so a forger can
// edit them (clear SHF_EXECINSTR, rename .eh_frame, remove them all) and
// the program still runs the same.
type image struct {
	f     *elf.File
	loads []*elf.Prog // PT_LOAD, in address order
	// code holds the bytes of the executable PT_LOAD segments (PF_X), or
	// for a relocatable object, of its SHF_EXECINSTR sections (an object
	// has no program headers; the link decides what runs).
	code []codeRegion
	// dyn is the decoded PT_DYNAMIC segment (nil without one).
	dyn *dynamic
	// tooLarge: an executable segment larger than MaxSectionSize was left
	// out, so some code was not read.
	tooLarge bool
}

// codeRegion is one contiguous run of executable bytes.
type codeRegion struct {
	addr uint64
	data []byte
}

func newImage(f *elf.File) *image {
	im := &image{f: f}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			im.loads = append(im.loads, p)
		}
	}
	sort.SliceStable(im.loads, func(i, j int) bool { return im.loads[i].Vaddr < im.loads[j].Vaddr })
	return im
}

// loadCode reads the executable bytes.
func (im *image) loadCode() {
	if im.f.Type == elf.ET_REL {
		for i, s := range im.f.Sections {
			if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_EXECINSTR == 0 || s.Size == 0 {
				continue
			}
			if s.Size > MaxSectionSize {
				im.tooLarge = true
				continue
			}
			d, err := s.Data()
			if err != nil {
				continue
			}
			im.code = append(im.code, codeRegion{addr: relBase(i), data: d})
		}
		return
	}
	for _, p := range im.loads {
		if p.Flags&elf.PF_X == 0 || p.Filesz == 0 {
			continue
		}
		if p.Filesz > MaxSectionSize {
			im.tooLarge = true
			continue
		}
		b := make([]byte, p.Filesz)
		n, _ := p.ReadAt(b, 0)
		if n == 0 {
			continue
		}
		im.code = append(im.code, codeRegion{addr: p.Vaddr, data: b[:n]})
	}
}

// codeBytes returns the executable bytes [addr, addr+size), clipped to the
// end of the region that holds addr; nil when addr is not code.
func (im *image) codeBytes(addr, size uint64) []byte {
	for _, r := range im.code {
		if addr >= r.addr && addr-r.addr < uint64(len(r.data)) {
			off := addr - r.addr
			end := min(off+size, uint64(len(r.data)))
			if size > uint64(len(r.data)) { // overflow-safe clip
				end = uint64(len(r.data))
			}
			return r.data[off:end]
		}
	}
	return nil
}

// isCode reports whether addr lies in executable bytes.
func (im *image) isCode(addr uint64) bool { return im.codeBytes(addr, 1) != nil }

// readOnly reports whether addr is mapped by a PT_LOAD segment that is not
// writable: string literals live there, a format built at run time does
// not.
func (im *image) readOnly(addr uint64) bool {
	if im.f == nil || im.f.Type == elf.ET_REL {
		return false
	}
	for _, p := range im.loads {
		if addr >= p.Vaddr && addr-p.Vaddr < p.Memsz {
			return p.Flags&elf.PF_W == 0
		}
	}
	return false
}

// read returns n bytes of the file image at virtual address addr (only the
// file-backed part of a PT_LOAD segment), or nil.
func (im *image) read(addr, n uint64) []byte {
	for _, p := range im.loads {
		if addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
			off := addr - p.Vaddr
			if n > p.Filesz-off || n > MaxSectionSize {
				return nil
			}
			b := make([]byte, n)
			if m, _ := p.ReadAt(b, int64(off)); uint64(m) != n {
				return nil
			}
			return b
		}
	}
	return nil
}

// readToSegmentEnd returns the file-backed bytes from addr to the end of
// the PT_LOAD segment that holds it (at most MaxSectionSize), or nil.
func (im *image) readToSegmentEnd(addr uint64) []byte {
	for _, p := range im.loads {
		if addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
			return im.read(addr, min(p.Filesz-(addr-p.Vaddr), MaxSectionSize))
		}
	}
	return nil
}

// dynamic is what PT_DYNAMIC says: the tags the loader reads.
type dynamic struct {
	tags map[elf.DynTag][]uint64
	// strtab is DT_STRTAB's content (DT_STRSZ bytes).
	strtab []byte
	// slots maps a GOT slot address to the imported symbol the loader
	// binds there (R_X86_64_JUMP_SLOT, GLOB_DAT and 64 relocations).
	slots map[uint64]string
	// imports are the symbols named by relocations: what the loader
	// really binds, whatever .dynsym lists.
	imports map[string]bool
	// pointers are the targets of R_X86_64_RELATIVE relocations (function
	// pointers in data, in a position-independent file).
	pointers []uint64
}

// maxDynEntries bounds the entries read from PT_DYNAMIC, and maxRelocs the
// relocations: real files have dozens of tags, at most millions of
// relocations (libLLVM: about 600,000).
const (
	maxDynEntries = 1 << 16
	maxRelocs     = 1 << 24
)

// readDynamicSegment decodes PT_DYNAMIC and the relocation tables it points
// to. It returns nil when the file has no usable PT_DYNAMIC.
func (im *image) readDynamicSegment() *dynamic {
	var dp *elf.Prog
	for _, p := range im.f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			dp = p
		}
	}
	if dp == nil || dp.Filesz == 0 {
		return nil
	}
	n := dp.Filesz
	entSize := uint64(16)
	if im.f.Class == elf.ELFCLASS32 {
		entSize = 8
	}
	if n/entSize > maxDynEntries {
		n = maxDynEntries * entSize
	}
	raw := make([]byte, n)
	m, _ := dp.ReadAt(raw, 0)
	d := ParseDynamic(raw[:m], im.f.Class, im.f.ByteOrder)
	if d == nil {
		return nil
	}
	if v := d.one(elf.DT_STRTAB); v != 0 {
		if sz := d.one(elf.DT_STRSZ); sz > 0 && sz <= 64<<20 {
			d.strtab = im.read(v, sz)
		}
	}
	if im.f.Machine == elf.EM_X86_64 && im.f.Class == elf.ELFCLASS64 {
		im.readRelocs(d)
	}
	return d
}

// ParseDynamic decodes the entries of a PT_DYNAMIC segment up to DT_NULL.
// It is exported for fuzzing.
func ParseDynamic(raw []byte, class elf.Class, bo binary.ByteOrder) *dynamic {
	d := &dynamic{tags: map[elf.DynTag][]uint64{}, slots: map[uint64]string{}, imports: map[string]bool{}}
	for i := 0; ; {
		var tag, val uint64
		if class == elf.ELFCLASS64 {
			if i+16 > len(raw) {
				break
			}
			tag, val = bo.Uint64(raw[i:]), bo.Uint64(raw[i+8:])
			i += 16
		} else {
			if i+8 > len(raw) {
				break
			}
			tag, val = uint64(bo.Uint32(raw[i:])), uint64(bo.Uint32(raw[i+4:]))
			i += 8
		}
		if elf.DynTag(tag) == elf.DT_NULL {
			break
		}
		d.tags[elf.DynTag(tag)] = append(d.tags[elf.DynTag(tag)], val)
	}
	return d
}

func (d *dynamic) one(tag elf.DynTag) uint64 {
	if v := d.tags[tag]; len(v) > 0 {
		return v[0]
	}
	return 0
}

func (d *dynamic) has(tag elf.DynTag) bool { return len(d.tags[tag]) > 0 }

// str returns the DT_STRTAB string at off.
func (d *dynamic) str(off uint64) string {
	if off >= uint64(len(d.strtab)) {
		return ""
	}
	b := d.strtab[off:]
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return ""
}

// strs returns the strings of every tag entry, each split at ':'.
func (d *dynamic) strs(tag elf.DynTag, split bool) []string {
	var out []string
	for _, v := range d.tags[tag] {
		s := d.str(v)
		if !split {
			out = append(out, s)
			continue
		}
		out = append(out, splitColon(s)...)
	}
	return out
}

func splitColon(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ':' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// x86-64 relocation types the gate reads.
const (
	rX86_64_64       = 1
	rX86_64_GlobDat  = 6
	rX86_64_JumpSlot = 7
	rX86_64_Relative = 8
)

// readRelocs decodes DT_RELA and DT_JMPREL (x86-64 uses RELA only) with
// the symbols they name (DT_SYMTAB, DT_STRTAB).
func (im *image) readRelocs(d *dynamic) {
	symtab := d.one(elf.DT_SYMTAB)
	type sym struct {
		name      string
		undefined bool
	}
	symbol := func(idx uint64) sym {
		if idx == 0 || symtab == 0 || idx > maxRelocs {
			return sym{}
		}
		b := im.read(symtab+idx*24, 24)
		if b == nil {
			return sym{}
		}
		return sym{d.str(uint64(im.f.ByteOrder.Uint32(b))), im.f.ByteOrder.Uint16(b[6:]) == uint16(elf.SHN_UNDEF)}
	}
	names := map[uint64]sym{}
	table := func(addr, size uint64) {
		if addr == 0 || size == 0 || size/24 > maxRelocs {
			return
		}
		raw := im.read(addr, size-size%24)
		bo := im.f.ByteOrder
		for i := 0; i+24 <= len(raw); i += 24 {
			off, info, addend := bo.Uint64(raw[i:]), bo.Uint64(raw[i+8:]), bo.Uint64(raw[i+16:])
			typ, sym := uint32(info), info>>32
			switch typ {
			case rX86_64_Relative:
				if im.isCode(addend) {
					d.pointers = append(d.pointers, addend)
				}
			case rX86_64_GlobDat, rX86_64_JumpSlot, rX86_64_64:
				s, ok := names[sym]
				if !ok {
					s = symbol(sym)
					names[sym] = s
				}
				if s.name != "" {
					d.slots[off] = s.name
					if s.undefined {
						d.imports[s.name] = true
					}
				}
			}
		}
	}
	table(d.one(elf.DT_RELA), d.one(elf.DT_RELASZ))
	table(d.one(elf.DT_JMPREL), d.one(elf.DT_PLTRELSZ))
}
