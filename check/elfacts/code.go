package elfacts

import (
	"debug/elf"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/arch/x86/x86asm"
)

// analyzeCode finds every function of an x86-64 file, classifies its
// canary, and records the calls it makes to the functions the gate judges
// (printf family, FORTIFY). Code is read from the executable PT_LOAD
// segments; function boundaries come from .symtab, .dynsym and the unwind
// table (through PT_GNU_EH_FRAME), and code none of them covers is swept
// and analysed as "guessed" functions.
func analyzeCode(f *elf.File, im *image, fa *Facts, opt Options) (Canary, Calls) {
	c := Canary{}
	for _, n := range append(append([]string{}, fa.Imports...), fa.Defined...) {
		if n == "__stack_chk_fail" || n == "__stack_chk_fail_local" {
			c.ChkFail = true
		}
	}
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		c.Why = "code analysis supports x86-64 only, this is " + f.Machine.String() + " " + f.Class.String()
		return c, Calls{Why: c.Why}
	}
	start := time.Now()
	over := func() bool { return opt.Budget > 0 && time.Since(start) > opt.Budget }
	im.loadCode()
	for _, r := range im.code {
		c.CodeBytes += uint64(len(r.data))
	}
	if im.tooLarge {
		c.Why = fmt.Sprintf("an executable segment is larger than %d bytes: not read", uint64(MaxSectionSize))
		return c, Calls{Why: c.Why}
	}
	var ranges []funcRange
	var sources []string
	add := func(rs []funcRange, name string) {
		n := 0
		for _, r := range rs {
			if r.size > 0 && im.isCode(r.addr) {
				ranges = append(ranges, r)
				n++
			}
		}
		if n > 0 {
			sources = append(sources, name)
		}
	}
	syms := symtabFuncs(f)
	add(syms, "symtab")
	if f.Type != elf.ET_REL {
		add(dynsymFuncs(f), "dynsym")
		add(ehFrameFuncs(f, im), "eh_frame")
	}
	ranges = dedupe(ranges)
	clip(ranges)
	for i := range ranges { // clip to the end of the code region
		ranges[i].size = uint64(len(im.codeBytes(ranges[i].addr, ranges[i].size)))
	}
	if f.Type != elf.ET_REL {
		guessed, scanned, unattributed := sweepGaps(f, im, ranges)
		c.Decoded += scanned
		if unattributed > maxGuessedCode {
			// Too much to be start-up stubs: code without symbols or
			// unwind entries, or read-only data in the executable segment
			// (gold, old binutils). Either way the boundaries are unknown;
			// the known functions are still classified (a missing canary
			// there is a fail).
			c.GuessedBytes, c.GuessedOver = unattributed, true
			sources = append(sources, "sweep")
		}
		if len(guessed) > 0 {
			sources = append(sources, "sweep")
			ranges = append(ranges, guessed...)
			sort.SliceStable(ranges, func(i, j int) bool { return ranges[i].addr < ranges[j].addr })
		}
	}
	if len(ranges) == 0 {
		if c.CodeBytes <= maxStubCode {
			// Data-only libraries (glibc's gconv tables) and crti.o/crtn.o:
			// nothing but the toolchain's start-up stubs.
			c.Analyzed, c.Source = true, "none"
			c.Why = "no functions of its own (" + itoa(c.CodeBytes) + " bytes of start-up stubs)"
			return c, Calls{Analyzed: true}
		}
		c.Why = "no function boundaries (no .symtab and no usable unwind table)"
		return c, Calls{Why: c.Why}
	}
	c.Analyzed = true
	c.Source = joinPlus(sources)
	c.Funcs = make([]Func, len(ranges))
	var decoded atomic.Uint64
	var stopped atomic.Bool
	classify := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if (i-lo)%64 == 0 && over() {
				stopped.Store(true)
				return
			}
			r := ranges[i]
			b := im.codeBytes(r.addr, r.size)
			decoded.Add(uint64(len(b)))
			class, why := ClassifyCode(b)
			fn := Func{Name: r.name, File: r.file, Addr: r.addr, Size: r.size, Class: class, Why: why, Guessed: r.guessed}
			if opt.Toolchain != nil && fa.Static && r.name != "" && !r.guessed {
				fn.Toolchain = opt.Toolchain(r.name, b)
			}
			c.Funcs[i] = fn
		}
	}
	// Large files are split across goroutines, so one huge library does
	// not keep the other cores idle at the end of a scan.
	if n := max(opt.Parallel, 1); n > 1 && len(ranges) >= 512 {
		var wg sync.WaitGroup
		chunk := (len(ranges) + n - 1) / n
		for lo := 0; lo < len(ranges); lo += chunk {
			wg.Add(1)
			go func(lo, hi int) {
				defer wg.Done()
				classify(lo, hi)
			}(lo, min(lo+chunk, len(ranges)))
		}
		wg.Wait()
	} else {
		classify(0, len(ranges))
	}
	c.Decoded += decoded.Load()
	if stopped.Load() {
		return budgetExceeded(c, opt.Budget)
	}
	for _, fn := range c.Funcs {
		switch fn.Class {
		case Protected:
			c.Protected++
		case NeedsNone:
			c.NeedsNone++
		case Missing:
			c.Missing++
		case Undecodable:
			c.Undecodable++
		}
		if fn.Guessed && !c.GuessedOver {
			c.GuessedBytes += fn.Size
		}
	}
	calls, n := analyzeCalls(f, im, c.Funcs, opt, over)
	c.Decoded += n
	if !calls.Analyzed && calls.Why == budgetWhy {
		return budgetExceeded(c, opt.Budget)
	}
	return c, calls
}

