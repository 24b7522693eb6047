package elfacts

import (
	"bytes"
	"debug/elf"
	"strconv"

	"golang.org/x/arch/x86/x86asm"
)

// A call of the bounds handler counts as a check only when it is tied to
// one: the code that calls it (its block: the straight run of instructions
// ending in the call) is entered only from conditional branches that
// follow a compare with a constant (or a register: a variable-length
// array's bound), on the side where the compared value is out of range,
// and the record it passes (%rdi: OutOfBoundsData, whose third word points
// to the array's type, named like 'int [4]') names an array at least as
// long as the largest index the compare lets through. The function that
// holds such a branch is the checked one (gcc moves the handler calls of
// -O2 code into the function's .cold part: the branch stays in the
// function). A call from anywhere else, however the callee halts, checks
// nothing: a program that defines a handler of its own and calls it away
// from its indexes is not taken for a checked one.

// branchRef is one direct jump, by where it lands: the function it is in
// and, for a conditional branch that follows a compare, what it compares.
type branchRef struct {
	sc *boundsScan
	op x86asm.Op
	// cmp: the branch follows a cmp of a register with a constant
	// (imm) or with another register (reg); mask: a test of the register
	// with the complement of imm-1 (clang's index < 16 is test
	// $0xfffffff0: out of range when any bit is set).
	cmp, reg, mask bool
	imm            int64
}

// linkage is what the functions' jumps say about each other: the places
// jumps from another function land (entries), and every direct jump by
// its target.
type linkage struct {
	entries map[uint64]bool
	jumps   map[uint64][]branchRef
}

func newLinkage() *linkage {
	return &linkage{entries: map[uint64]bool{}, jumps: map[uint64][]branchRef{}}
}

// compareBefore reports what the compare that sets the flags of the
// conditional branch at insts[j] compares: a register with a constant, or
// two registers. Between them may stand only instructions that leave the
// flags alone (copies, address loads, other conditional branches: gcc
// tests one compare's flags twice, and moves the handler's arguments in
// between).
func compareBefore(insts []decoded, j int) (cmp, reg, mask bool, imm int64) {
	for i := j - 1; i >= 0 && j-i <= 8; i-- {
		c := insts[i].inst
		if c.Op != x86asm.CMP && c.Op != x86asm.TEST {
			if keepsFlags(c.Op) {
				continue
			}
			return false, false, false, 0
		}
		r, ok := c.Args[0].(x86asm.Reg)
		if !ok {
			return false, false, false, 0
		}
		switch a := c.Args[1].(type) {
		case x86asm.Imm:
			if c.Op == x86asm.TEST {
				if n, ok := maskBound(r, a); ok {
					return true, false, true, int64(n) + 1
				}
				return false, false, false, 0
			}
			return true, false, false, int64(a)
		case x86asm.Reg:
			return c.Op == x86asm.CMP, c.Op == x86asm.CMP, false, 0
		}
		return false, false, false, 0
	}
	return false, false, false, 0
}

// maskBound reads test $M,%r where M sets every bit of r's width above the
// low k: the bits clear (the zero flag set) means r <= 2^k-1, the bound.
func maskBound(r x86asm.Reg, m x86asm.Imm) (uint64, bool) {
	rb, high := regBits(r)
	if high {
		return 0, false
	}
	full := widthMax(rb)
	low := ^uint64(m) & full
	if low == full || low&(low+1) != 0 {
		return 0, false
	}
	return low, true
}

// keepsFlags reports whether op leaves the arithmetic flags as they were.
func keepsFlags(op x86asm.Op) bool {
	switch op {
	case x86asm.MOV, x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD, x86asm.LEA, x86asm.PUSH, x86asm.POP,
		x86asm.NOP, x86asm.MOVAPS, x86asm.MOVUPS, x86asm.MOVAPD, x86asm.MOVUPD, x86asm.MOVDQA,
		x86asm.MOVDQU, x86asm.MOVQ, x86asm.MOVD, x86asm.PXOR, x86asm.XORPS:
		return true
	}
	return isBranch(op) && op != x86asm.JMP && op != x86asm.LOOP && op != x86asm.LOOPE && op != x86asm.LOOPNE
}

// allowed reports whether a branch is a bounds guard seen from the
// handler's side: taken says whether the handler's block is the branch's
// target (the branch is taken when the index is out of range: ja, jae) or
// its fall-through (jbe, jb skip the handler). An unsigned compare with a
// constant or a register: a signed or an equality test lets a negative
// index through.
//
// The constant is not compared with the record's array length: clang
// rewrites the compare (sqlite's Bitvec indexes aBitmap[i/8] and compares
// i with 8 times the length), so only the record's being one is checked.
func (b branchRef) allowed(taken bool) bool {
	if !b.cmp || !b.reg && b.imm < 0 {
		return false
	}
	if b.mask {
		return taken && b.op == x86asm.JNE || !taken && b.op == x86asm.JE
	}
	if taken {
		return b.op == x86asm.JA || b.op == x86asm.JAE
	}
	return b.op == x86asm.JBE || b.op == x86asm.JB
}

