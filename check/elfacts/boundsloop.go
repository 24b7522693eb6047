package elfacts

import (
	"sort"

	"golang.org/x/arch/x86/x86asm"
)

// The straight-path bound (valueBound) stops where a jump lands, so it
// cannot see a loop's bound: the index of `for (i = 0; i < 31; i++)
// a[i]` meets the loop's back edge at every access. rangeOf follows one
// register through the whole function instead, as an interval of unsigned
// values per instruction, from the function's entry and along every jump:
// constants, adds and subtracts of constants, masks, zero extensions, and
// the compares the conditional branches test (cmp $N then ja/jae/jb/jbe/
// je/jne, signed ones where the value is known non-negative). At the
// places several paths join, a growing bound is widened to the next of the
// function's own compare constants (N-1, N, N+1), then to unbounded, so
// the walk ends. Anything it does not model writes "unbounded".

// interval is a set of unsigned 64-bit values [lo, hi]; empty marks code
// not reached (yet).
type interval struct {
	lo, hi uint64
	empty  bool
}

var (
	top    = interval{0, unbounded, false}
	bottom = interval{empty: true}
)

func (a interval) join(b interval) interval {
	switch {
	case a.empty:
		return b
	case b.empty:
		return a
	}
	return interval{min(a.lo, b.lo), max(a.hi, b.hi), false}
}

// clamp intersects a with [lo, hi].
func (a interval) clamp(lo, hi uint64) interval {
	if a.empty {
		return a
	}
	a.lo, a.hi = max(a.lo, lo), min(a.hi, hi)
	if a.lo > a.hi {
		return bottom
	}
	return a
}

// rangeOf computes, for every instruction of the function, the interval
// register family fam holds when it executes. It returns nil when the
// function's control flow is not known (a jump table, a jump into the
// middle of an instruction).
func (sc *boundsScan) rangeOf(fam x86asm.Reg, entries map[uint64]bool) []interval {
	insts := sc.insts
	if sc.indirect || len(insts) == 0 {
		return nil
	}
	at := make(map[uint64]int, len(insts))
	for i, d := range insts {
		at[d.at] = i
	}
	end := insts[len(insts)-1].at + uint64(insts[len(insts)-1].inst.Len)
	// Successors, and the joins (instructions more than one path reaches).
	type edge struct {
		to int
		// branch: the edge is a conditional branch's, taken or not.
		branch, taken bool
	}
	succ := make([][]edge, len(insts))
	preds := make([]int, len(insts))
	for i, d := range insts {
		in := d.inst
		next := d.at + uint64(in.Len)
		target := -1
		if rel, ok := in.Args[0].(x86asm.Rel); ok && in.Op != x86asm.CALL {
			t := next + uint64(int64(rel))
			if t >= insts[0].at && t < end {
				j, ok := at[t]
				if !ok {
					return nil // into the middle of an instruction
				}
				target = j
			}
		}
		conditional := isBranch(in.Op) && in.Op != x86asm.JMP
		switch {
		case in.Op == x86asm.JMP:
			if target >= 0 {
				succ[i] = append(succ[i], edge{to: target})
			}
		case in.Op == x86asm.RET || in.Op == x86asm.UD2 || in.Op == x86asm.HLT:
		case conditional:
			if target >= 0 {
				succ[i] = append(succ[i], edge{to: target, branch: true, taken: true})
			}
			if i+1 < len(insts) {
				succ[i] = append(succ[i], edge{to: i + 1, branch: true})
			}
		default:
			if i+1 < len(insts) {
				succ[i] = append(succ[i], edge{to: i + 1})
			}
		}
		for _, e := range succ[i] {
			preds[e.to]++
		}
	}
	// joined: another path reaches insts[i] (a jump lands there), so the
	// flags a branch there tests may not come from the compare before it.
	joined := func(i int) bool { return preds[i] > 1 || entries[insts[i].at] }
	// The widening thresholds: the function's compare constants.
	var thresholds []uint64
	for _, d := range insts {
		if d.inst.Op == x86asm.CMP {
			if c, ok := d.inst.Args[1].(x86asm.Imm); ok && c >= 0 {
				thresholds = append(thresholds, uint64(c)-1, uint64(c), uint64(c)+1)
			}
		}
	}
	sort.Slice(thresholds, func(i, j int) bool { return thresholds[i] < thresholds[j] })
	widen := func(hi uint64) uint64 {
		k := sort.Search(len(thresholds), func(i int) bool { return thresholds[i] >= hi })
		if k < len(thresholds) {
			return thresholds[k]
		}
		return unbounded
	}

	in := make([]interval, len(insts))
	for i := range in {
		in[i] = bottom
	}
	work := []int{0}
	in[0] = top
	for i, d := range insts {
		if entries[d.at] {
			in[i] = top // reached from another function
			work = append(work, i)
		}
	}
	queued := make([]bool, len(insts))
	for _, i := range work {
		queued[i] = true
	}
	for steps := 0; len(work) > 0; steps++ {
		if steps > 64*len(insts)+1024 {
			return nil // not settling: give up rather than hang
		}
		i := work[len(work)-1]
		work = work[:len(work)-1]
		queued[i] = false
		out := transfer(insts[i].inst, in[i], fam)
		for _, e := range succ[i] {
			v := out
			if e.branch {
				v = refine(insts, i, fam, v, e.taken, joined)
			}
			old := in[e.to]
			nv := old.join(v)
			if nv == old {
				continue
			}
			if preds[e.to] > 1 && !old.empty {
				if nv.hi > old.hi {
					nv.hi = widen(nv.hi)
				}
				if nv.lo < old.lo {
					nv.lo = 0
				}
			}
			in[e.to] = nv
			if !queued[e.to] {
				queued[e.to] = true
				work = append(work, e.to)
			}
		}
	}
	return in
}