const budgetWhy = "per-file time budget exceeded"

func budgetExceeded(c Canary, budget time.Duration) (Canary, Calls) {
	why := fmt.Sprintf("analysis stopped: the per-file time budget (%s) ran out", budget)
	return Canary{Why: why, ChkFail: c.ChkFail, CodeBytes: c.CodeBytes, Decoded: c.Decoded}, Calls{Why: why}
}

func joinPlus(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "+"
		}
		out += x
	}
	return out
}

// dynsymFuncs lists the sized function symbols of .dynsym.
func dynsymFuncs(f *elf.File) []funcRange {
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil
	}
	var out []funcRange
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Size == 0 || s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE {
			continue
		}
		out = append(out, funcRange{name: s.Name, addr: s.Value, size: s.Size})
	}
	return out
}

// maxGuessedCode bounds the uncovered code that is split into guessed
// functions and classified; beyond it the sweep only measures.
const maxGuessedCode = 64 << 10

// sweepGaps finds the code that no known function covers, in the
// executable segments, leaving out padding (nop, int3, zero fill), PLT
// stubs and what the loader knows to be data (ELF and program headers,
// the PT_* areas, the unwind table and the dynamic tables). What remains
// is split into guessed functions at the start of every run of code and
// at the targets of direct calls and rip-relative address loads. It also
// returns how many bytes it decoded and how many it could not attribute;
// past maxGuessedCode it stops and returns no functions.
func sweepGaps(f *elf.File, im *image, known []funcRange) ([]funcRange, uint64, uint64) {
	excl := loaderData(f, im)
	var runs [][2]uint64
	var scanned, unattributed uint64
	k := 0
	for _, reg := range im.code {
		end := reg.addr + uint64(len(reg.data))
		pos := reg.addr
		for pos < end {
			for k < len(known) && known[k].addr+known[k].size <= pos {
				k++
			}
			gapEnd := end
			if k < len(known) && known[k].addr <= pos {
				pos = known[k].addr + known[k].size
				continue
			}
			if k < len(known) && known[k].addr < end {
				gapEnd = known[k].addr
			}
			rs, n := sweepSpan(reg, pos, gapEnd, excl, maxGuessedCode+1-unattributed)
			runs = append(runs, rs...)
			scanned += n
			for _, r := range rs {
				unattributed += r[1] - r[0]
			}
			if unattributed > maxGuessedCode {
				return nil, scanned, unattributed
			}
			pos = gapEnd
		}
	}
	if len(runs) == 0 {
		return nil, scanned, 0
	}
	// Split points: function entries the code or the loader names.
	seeds := map[uint64]bool{f.Entry: true}
	if im.dyn != nil {
		for _, t := range []elf.DynTag{elf.DT_INIT, elf.DT_FINI} {
			seeds[im.dyn.one(t)] = true
		}
		for _, p := range im.dyn.pointers {
			seeds[p] = true
		}
	}
	inRun := func(t uint64) bool {
		i := sort.Search(len(runs), func(i int) bool { return runs[i][1] > t })
		return i < len(runs) && runs[i][0] <= t
	}
	for _, reg := range im.code {
		d := reg.data
		scanned += uint64(len(d))
		for i := 0; i+5 <= len(d); i++ {
			var t uint64
			switch {
			case d[i] == 0xe8:
				t = reg.addr + uint64(i) + 5 + uint64(int64(int32(le32(d[i+1:]))))
			case (d[i] == 0x48 || d[i] == 0x4c) && i+7 <= len(d) && d[i+1] == 0x8d && d[i+2]&0xc7 == 0x05:
				t = reg.addr + uint64(i) + 7 + uint64(int64(int32(le32(d[i+3:]))))
			default:
				continue
			}
			if inRun(t) {
				seeds[t] = true
			}
		}
	}
	var splits []uint64
	for s := range seeds {
		if inRun(s) {
			splits = append(splits, s)
		}
	}
	sort.Slice(splits, func(i, j int) bool { return splits[i] < splits[j] })
	var out []funcRange
	j := 0
	for _, r := range runs {
		a := r[0]
		for j < len(splits) && splits[j] <= a {
			j++
		}
		for j < len(splits) && splits[j] < r[1] {
			out = append(out, funcRange{addr: a, size: splits[j] - a, guessed: true})
			a = splits[j]
			j++
		}
		out = append(out, funcRange{addr: a, size: r[1] - a, guessed: true})
	}
	return out, scanned, unattributed
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// sweepSpan decodes [pos, end) of reg linearly and returns the runs of
// instructions that are neither padding nor PLT stubs nor loader data.
func sweepSpan(reg codeRegion, pos, end uint64, excl [][2]uint64, limit uint64) ([][2]uint64, uint64) {
	var runs [][2]uint64
	runStart, runEnd := uint64(0), uint64(0)
	inRun := false
	var total uint64
	flush := func() {
		if inRun {
			runs = append(runs, [2]uint64{runStart, runEnd})
			total += runEnd - runStart
			inRun = false
		}
	}
	prevPushImm := false
	start := pos
	for pos < end {
		if total > limit || (inRun && total+pos-runStart > limit) {
			flush()
			return runs, pos - start // enough: the caller stops
		}
		if e, ok := inSpans(excl, pos); ok {
			flush()
			pos = min(e, end)
			continue
		}
		b := reg.data[pos-reg.addr : end-reg.addr]
		if b[0] == 0x90 || b[0] == 0xcc || (b[0] == 0 && (len(b) == 1 || b[1] == 0)) {
			flush()
			pos++
			continue
		}
		if isEndbr(b) {
			pos += 4 // a landing pad belongs to what follows
			continue
		}
		inst, err := x86asm.Decode(b, 64)
		if err != nil || inst.Len == 0 {
			// Undecodable bytes stay in the run: the classifier counts
			// them, and too many make the function "undecodable".
			if !inRun {
				runStart, inRun = pos, true
			}
			pos++
			runEnd = pos
			prevPushImm = false
			continue
		}
		stub := false
		switch inst.Op {
		case x86asm.NOP:
			flush()
			pos += uint64(inst.Len)
			prevPushImm = false
			continue
		case x86asm.JMP, x86asm.PUSH:
			if m, ok := inst.Args[0].(x86asm.Mem); ok && m.Base == x86asm.RIP {
				stub = true // jmp *GOT(%rip), push GOT+8(%rip): PLT
			}
			if _, ok := inst.Args[0].(x86asm.Imm); ok && inst.Op == x86asm.PUSH {
				stub = true // push $index: lazy PLT entry
			}
			if _, ok := inst.Args[0].(x86asm.Rel); ok && inst.Op == x86asm.JMP && prevPushImm {
				stub = true // ... jmp PLT0
			}
		}
		_, isImm := inst.Args[0].(x86asm.Imm)
		prevPushImm = inst.Op == x86asm.PUSH && isImm
		if stub {
			flush()
			pos += uint64(inst.Len)
			continue
		}
		if !inRun {
			runStart, inRun = pos, true
		}
		pos += uint64(inst.Len)
		runEnd = pos
	}
	flush()
	return runs, pos - start
}

func inSpans(sp [][2]uint64, a uint64) (uint64, bool) {
	for _, s := range sp {
		if a >= s[0] && a < s[1] {
			return s[1], true
		}
	}
	return 0, false
}

// loaderData lists address ranges the loader itself reads as data, which
// old layouts (no -z separate-code) put in the executable segment.
func loaderData(f *elf.File, im *image) [][2]uint64 {
	var out [][2]uint64
	addSpan := func(a, n uint64) {
		if n > 0 && a+n > a {
			out = append(out, [2]uint64{a, a + n})
		}
	}
	for _, p := range im.loads {
		if p.Off == 0 {
			// ELF header and program header table (64-byte header, 56-byte entries).
			addSpan(p.Vaddr, 64+uint64(len(f.Progs))*56)
		}
	}
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_PHDR, elf.PT_INTERP, elf.PT_NOTE, elf.PT_DYNAMIC, elf.PT_GNU_EH_FRAME, elf.PT_GNU_PROPERTY:
			addSpan(p.Vaddr, p.Memsz)
		}
		if p.Type == elf.PT_GNU_EH_FRAME && p.Filesz >= 4 {
			hdr := make([]byte, min(p.Filesz, 64))
			if n, _ := p.ReadAt(hdr, 0); n == len(hdr) {
				if a, ok := EHFrameHdrPtr(hdr, p.Vaddr, f.ByteOrder); ok {
					if d := im.readToSegmentEnd(a); d != nil {
						addSpan(a, ehFrameLen(d, f))
					}
				}
			}
		}
	}
	if d := im.dyn; d != nil {
		addSpan(d.one(elf.DT_STRTAB), d.one(elf.DT_STRSZ))
		addSpan(d.one(elf.DT_RELA), d.one(elf.DT_RELASZ))
		addSpan(d.one(elf.DT_JMPREL), d.one(elf.DT_PLTRELSZ))
		if st, str := d.one(elf.DT_SYMTAB), d.one(elf.DT_STRTAB); st != 0 && str > st && str-st < 64<<20 {
			addSpan(st, str-st)
			addSpan(d.one(elf.DT_VERSYM), (str-st)/24*2)
		}
		// Tables without a size tag (hash tables, version needs and
		// definitions) end where the next table starts, at most 64 KiB
		// on (real ones are far smaller; the cap bounds what a forged
		// tag can hide).
		var starts []uint64
		for _, t := range []elf.DynTag{elf.DT_GNU_HASH, elf.DT_HASH, elf.DT_SYMTAB, elf.DT_STRTAB, elf.DT_VERSYM, elf.DT_VERNEED, elf.DT_VERDEF, elf.DT_RELA, elf.DT_JMPREL, elf.DT_INIT} {
			if v := d.one(t); v != 0 {
				starts = append(starts, v)
			}
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
		for _, t := range []elf.DynTag{elf.DT_GNU_HASH, elf.DT_HASH, elf.DT_VERNEED, elf.DT_VERDEF} {
			a := d.one(t)
			if a == 0 {
				continue
			}
			i := sort.Search(len(starts), func(i int) bool { return starts[i] > a })
			if i < len(starts) {
				addSpan(a, min(starts[i]-a, 64<<10))
			}
		}
	}
	return out
}

