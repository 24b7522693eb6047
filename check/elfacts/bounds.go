package elfacts

import (
	"debug/elf"

	"golang.org/x/arch/x86/x86asm"
)

// BoundsHandlers are the entry points the compilers' array-bounds
// instrumentation calls (gcc -fsanitize=bounds, clang
// -fsanitize=array-bounds), non-recovering and recovering.
var BoundsHandlers = []string{"__ubsan_handle_out_of_bounds_abort", "__ubsan_handle_out_of_bounds"}

// ObjSizeHandlers are those of the object-size checks (clang
// -fsanitize=object-size reports through the type-mismatch handler).
var ObjSizeHandlers = []string{"__ubsan_handle_type_mismatch_v1_abort", "__ubsan_handle_type_mismatch_v1"}

// Bounds is the array-bounds analysis of one file, from its code: which
// functions call a bounds handler, and which index an array in their own
// stack frame with a register (the accesses the instrumentation guards).
type Bounds struct {
	// Analyzed is false when the code could not be analysed; Why says why.
	Analyzed bool
	Why      string
	// Handler is where the bounds handler comes from: "runtime" (defined
	// in the file: the guard runtime, linked statically), "libubsan"
	// (imported: its calls go through the PLT), or "" (none referenced).
	Handler string
	// Funcs are the functions that call a handler or index their stack
	// frame with a register, in address order (the handlers themselves
	// left out).
	Funcs []BoundsFunc
}

// BoundsFunc is one function's part of the bounds analysis.
type BoundsFunc struct {
	Name string
	// Checked: the function holds the guard of a tied bounds check (a
	// compare and conditional branch to a block that calls the bounds
	// handler defined in the file with a record naming an array at least
	// as long as the compare allows: boundstie.go). Calls: it calls (or
	// tail-jumps to) that handler; Untied: one of those calls is not
	// tied to a check. ObjSize: it calls the object-size handler.
	Checked, Calls, Untied, ObjSize bool
	// Indexes: a register-indexed access to its own stack frame (base
	// %rsp, or %rbp where the function makes it its frame pointer, plus
	// an index register) whose index the code does not bound, or bounds
	// only so loosely that the access may leave the frame: what the
	// instrumentation guards.
	Indexes bool
	// Bounded: a register-indexed access to its own stack frame whose
	// index the code itself bounds (a byte, a mask, a shift) so that the
	// access stays inside the frame. Whether it stays inside its array
	// needs the array's size, which the code does not carry: the
	// instrumentation drops its check when the bound fits the array.
	Bounded bool
}

func analyzeBounds(f *elf.File, im *image, fa *Facts) Bounds {
	var b Bounds
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		b.Why = "code analysis supports x86-64 only"
		return b
	}
	if f.Type == elf.ET_REL {
		b.Why = "relocatable object: its calls are resolved at link time"
		return b
	}
	for _, n := range fa.Imports {
		for _, h := range BoundsHandlers {
			if n == h {
				b.Handler = "libubsan"
			}
		}
	}
	syms, _ := f.Symbols()
	ranges := symtabFuncs(f)
	if len(ranges) == 0 {
		b.Why = "no symbol table: the guard runtime's bounds handler (a hidden symbol) cannot be found in a stripped file"
		return b
	}
	im.loadCode()
	// A handler defined in the file counts only if it never returns to
	// the instrumented code (the guard runtime's halts): a function that
	// merely bears the name and returns stops nothing.
	bounds, objsize := map[uint64]bool{}, map[uint64]bool{}
	forged := map[uint64]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section == elf.SHN_UNDEF {
			continue
		}
		is := func(names []string) bool {
			for _, h := range names {
				if s.Name == h {
					return true
				}
			}
			return false
		}
		if !is(BoundsHandlers) && !is(ObjSizeHandlers) {
			continue
		}
		if mayReturn(im.codeBytes(s.Value, s.Size)) {
			forged[s.Value] = true
			continue
		}
		bounds[s.Value] = bounds[s.Value] || is(BoundsHandlers)
		objsize[s.Value] = objsize[s.Value] || is(ObjSizeHandlers)
	}
	if len(bounds) > 0 {
		b.Handler = "runtime"
	} else if b.Handler == "libubsan" && im.dyn != nil {
		// The user's own sanitizer: its calls reach libubsan's
		// handler through the PLT, and are tied to their checks the
		// same way.
		slots := map[uint64]string{}
		for a, n := range im.dyn.slots {
			for _, h := range BoundsHandlers {
				if n == h {
					slots[a] = n
				}
			}
		}
		stubs, _ := im.pltStubs(slots)
		for a := range stubs {
			bounds[a] = true
		}
		for a := range slots {
			bounds[a] = true // called through the GOT (-fno-plt)
		}
	}
	// Two passes: the first decodes every function, records the jumps
	// that land in another function's range (gcc's .cold parts jump back
	// into their function) and keeps the functions that index their
	// frame; the second bounds their indexes knowing every place a jump
	// lands.
	link := newLinkage()
	var pending []*boundsScan
	for _, r := range ranges {
		if bounds[r.addr] || objsize[r.addr] || forged[r.addr] {
			continue // the handlers themselves
		}
		data := im.codeBytes(r.addr, r.size)
		if data == nil {
			continue
		}
		sc := decodeBounds(data, r.addr, bounds, objsize, link)
		sc.fn.Name = r.name
		pending = append(pending, sc)
	}
	records := &boundsRecords{im: im}
	for _, sc := range pending {
		for _, i := range sc.calls {
			if !sc.tie(i, link, records.length) {
				sc.fn.Untied = true
			}
		}
	}
	for _, sc := range pending {
		sc.judge(link.entries)
	}
	for _, sc := range pending {
		if sc.fn.Checked || sc.fn.Calls || sc.fn.ObjSize || sc.fn.Indexes || sc.fn.Bounded {
			b.Funcs = append(b.Funcs, sc.fn)
		}
	}
	b.Analyzed = true
	return b
}

