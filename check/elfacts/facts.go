package elfacts

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/immunix/immunix/internal/elfnote"
	"github.com/immunix/immunix/internal/stamp"
)

// Kind says what an ELF file is for, which decides which properties apply.
type Kind string

// The kinds of ELF file.
const (
	// KindExec is a position-dependent executable (ET_EXEC).
	KindExec Kind = "executable"
	// KindPIE is a position-independent executable: ET_DYN with DF_1_PIE
	// (binutils >= 2.31 sets it), or ET_DYN with PT_INTERP and no DT_SONAME.
	KindPIE Kind = "pie-executable"
	// KindShared is a shared library: ET_DYN that is not a PIE. glibc's
	// libc.so.6 has PT_INTERP too but a DT_SONAME, so it stays a library.
	KindShared Kind = "shared-library"
	// KindObject is a relocatable object (ET_REL), e.g. a .o file.
	KindObject Kind = "relocatable"
	// KindOther is anything else (core files, ET_NONE).
	KindOther Kind = "other"
)

// Segment names one program header by its index and flags.
type Segment struct {
	Index int    `json:"index"`
	Vaddr uint64 `json:"vaddr"`
	Flags string `json:"flags"` // "RWX" letters
}

// Facts are what one ELF file says about itself. Read fills them; nothing
// here is a verdict.
type Facts struct {
	Class   elf.Class
	Data    elf.Data
	Machine elf.Machine
	Type    elf.Type
	Kind    Kind

	// Interp is PT_INTERP's path: the dynamic loader the kernel maps.
	Interp string
	// Dynamic is true when the file has a PT_DYNAMIC segment.
	Dynamic bool
	// Needed are the DT_NEEDED libraries.
	Needed []string
	// Static is true for a program that the kernel runs without a dynamic
	// loader (no PT_INTERP): classic -static and -static-pie.
	Static bool

	// GNURelro: a PT_GNU_RELRO segment, which ld.so (or, statically,
	// _dl_relocate_static_pie/__libc_setup_tls) mprotects read-only after
	// relocation.
	GNURelro bool
	// BindNow: DT_BIND_NOW, DF_BIND_NOW in DT_FLAGS or DF_1_NOW in
	// DT_FLAGS_1: ld.so resolves every symbol at start-up, so the GOT can be
	// inside the RELRO region.
	BindNow bool
	// GotPltInRelro: the .got.plt section (lazy-binding and IRELATIVE slots)
	// lies inside PT_GNU_RELRO, or does not exist. This is what "full RELRO"
	// means for a static program, which has no dynamic section to carry
	// BIND_NOW.
	GotPltInRelro bool

	// GNUStack: a PT_GNU_STACK header is present. ExecStack: its PF_X is set.
	// Without the header the kernel falls back to the architecture default
	// (executable on 32-bit x86), so its absence counts against NX.
	GNUStack  bool
	ExecStack bool
	// WXSegments are PT_LOAD segments both writable and executable.
	WXSegments []Segment

	// GNUProperty: a NT_GNU_PROPERTY_TYPE_0 note was found. IBT and SHSTK
	// are the GNU_PROPERTY_X86_FEATURE_1_AND bits the kernel and ld.so use
	// to enable CET.
	GNUProperty bool
	IBT, SHSTK  bool

	RPath   []string // DT_RPATH entries
	RunPath []string // DT_RUNPATH entries

	// Stripped: no .symtab section (strip removes it; .dynsym stays).
	Stripped bool

	// Imports are the undefined, named dynamic symbols, without versions,
	// sorted and unique.
	Imports []string
	// Defined are the names of defined function and IFUNC symbols in .symtab
	// and .dynsym, sorted and unique. Static programs carry the libc
	// functions they use here.
	Defined []string
	// LocalDefined are the defined function names of .symtab alone: what
	// the file itself implements, exported or not (empty when stripped).
	LocalDefined []string
	// Exported are the names of every defined symbol of .dynsym (functions
	// and data), sorted and unique: what the file offers the dynamic
	// linker, so what interposes on the libraries a program loads.
	Exported []string

	// Stamps are the immunix build stamp notes (see internal/stamp).
	Stamps []stamp.Stamp
	// StampErr says why the stamp section could not be decoded, if so.
	StampErr string

	// Canary is the per-function stack protector analysis.
	Canary Canary
	// Calls are the calls the code makes to the printf family, its
	// FormatGuard checkers and Options.Callees, found by disassembly.
	Calls Calls
	// Bounds is the per-function array-bounds analysis (bounds.go).
	Bounds Bounds
}