// ehFrameLen is the length of an .eh_frame table up to its terminator.
func ehFrameLen(d []byte, f *elf.File) uint64 {
	off := uint64(0)
	for off+4 <= uint64(len(d)) {
		l := uint64(f.ByteOrder.Uint32(d[off:]))
		if l == 0 {
			return off + 4
		}
		if l == 0xffffffff {
			if off+12 > uint64(len(d)) {
				break
			}
			l = f.ByteOrder.Uint64(d[off+4:]) + 8
		}
		if l > uint64(len(d))-off-4 {
			break
		}
		off += 4 + l
	}
	return off
}

// FormatOrigin says where a printf-family call's format argument came
// from, as the code computes it.
type FormatOrigin string

// The format origins.
const (
	// FormatLiteral: the address of read-only data (a string literal).
	FormatLiteral FormatOrigin = "literal"
	// FormatChecked: the value FormatGuard's checker __immunix_fg_F
	// returned for this function's family.
	FormatChecked FormatOrigin = "checked"
	// FormatUnchecked: anything else (an argument, a variable, a value
	// from a merge of paths that do not all check it).
	FormatUnchecked FormatOrigin = "unchecked"
	// FormatAddressTaken: the function's address is loaded, not called:
	// calls through the pointer cannot be checked.
	FormatAddressTaken FormatOrigin = "address-taken"
)

// CallSite is one call (or tail jump) the code makes to a function the
// gate judges.
type CallSite struct {
	Callee string `json:"callee"`
	Addr   uint64 `json:"addr"`
	// Func is the index in Canary.Funcs of the function making the call.
	Func int `json:"func"`
	// Format is set for printf-family callees.
	Format FormatOrigin `json:"format,omitempty"`
	// Def is the address of the callee when it is the file's own
	// definition (a static program's libc, the guard runtime's entry
	// points, or a program's own function that has the name of a libc
	// one), 0 for an import called through the PLT or GOT. Names do not
	// tell these apart: package check decides from the code there.
	Def uint64 `json:"def,omitempty"`
}

// Calls are the call sites found in the code.
type Calls struct {
	// Analyzed is false when the code could not be analysed; Why says why.
	Analyzed bool
	Why      string
	Sites    []CallSite
	// Unresolved: the file is stripped of the symbols that would name its
	// own definitions of judged functions (a static program's libc), so
	// calls to them cannot be seen.
	Unresolved bool
}