// mayReturn reports whether a handler's code may return to its caller: it
// has a ret, or a jump that leaves it (a tail call, a .cold part), or it
// cannot be read.
// The guard runtime's handlers end in a call to its halting alert path.
func mayReturn(code []byte) bool {
	if len(code) == 0 {
		return true
	}
	for pc := 0; pc < len(code); {
		inst, err := x86asm.Decode(code[pc:], 64)
		if err != nil || inst.Len == 0 {
			pc++
			continue
		}
		switch inst.Op {
		case x86asm.RET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ, x86asm.LRET:
			return true
		}
		if isBranch(inst.Op) {
			rel, ok := inst.Args[0].(x86asm.Rel)
			if !ok {
				return true
			}
			if t := pc + inst.Len + int(rel); t < 0 || t >= len(code) {
				return true // to code elsewhere (a tail call, a .cold part)
			}
		}
		pc += inst.Len
	}
	return false
}

// decoded is one decoded instruction and its address.
type decoded struct {
	at   uint64
	inst x86asm.Inst
}

// boundsScan is one decoded function awaiting judgement of its indexes.
type boundsScan struct {
	fn BoundsFunc
	// insts and idx: the function's code and the positions of the
	// instructions indexing the frame with a register (insts is dropped
	// when there are none).
	insts []decoded
	idx   []int
	// targets: where the function's own jumps land; indirect: it has a
	// jump whose target is not known (a jump table); frame: its first
	// sub $N,%rsp; framePointer: it makes %rbp its frame pointer
	// (mov %rsp,%rbp); rbpOther: it also writes %rbp otherwise.
	targets      map[uint64]bool
	indirect     bool
	frame        int64
	framePointer bool
	rbpOther     bool
	// calls: the positions of its calls of the bounds handler.
	calls []int
}