// Options select the expensive parts of Read.
type Options struct {
	// Functions turns on the per-function disassembly for the canary
	// analysis (x86-64 only).
	Functions bool
	// Parallel is how many goroutines may classify one large file's
	// functions; 0 or 1 means one.
	Parallel int
	// Callees names the functions, besides the printf family, whose call
	// sites the analysis records (package check: the FORTIFY functions).
	Callees map[string]bool
	// Toolchain, if set, is asked about every named function of the file
	// with its code, and says whether that code is the toolchain's (the
	// libc a static program carries), recognised by content.
	Toolchain func(name string, code []byte) bool
	// Budget bounds the wall-clock time of the code analysis of one file;
	// when it runs out, the canary and call analyses say so (unknown).
	// 0 means no bound. The work itself is linear in the code size.
	Budget time.Duration
}

// MaxSectionSize bounds how much of one section Read loads into memory.
// Larger sections are reported as an error rather than exhausting memory on
// a corrupted size field.
const MaxSectionSize = 1 << 30

// Read decodes the ELF file in r (size bytes long) into Facts. It returns an
// error naming the part that could not be read; it never panics on bad
// input (a panic inside debug/elf is turned into an error too).
func Read(r io.ReaderAt, size int64, opt Options) (facts *Facts, err error) {
	defer func() {
		if p := recover(); p != nil {
			if !catchPanics {
				panic(p) // fuzzing: let the fuzzer see the crash
			}
			facts, err = nil, fmt.Errorf("malformed ELF (decoder panicked: %v)", p)
		}
	}()
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, ErrNotELF
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("read ELF header: %w", err)
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS && s.Size > uint64(size) {
			return nil, fmt.Errorf("section %s is %d bytes, larger than the file (%d bytes): truncated or corrupted", s.Name, s.Size, size)
		}
	}
	fa := &Facts{Class: f.Class, Data: f.Data, Machine: f.Machine, Type: f.Type}
	if err := fa.readProgs(f); err != nil {
		return nil, err
	}
	im := newImage(f)
	im.dyn = im.readDynamicSegment()
	fa.readDynamic(f, im.dyn)
	fa.classify()
	fa.readRelroSections(f)
	fa.readProperty(f)
	if err := fa.readSymbols(f, im.dyn); err != nil {
		return nil, err
	}
	st, serr := stamp.Read(f)
	if len(f.Sections) == 0 {
		// No section headers: the notes are still in the PT_NOTE
		// segments (the stamp section is SHF_ALLOC).
		st, serr = stampsFromSegments(f)
	}
	fa.Stamps = st
	if serr != nil {
		fa.StampErr = serr.Error()
	}
	if opt.Functions {
		fa.Canary, fa.Calls = analyzeCode(f, im, fa, opt)
		fa.Bounds = analyzeBounds(f, im, fa)
	} else {
		fa.Canary = Canary{Why: "function analysis turned off"}
		fa.Calls = Calls{Why: "function analysis turned off"}
		fa.Bounds = Bounds{Why: "function analysis turned off"}
	}
	return fa, nil
}

// stampsFromSegments reads the immunix notes of the 4-byte aligned PT_NOTE
// segments (8-byte aligned ones hold .note.gnu.property).
func stampsFromSegments(f *elf.File) ([]stamp.Stamp, error) {
	var out []stamp.Stamp
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Align > 4 || p.Filesz > maxPropertyNoteBytes {
			continue
		}
		b := make([]byte, p.Filesz)
		if n, _ := p.ReadAt(b, 0); uint64(n) != p.Filesz {
			continue
		}
		st, err := stamp.ParseNotes(b, f.ByteOrder)
		if err != nil {
			return out, err
		}
		out = append(out, st...)
	}
	return out, nil
}