// transfer is the interval of fam after inst, from v before it.
func transfer(inst x86asm.Inst, v interval, fam x86asm.Reg) interval {
	if v.empty {
		return v
	}
	switch {
	case inst.Op == x86asm.CALL:
		if callerSaved[fam] {
			return top
		}
		return v
	case inst.Op == x86asm.CDQE && fam == x86asm.RAX:
		if v.hi < 1<<31 {
			return v
		}
		return top
	case implicitWriter(inst):
		return top
	case readsOnly(inst.Op) || isBranch(inst.Op):
		return v
	}
	dst, ok := inst.Args[0].(x86asm.Reg)
	if !ok || family(dst) != fam {
		return v
	}
	bits, high := regBits(dst)
	if high || bits < 32 {
		return top // a byte or word write keeps unknown upper bits
	}
	limit := widthMax(bits)
	if v.hi > limit {
		v = interval{0, limit, false} // a 32-bit operation reads the low half
	}
	src := inst.Args[1]
	imm, isImm := src.(x86asm.Imm)
	switch inst.Op {
	case x86asm.MOV:
		if isImm && imm >= 0 {
			c := uint64(imm) & limit
			return interval{c, c, false}
		}
	case x86asm.XOR, x86asm.SUB:
		if r, ok := src.(x86asm.Reg); ok && r == dst {
			return interval{0, 0, false}
		}
		if inst.Op == x86asm.SUB && isImm && imm > 0 && v.lo >= uint64(imm) {
			return interval{v.lo - uint64(imm), v.hi - uint64(imm), false}
		}
	case x86asm.ADD:
		if isImm && imm > 0 && v.hi <= limit-uint64(imm) {
			return interval{v.lo + uint64(imm), v.hi + uint64(imm), false}
		}
	case x86asm.INC:
		if v.hi < limit {
			return interval{v.lo + 1, v.hi + 1, false}
		}
	case x86asm.DEC:
		if v.lo >= 1 {
			return interval{v.lo - 1, v.hi - 1, false}
		}
	case x86asm.LEA:
		// lea N(%r),%r: an add.
		if m, ok := src.(x86asm.Mem); ok && family(m.Base) == fam && m.Index == 0 && m.Segment == 0 && m.Disp > 0 && v.hi <= limit-uint64(m.Disp) {
			return interval{v.lo + uint64(m.Disp), v.hi + uint64(m.Disp), false}
		}
	case x86asm.AND:
		if isImm && imm >= 0 {
			return interval{0, min(v.hi, uint64(imm)), false}
		}
	case x86asm.SHR:
		if isImm && imm >= 0 && imm < 64 {
			return interval{v.lo >> uint(imm), v.hi >> uint(imm), false}
		}
	case x86asm.MOVZX:
		w := 0
		switch s := src.(type) {
		case x86asm.Reg:
			w, _ = regBits(s)
		case x86asm.Mem:
			w = 8 * inst.MemBytes
		}
		if w > 0 && w < 32 {
			return interval{0, widthMax(w), false}
		}
	}
	return interval{0, limit, false}
}