// decodeBounds decodes one function: does it call a handler in bounds or
// objsize (direct call or tail jump), and where does it index its stack
// frame with a register. Jumps that leave its range are added to entries.
//
// The stack frame is %rsp's, and %rbp's only where the function makes %rbp
// its frame pointer (mov %rsp,%rbp): optimised code without a frame
// pointer keeps any value in %rbp (a malloc'd buffer, a string), and an
// index into that is not one into the stack.
func decodeBounds(code []byte, addr uint64, bounds, objsize map[uint64]bool, link *linkage) *boundsScan {
	sc := &boundsScan{targets: map[uint64]bool{}}
	end := addr + uint64(len(code))
	for pc := 0; pc < len(code); {
		if isEndbr(code[pc:]) {
			pc += 4
			continue
		}
		inst, err := x86asm.Decode(code[pc:], 64)
		if err != nil || inst.Len == 0 {
			pc++
			continue
		}
		sc.insts = append(sc.insts, decoded{addr + uint64(pc), inst})
		next := addr + uint64(pc+inst.Len)
		switch {
		case inst.Op == x86asm.CALL || isBranch(inst.Op):
			if rel, ok := inst.Args[0].(x86asm.Rel); ok {
				t := next + uint64(int64(rel))
				if (inst.Op == x86asm.CALL || inst.Op == x86asm.JMP) && bounds[t] {
					sc.fn.Calls = true
					sc.calls = append(sc.calls, len(sc.insts)-1)
				}
				if inst.Op == x86asm.CALL || inst.Op == x86asm.JMP {
					sc.fn.ObjSize = sc.fn.ObjSize || objsize[t]
				}
				if inst.Op != x86asm.CALL && len(bounds) > 0 {
					// Every jump by where it lands, for the tie of
					// the handler's calls (none without a handler).
					ref := branchRef{sc: sc, op: inst.Op}
					if inst.Op != x86asm.JMP {
						ref.cmp, ref.reg, ref.mask, ref.imm = compareBefore(sc.insts, len(sc.insts)-1)
					}
					link.jumps[t] = append(link.jumps[t], ref)
				}
				switch {
				case inst.Op == x86asm.CALL:
				case t >= addr && t < end:
					sc.targets[t] = true
				default:
					link.entries[t] = true
				}
			} else {
				// call *slot(%rip) (gcc -fno-plt): the handler's GOT
				// slot is in bounds too.
				if m, ok := inst.Args[0].(x86asm.Mem); ok && inst.Op == x86asm.CALL && m.Base == x86asm.RIP && m.Index == 0 && bounds[next+uint64(m.Disp)] {
					sc.fn.Calls = true
					sc.calls = append(sc.calls, len(sc.insts)-1)
				}
				if inst.Op == x86asm.JMP {
					// A jump table (or an indirect tail call): where
					// it lands is not known here, so no value is
					// followed backwards in this function.
					sc.indirect = true
				}
			}
		case inst.Op == x86asm.MOV && inst.Args[0] == x86asm.RBP && inst.Args[1] == x86asm.RSP:
			sc.framePointer = true
		case writesRBP(inst):
			sc.rbpOther = true
		case inst.Op == x86asm.SUB && inst.Args[0] == x86asm.RSP && sc.frame == 0:
			if imm, ok := inst.Args[1].(x86asm.Imm); ok && imm > 0 {
				sc.frame = int64(imm)
			}
		}
		pc += inst.Len
	}
	for i, d := range sc.insts {
		if d.inst.Op == x86asm.NOP {
			continue
		}
		for _, a := range d.inst.Args {
			if m, ok := a.(x86asm.Mem); ok && m.Index != 0 && m.Segment == 0 && (m.Base == x86asm.RSP || m.Base == x86asm.RBP) {
				sc.idx = append(sc.idx, i)
				break
			}
		}
	}
	if len(sc.idx) == 0 && len(sc.calls) == 0 {
		sc.insts, sc.targets = nil, nil
	}
	return sc
}

// writesRBP reports whether inst writes %rbp other than by saving or
// restoring it (push, pop, leave) or making it the frame pointer.
func writesRBP(inst x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.PUSH, x86asm.POP, x86asm.LEAVE, x86asm.CMP, x86asm.TEST:
		return false
	}
	if implicitWriter(inst) {
		return false // none of them writes %rbp
	}
	r, ok := inst.Args[0].(x86asm.Reg)
	return ok && family(r) == x86asm.RBP && !(inst.Op == x86asm.MOV && inst.Args[1] == x86asm.RSP)
}

// rbpIsFrame reports whether %rbp holds the frame when insts[use]
// executes: always in a function whose only write to it makes it the frame
// pointer; in one that also keeps other values there (gawk's do_close: a
// heap buffer in one branch, mov %rsp,%rbp in another), only where the
// write that must have run last on the straight path is mov %rsp,%rbp.
func (sc *boundsScan) rbpIsFrame(use int, lands func(uint64) bool) bool {
	if !sc.framePointer {
		return false
	}
	if !sc.rbpOther {
		return true
	}
	for j := use - 1; j >= 0; j-- {
		if lands(sc.insts[j+1].at) {
			return false
		}
		in := sc.insts[j].inst
		if in.Op == x86asm.MOV && in.Args[0] == x86asm.RBP && in.Args[1] == x86asm.RSP {
			return true
		}
		if writesRBP(in) || in.Op == x86asm.POP && in.Args[0] == x86asm.RBP || in.Op == x86asm.JMP || in.Op == x86asm.RET {
			return false
		}
	}
	return false
}