// catchPanics turns a panic inside Read into an error (the gate goes on to
// the next file); the fuzz tests turn it off to find the panics.
var catchPanics = true

// ErrNotELF is returned for input that does not start with the ELF magic.
var ErrNotELF = errors.New("not an ELF file")

func flagString(fl elf.ProgFlag) string {
	b := []byte("---")
	if fl&elf.PF_R != 0 {
		b[0] = 'R'
	}
	if fl&elf.PF_W != 0 {
		b[1] = 'W'
	}
	if fl&elf.PF_X != 0 {
		b[2] = 'X'
	}
	return string(b)
}

func (fa *Facts) readProgs(f *elf.File) error {
	for i, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			if p.Filesz > 4096 {
				return fmt.Errorf("PT_INTERP is %d bytes: corrupted", p.Filesz)
			}
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return fmt.Errorf("read PT_INTERP: %w", err)
			}
			fa.Interp = strings.TrimRight(string(b), "\x00")
		case elf.PT_DYNAMIC:
			fa.Dynamic = true
		case elf.PT_GNU_RELRO:
			fa.GNURelro = true
		case elf.PT_GNU_STACK:
			fa.GNUStack = true
			fa.ExecStack = p.Flags&elf.PF_X != 0
		case elf.PT_LOAD:
			if p.Flags&elf.PF_W != 0 && p.Flags&elf.PF_X != 0 {
				fa.WXSegments = append(fa.WXSegments, Segment{Index: i, Vaddr: p.Vaddr, Flags: flagString(p.Flags)})
			}
		}
	}
	return nil
}

const (
	df1Now = 0x1
	df1PIE = 0x08000000
)

// readDynamic reads the dynamic section through PT_DYNAMIC, as ld.so does
// (never through the section headers, which a forger can edit or remove).
func (fa *Facts) readDynamic(f *elf.File, d *dynamic) {
	if d == nil {
		return
	}
	if d.has(elf.DT_BIND_NOW) {
		fa.BindNow = true
	}
	for _, v := range d.tags[elf.DT_FLAGS] {
		if elf.DynFlag(v)&elf.DF_BIND_NOW != 0 {
			fa.BindNow = true
		}
	}
	pie := false
	for _, v := range d.tags[elf.DT_FLAGS_1] {
		if v&df1Now != 0 {
			fa.BindNow = true
		}
		if v&df1PIE != 0 {
			pie = true
		}
	}
	fa.Needed = d.strs(elf.DT_NEEDED, false)
	fa.RPath = d.strs(elf.DT_RPATH, true)
	fa.RunPath = d.strs(elf.DT_RUNPATH, true)
	soname := d.has(elf.DT_SONAME)
	if f.Type == elf.ET_DYN {
		switch {
		case pie:
			fa.Kind = KindPIE
		case fa.Interp != "" && !soname:
			fa.Kind = KindPIE
		default:
			fa.Kind = KindShared
		}
	}
}

func (fa *Facts) classify() {
	switch fa.Type {
	case elf.ET_EXEC:
		fa.Kind = KindExec
	case elf.ET_REL:
		fa.Kind = KindObject
	case elf.ET_DYN:
		if fa.Kind == "" { // no dynamic section: a static PIE without one, or odd
			if fa.Interp != "" {
				fa.Kind = KindPIE
			} else {
				fa.Kind = KindShared
			}
		}
	default:
		fa.Kind = KindOther
	}
	fa.Static = (fa.Kind == KindExec || fa.Kind == KindPIE) && fa.Interp == ""
}

func (fa *Facts) readRelroSections(f *elf.File) {
	got := f.Section(".got.plt")
	if got == nil || got.Size == 0 {
		fa.GotPltInRelro = fa.GNURelro
		return
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_GNU_RELRO && got.Addr >= p.Vaddr && got.Addr+got.Size <= p.Vaddr+p.Memsz {
			fa.GotPltInRelro = true
		}
	}
}