// tie decides whether the handler call at sc.insts[i] is a tied check,
// and marks the functions whose branches guard it as checked. record
// reads the length of the array an OutOfBoundsData record at an address
// names (ok false when it is no such record).
func (sc *boundsScan) tie(i int, link *linkage, record func(uint64) (length int64, ok bool)) bool {
	insts := sc.insts
	// The block: back from the call over straight-line instructions, to
	// where a jump lands or the previous instruction ends a path.
	k := i
	for k > 0 && i-k < 12 && !sc.targets[insts[k].at] && !link.entries[insts[k].at] {
		p := insts[k-1].inst
		if p.Op == x86asm.CALL || p.Op == x86asm.RET || isBranch(p.Op) || p.Op == x86asm.UD2 || p.Op == x86asm.HLT {
			break
		}
		k--
	}
	// The record: %rdi at the call, a rip-relative address (directly or
	// through one register written in the block).
	rec := uint64(0)
	for j := i - 1; j >= k; j-- {
		in := insts[j].inst
		dst, ok := in.Args[0].(x86asm.Reg)
		if !ok || family(dst) != x86asm.RDI {
			continue
		}
		src := in.Args[1]
		if in.Op == x86asm.MOV {
			if r, ok := src.(x86asm.Reg); ok {
				for j2 := j - 1; j2 >= k; j2-- {
					if d, ok := insts[j2].inst.Args[0].(x86asm.Reg); ok && family(d) == family(r) {
						if insts[j2].inst.Op == x86asm.LEA {
							rec = ripTarget(insts[j2])
						}
						break
					}
				}
			}
		} else if in.Op == x86asm.LEA {
			rec = ripTarget(insts[j])
		}
		break
	}
	if rec == 0 {
		return false
	}
	if _, ok := record(rec); !ok {
		return false
	}
	// An index the compiler knows out of range on this path (a constant
	// in %rsi): the call is the check, whatever led there.
	for j := i - 1; j >= k; j-- {
		in := insts[j].inst
		if dst, ok := in.Args[0].(x86asm.Reg); ok && family(dst) == x86asm.RSI {
			_, imm := in.Args[1].(x86asm.Imm)
			if imm && in.Op == x86asm.MOV || in.Op == x86asm.XOR && in.Args[1] == dst {
				sc.fn.Checked = true
				return true
			}
			break
		}
	}
	// Every way into the block must be a guard's out-of-range side.
	type guard struct {
		ref   branchRef
		taken bool
	}
	var guards []guard
	// Falling into the block from anything but a conditional branch
	// (after a call that does not return, or unconditionally) only
	// halts on that path: it is no guard, and weakens none.
	if k > 0 {
		if p := insts[k-1].inst; isBranch(p.Op) && p.Op != x86asm.JMP {
			cmp, reg, mask, imm := compareBefore(insts, k-1)
			guards = append(guards, guard{branchRef{sc: sc, op: p.Op, cmp: cmp, reg: reg, mask: mask, imm: imm}, false})
		}
	}
	for _, j := range link.jumps[insts[k].at] {
		guards = append(guards, guard{j, true})
	}
	if len(guards) == 0 {
		return false
	}
	for _, g := range guards {
		if !g.ref.allowed(g.taken) {
			return false
		}
	}
	for _, g := range guards {
		g.ref.sc.fn.Checked = true
	}
	return true
}

// ripTarget is the address a rip-relative lea loads, or 0.
func ripTarget(d decoded) uint64 {
	m, ok := d.inst.Args[1].(x86asm.Mem)
	if !ok || m.Base != x86asm.RIP || m.Index != 0 {
		return 0
	}
	return d.at + uint64(d.inst.Len) + uint64(m.Disp)
}

// arrayLength parses the length of the outermost dimension from a ubsan
// type name: 'int [4]' (gcc), 'int[4]' (clang), 'char [3][8]' (3). A
// name without a constant length ('int [*]', a variable-length array)
// gives -1; anything that is not an array type, ok false.
func arrayLength(name []byte) (length int64, ok bool) {
	open := bytes.IndexByte(name, '[')
	if open < 0 {
		return 0, false
	}
	close := bytes.IndexByte(name[open:], ']')
	if close < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(name[open+1:open+close]), 10, 64)
	if err != nil || n <= 0 {
		return -1, true
	}
	return n, true
}

// boundsRecords reads OutOfBoundsData records: the array type's pointer
// (the third word, resolved through the R_X86_64_RELATIVE relocation that
// fills it in a position-independent file) and the length its name gives.
type boundsRecords struct {
	im       *image
	relative map[uint64]uint64 // offset -> addend, read on first use
}

func (br *boundsRecords) length(rec uint64) (int64, bool) {
	im := br.im
	slot := rec + 16
	ptr := uint64(0)
	if br.relative == nil {
		br.relative = map[uint64]uint64{}
		if d := im.dyn; d != nil {
			addr, size := d.one(elf.DT_RELA), d.one(elf.DT_RELASZ)
			if addr != 0 && size != 0 && size/24 <= maxRelocs {
				raw := im.read(addr, size-size%24)
				bo := im.f.ByteOrder
				for i := 0; i+24 <= len(raw); i += 24 {
					if uint32(bo.Uint64(raw[i+8:])) == rX86_64_Relative {
						br.relative[bo.Uint64(raw[i:])] = bo.Uint64(raw[i+16:])
					}
				}
			}
		}
	}
	if a, ok := br.relative[slot]; ok {
		ptr = a
	} else if b := im.read(slot, 8); b != nil {
		ptr = im.f.ByteOrder.Uint64(b)
	}
	if ptr == 0 {
		return 0, false
	}
	var name []byte
	for n := uint64(128); n >= 8 && name == nil; n /= 2 {
		name = im.read(ptr+4, n)
	}
	if name == nil {
		return 0, false
	}
	if n := bytes.IndexByte(name, 0); n >= 0 {
		name = name[:n]
	}
	return arrayLength(name)
}