// judge sorts the function's register-indexed frame accesses into Indexes
// and Bounded, knowing entries, the places other functions jump to.
func (sc *boundsScan) judge(entries map[uint64]bool) {
	lands := func(at uint64) bool { return sc.targets[at] || entries[at] }
	ranges := map[x86asm.Reg][]interval{}
	for _, i := range sc.idx {
		d := sc.insts[i]
		for _, a := range d.inst.Args {
			m, ok := a.(x86asm.Mem)
			if !ok || m.Index == 0 || m.Segment != 0 || !(m.Base == x86asm.RSP || m.Base == x86asm.RBP && sc.rbpIsFrame(i, lands)) {
				continue
			}
			max := unbounded
			if !sc.indirect {
				max = valueBound(sc.insts, i, m.Index, 64, lands, 0)
			}
			width := int64(d.inst.MemBytes)
			if width < int64(m.Scale) {
				width = int64(m.Scale)
			}
			if copyOut(sc.insts, i, m, width) {
				continue
			}
			if !inFrame(m, max, width, sc.frame) {
				// Past joins: the bound a loop or an earlier compare
				// puts on the index along every path (boundsloop.go).
				fam := family(m.Index)
				if _, ok := ranges[fam]; !ok {
					ranges[fam] = sc.rangeOf(fam, entries)
				}
				if r := ranges[fam]; r != nil && !r[i].empty {
					max = min(max, r[i].hi)
				}
			}
			if inFrame(m, max, width, sc.frame) {
				sc.fn.Bounded = true
			} else {
				sc.fn.Indexes = true
			}
		}
	}
	sc.insts, sc.targets = nil, nil
}

// copyOut reports whether insts[i] loads from the frame through m only to
// store the same register through another base, at the same index, scale
// 1 and displacement minus the width, right after it: the tail of an
// inlined memcpy out of a stack buffer (gawk's read_one_line copies
// strlen(buf) bytes: mov -0x8(%rbp,%rdx,1),%rcx; mov %rcx,-0x8(%rbx,%rdx,1)).
// That is no array subscript, which is what the bounds instrumentation
// checks, so it is not counted. A copy into the frame is a write there and
// still counts.
func copyOut(insts []decoded, i int, m x86asm.Mem, width int64) bool {
	in := insts[i].inst
	r, ok := in.Args[0].(x86asm.Reg)
	if !ok || in.Op != x86asm.MOV && in.Op != x86asm.MOVZX || in.Args[1] != m || m.Scale != 1 || m.Disp != -width || i+1 >= len(insts) {
		return false
	}
	st := insts[i+1].inst
	dm, ok := st.Args[0].(x86asm.Mem)
	sr, ok2 := st.Args[1].(x86asm.Reg)
	return st.Op == x86asm.MOV && ok && ok2 && family(sr) == family(r) && int64(st.MemBytes) == width &&
		dm.Index == m.Index && dm.Scale == 1 && dm.Disp == m.Disp && dm.Segment == 0 &&
		dm.Base != x86asm.RSP && dm.Base != x86asm.RBP && dm.Base != 0
}

// unbounded is valueBound's answer when the code does not bound a value.
const unbounded = ^uint64(0)

// inFrame reports whether every access m can make with an index of at most
// max (width bytes each) stays inside the frame: for %rsp, inside the
// function's own allocation (below the saved registers and the return
// address); for the frame pointer %rbp, below the saved %rbp.
func inFrame(m x86asm.Mem, max uint64, width, frame int64) bool {
	if max > 1<<24 {
		return false
	}
	end := m.Disp + int64(m.Scale)*int64(max) + width
	if m.Base == x86asm.RBP {
		return end <= 0
	}
	return m.Disp >= 0 && end <= frame
}

// widthMax is the largest value a register of bits bits holds.
func widthMax(bits int) uint64 {
	if bits >= 64 {
		return unbounded
	}
	return 1<<uint(bits) - 1
}

// regBits is the width of a general-purpose register, and whether it is
// one of the high bytes (%ah %ch %dh %bh).
func regBits(r x86asm.Reg) (int, bool) {
	switch {
	case r >= x86asm.AH && r <= x86asm.BH:
		return 8, true
	case r >= x86asm.AL && r <= x86asm.R15B:
		return 8, false
	case r >= x86asm.AX && r <= x86asm.R15W:
		return 16, false
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return 32, false
	}
	return 64, false
}