const (
	ntGNUPropertyType0   = 5
	gnuPropertyX86Feat1  = 0xc0000002
	gnuPropertyX86IBT    = 1 << 0
	gnuPropertyX86SHSTK  = 1 << 1
	maxPropertyNoteBytes = 1 << 16
)

// readProperty decodes .note.gnu.property (or PT_GNU_PROPERTY): the linker
// ANDs the x86 feature bits of every input object, so a single object built
// without -fcf-protection clears them for the whole file.
func (fa *Facts) readProperty(f *elf.File) {
	var data []byte
	align := 4
	if f.Class == elf.ELFCLASS64 {
		align = 8
	}
	if s := f.Section(".note.gnu.property"); s != nil && s.Type == elf.SHT_NOTE && s.Size <= maxPropertyNoteBytes {
		data, _ = s.Data()
	} else {
		for _, p := range f.Progs {
			if p.Type == elf.PT_GNU_PROPERTY && p.Filesz <= maxPropertyNoteBytes {
				data = make([]byte, p.Filesz)
				if _, err := p.ReadAt(data, 0); err != nil {
					data = nil
				}
			}
		}
	}
	bo := f.ByteOrder
	// A note cut short ends the walk: what came before it stands.
	_ = elfnote.Walk(data, bo, align, func(name string, typ uint32, desc []byte) error {
		if name != "GNU" || typ != ntGNUPropertyType0 {
			return nil
		}
		fa.GNUProperty = true
		for len(desc) >= 8 {
			prType, prSize := bo.Uint32(desc), uint64(bo.Uint32(desc[4:]))
			desc = desc[8:]
			if prSize > uint64(len(desc)) {
				break
			}
			if prType == gnuPropertyX86Feat1 && prSize >= 4 {
				bits := bo.Uint32(desc)
				fa.IBT = bits&gnuPropertyX86IBT != 0
				fa.SHSTK = bits&gnuPropertyX86SHSTK != 0
			}
			desc = desc[min(alignUp(prSize, uint64(align)), uint64(len(desc))):]
		}
		return nil
	})
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }

func (fa *Facts) readSymbols(f *elf.File, d *dynamic) error {
	dyn, err := f.DynamicSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return fmt.Errorf("read .dynsym: %w", err)
	}
	imports := map[string]bool{}
	defined := map[string]bool{}
	exported := map[string]bool{}
	isFunc := func(s elf.Symbol) bool {
		t := elf.ST_TYPE(s.Info)
		return t == elf.STT_FUNC || t == elf.STT_GNU_IFUNC
	}
	for _, s := range dyn {
		if s.Name == "" {
			continue
		}
		if s.Section == elf.SHN_UNDEF {
			imports[s.Name] = true
			continue
		}
		exported[s.Name] = true
		if isFunc(s) {
			defined[s.Name] = true
		}
	}
	if d != nil {
		// The symbols the loader binds, named by the relocations: also
		// there when the section headers (and so .dynsym) are gone.
		for n := range d.imports {
			imports[n] = true
		}
	}
	syms, err := f.Symbols()
	switch {
	case errors.Is(err, elf.ErrNoSymbols):
		fa.Stripped = true
	case err != nil:
		return fmt.Errorf("read .symtab: %w", err)
	}
	local := map[string]bool{}
	for _, s := range syms {
		if s.Name != "" && s.Section != elf.SHN_UNDEF && isFunc(s) {
			defined[s.Name] = true
			local[s.Name] = true
		}
		if f.Type == elf.ET_REL && s.Name != "" && s.Section == elf.SHN_UNDEF && elf.ST_BIND(s.Info) != elf.STB_LOCAL {
			// An object's references are its imports.
			imports[s.Name] = true
		}
	}
	fa.Imports = sortedKeys(imports)
	fa.Defined = sortedKeys(defined)
	fa.LocalDefined = sortedKeys(local)
	fa.Exported = sortedKeys(exported)
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