// refine narrows v, fam's interval after the conditional branch insts[i],
// to the values for which the branch goes the way taken says, when the
// flags it tests come from a compare of fam with a constant (or a test
// with a mask) that fam was not written after, on a path no other joins.
func refine(insts []decoded, i int, fam x86asm.Reg, v interval, taken bool, joined func(int) bool) interval {
	if v.empty {
		return v
	}
	op := insts[i].inst.Op
	var c x86asm.Inst
	found := false
	for j := i - 1; j >= 0 && i-j <= 8; j-- {
		if joined(j + 1) {
			return v // another path joins between the compare and the branch
		}
		in := insts[j].inst
		if in.Op == x86asm.CMP || in.Op == x86asm.TEST {
			c, found = in, true
			break
		}
		if !keepsFlags(in.Op) {
			return v
		}
		if dst, ok := in.Args[0].(x86asm.Reg); ok && family(dst) == fam && !isBranch(in.Op) {
			return v // fam changed after the compare
		}
	}
	if !found {
		return v
	}
	r, ok := c.Args[0].(x86asm.Reg)
	imm, ok2 := c.Args[1].(x86asm.Imm)
	if !ok || !ok2 || family(r) != fam {
		return v
	}
	bits, high := regBits(r)
	if high || v.hi > widthMax(bits) {
		return v // the compare sees only the low bits
	}
	if c.Op == x86asm.TEST {
		low, ok := maskBound(r, imm)
		if ok && (op == x86asm.JE && taken || op == x86asm.JNE && !taken) {
			return v.clamp(0, low)
		}
		return v
	}
	if imm < 0 {
		return v
	}
	n := uint64(imm) & widthMax(bits)
	// A signed compare orders as an unsigned one while the value is
	// non-negative.
	if u, ok := unsignedBranch[op]; ok && v.hi < 1<<uint(bits-1) && n < 1<<uint(bits-1) {
		op = u
	}
	// Not taken is taken of the opposite test.
	if !taken {
		o, ok := oppositeBranch[op]
		if !ok {
			return v
		}
		op = o
	}
	switch op {
	case x86asm.JA:
		if n == unbounded {
			return bottom
		}
		return v.clamp(n+1, unbounded)
	case x86asm.JAE:
		return v.clamp(n, unbounded)
	case x86asm.JB:
		if n == 0 {
			return bottom
		}
		return v.clamp(0, n-1)
	case x86asm.JBE:
		return v.clamp(0, n)
	case x86asm.JE:
		return v.clamp(n, n)
	case x86asm.JNE:
		switch {
		case v.lo == n && v.hi == n:
			return bottom
		case v.hi == n:
			v.hi--
		case v.lo == n:
			v.lo++
		}
		return v
	}
	return v
}

// unsignedBranch is the unsigned branch that orders as a signed one does
// on non-negative values.
var unsignedBranch = map[x86asm.Op]x86asm.Op{
	x86asm.JG: x86asm.JA, x86asm.JGE: x86asm.JAE, x86asm.JL: x86asm.JB, x86asm.JLE: x86asm.JBE,
}

// oppositeBranch is the branch taken exactly when the other is not.
var oppositeBranch = map[x86asm.Op]x86asm.Op{
	x86asm.JA: x86asm.JBE, x86asm.JBE: x86asm.JA, x86asm.JAE: x86asm.JB, x86asm.JB: x86asm.JAE,
	x86asm.JE: x86asm.JNE, x86asm.JNE: x86asm.JE,
}