// callerSaved are the registers a call may change (System V x86-64).
var callerSaved = map[x86asm.Reg]bool{
	x86asm.RAX: true, x86asm.RCX: true, x86asm.RDX: true, x86asm.RSI: true, x86asm.RDI: true,
	x86asm.R8: true, x86asm.R9: true, x86asm.R10: true, x86asm.R11: true,
}

// implicitWriter reports whether op writes general-purpose registers that
// are not its first operand (or may: string operations, multiplications,
// exchanges...).
func implicitWriter(inst x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.MUL, x86asm.DIV, x86asm.IDIV, x86asm.CQO, x86asm.CDQ, x86asm.CWD,
		x86asm.CDQE, x86asm.CWDE, x86asm.CBW, x86asm.CPUID, x86asm.RDTSC, x86asm.RDTSCP,
		x86asm.SYSCALL, x86asm.XCHG, x86asm.CMPXCHG, x86asm.CMPXCHG8B, x86asm.CMPXCHG16B,
		x86asm.XADD, x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ,
		x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ, x86asm.LODSB, x86asm.LODSW,
		x86asm.LODSD, x86asm.LODSQ, x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ, x86asm.ENTER, x86asm.LEAVE,
		x86asm.XGETBV, x86asm.RDPMC, x86asm.RDMSR, x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	case x86asm.IMUL:
		return inst.Args[1] == nil
	}
	return false
}

// reads reports whether op reads its first operand without writing it.
func readsOnly(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.BT, x86asm.PUSH:
		return true
	}
	return isBranch(op)
}

// valueBound is an upper bound of the value the low bits bits of register
// r hold when insts[use] executes, from the instructions before it on the
// straight path that must have run (no jump lands in between), or
// unbounded. It follows copies and the operations that bound a value: a
// zero extension from a byte or a word, an and with a constant, a shift
// right by a constant, a constant, a 32-bit write (which clears the upper
// half).
func valueBound(insts []decoded, use int, r x86asm.Reg, bits int, lands func(uint64) bool, depth int) uint64 {
	limit := widthMax(bits)
	fam := family(r)
	if fam == 0 || depth > 8 {
		return limit
	}
	// Guards met on the way whose compare is of another register: a copy
	// of it made before the guard is bounded by it too.
	var guards []guardFact
	for j := use - 1; j >= 0 && use-j <= 48; j-- {
		if lands(insts[j+1].at) {
			return limit // another path joins here
		}
		in := insts[j].inst
		if g, ok := guardBound(insts, j, lands); ok {
			if g.fam == fam && g.bits >= bits {
				return min(g.bound, limit)
			}
			guards = append(guards, g)
			continue
		}
		switch {
		case in.Op == x86asm.JMP || in.Op == x86asm.RET || in.Op == x86asm.UD2 || in.Op == x86asm.HLT:
			return limit // insts[j+1] is reached only by a jump
		case in.Op == x86asm.CALL:
			if callerSaved[fam] {
				return limit
			}
			continue
		case in.Op == x86asm.CDQE && fam == x86asm.RAX:
			// movslq %eax,%rax: an index below 2^31 keeps its value.
			if v := valueBound(insts, j, x86asm.EAX, 32, lands, depth+1); v < 1<<31 {
				return min(v, limit)
			}
			return limit
		case implicitWriter(in):
			return limit
		case readsOnly(in.Op):
			continue
		}
		dst, ok := in.Args[0].(x86asm.Reg)
		if !ok || family(dst) != fam {
			continue
		}
		dbits, high := regBits(dst)
		if high {
			if bits <= 8 {
				continue // %ah does not change %al
			}
			return limit
		}
		if dbits < bits && dbits < 32 {
			return limit // a byte or word write keeps the upper bits, unknown
		}
		v := writeBound(insts, j, in, dst, dbits, lands, depth)
		if src, ok := in.Args[1].(x86asm.Reg); ok && (in.Op == x86asm.MOV || in.Op == x86asm.MOVZX || in.Op == x86asm.MOVSXD) {
			sb, _ := regBits(src)
			for _, g := range guards {
				if g.fam == family(src) && g.bits >= sb && g.bound < 1<<31 && !writesFamily(insts[j+1:g.at], g.fam) {
					v = min(v, g.bound)
				}
			}
		}
		if dbits == 32 && v > widthMax(32) {
			v = widthMax(32) // a 32-bit write clears the upper half
		}
		return min(v, limit)
	}
	return limit
}

// guardFact is what a compare and the conditional branch after it say of
// a register on the branch's fall-through side: its low bits bits are at
// most bound. at is the compare's position.
type guardFact struct {
	fam   x86asm.Reg
	bits  int
	bound uint64
	at    int
}

// guardBound reads the bound a conditional branch at insts[j] puts on its
// fall-through side: after cmp $N,%r, ja elsewhere leaves %r <= N, jae
// leaves %r <= N-1 (unsigned: a negative index is out of range too); after
// test $~(2^k-1),%r, jne elsewhere leaves %r <= 2^k-1. The compare must be
// what sets the flags the branch reads: it is the instruction before, and
// nothing lands on the branch.
func guardBound(insts []decoded, j int, lands func(uint64) bool) (guardFact, bool) {
	op := insts[j].inst.Op
	if op != x86asm.JA && op != x86asm.JAE && op != x86asm.JNE || j == 0 || lands(insts[j].at) {
		return guardFact{}, false
	}
	c := insts[j-1].inst
	r, ok := c.Args[0].(x86asm.Reg)
	imm, ok2 := c.Args[1].(x86asm.Imm)
	if !ok || !ok2 {
		return guardFact{}, false
	}
	rb, high := regBits(r)
	if high {
		return guardFact{}, false
	}
	var bound uint64
	switch {
	case c.Op == x86asm.TEST && op == x86asm.JNE:
		// test $0xfffffff0,%eax; jne away: %eax <= 15.
		n, ok := maskBound(r, imm)
		if !ok {
			return guardFact{}, false
		}
		bound = n
	case c.Op == x86asm.CMP && op == x86asm.JA && imm >= 0:
		bound = uint64(imm)
	case c.Op == x86asm.CMP && op == x86asm.JAE && imm >= 1:
		bound = uint64(imm) - 1
	default:
		return guardFact{}, false
	}
	return guardFact{fam: family(r), bits: rb, bound: bound & widthMax(rb), at: j - 1}, true
}

// writesFamily reports whether any of insts may write a register of family
// fam.
func writesFamily(insts []decoded, fam x86asm.Reg) bool {
	for _, d := range insts {
		in := d.inst
		switch {
		case in.Op == x86asm.CALL:
			if callerSaved[fam] {
				return true
			}
			continue
		case implicitWriter(in):
			return true
		case readsOnly(in.Op):
			continue
		}
		if dst, ok := in.Args[0].(x86asm.Reg); ok && family(dst) == fam {
			return true
		}
	}
	return false
}

// writeBound bounds the value instruction insts[j] writes into dst.
func writeBound(insts []decoded, j int, in x86asm.Inst, dst x86asm.Reg, dbits int, lands func(uint64) bool, depth int) uint64 {
	src := in.Args[1]
	switch in.Op {
	case x86asm.MOVSXD, x86asm.MOVSX:
		// A sign extension keeps a value below the source's sign bit.
		if s, ok := src.(x86asm.Reg); ok {
			sb, _ := regBits(s)
			if v := valueBound(insts, j, s, sb, lands, depth+1); v < 1<<uint(sb-1) {
				return v
			}
		}
		return widthMax(dbits)
	case x86asm.MOVZX:
		switch s := src.(type) {
		case x86asm.Reg:
			sb, _ := regBits(s)
			return valueBound(insts, j, s, sb, lands, depth+1)
		case x86asm.Mem:
			return widthMax(8 * in.MemBytes)
		}
	case x86asm.MOV:
		switch s := src.(type) {
		case x86asm.Imm:
			if s >= 0 {
				return uint64(s) & widthMax(dbits)
			}
		case x86asm.Reg:
			sb, _ := regBits(s)
			if sb > dbits {
				sb = dbits
			}
			return valueBound(insts, j, s, sb, lands, depth+1)
		}
	case x86asm.XOR, x86asm.SUB:
		if s, ok := src.(x86asm.Reg); ok && s == dst {
			return 0
		}
	case x86asm.AND:
		prev := valueBound(insts, j, dst, dbits, lands, depth+1)
		switch s := src.(type) {
		case x86asm.Imm:
			if s >= 0 && uint64(s) < prev {
				return uint64(s)
			}
		case x86asm.Reg:
			if v := valueBound(insts, j, s, dbits, lands, depth+1); v < prev {
				return v
			}
		}
		return prev
	case x86asm.SHR:
		if n, ok := src.(x86asm.Imm); ok && n >= 0 && n < 64 {
			return valueBound(insts, j, dst, dbits, lands, depth+1) >> uint(n)
		}
	}
	return widthMax(dbits)
}
