package elfacts

import (
	"debug/elf"
	"sort"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/immunix/immunix/formatguard"
)

// judged reports whether calls to name are recorded: the printf family
// and its checkers (package formatguard), and opt.Callees.
func judged(name string, opt Options) bool {
	if _, ok := formatguard.Lookup(name); ok {
		return true
	}
	return strings.HasPrefix(name, formatguard.CheckerPrefix) || opt.Callees[name]
}

// analyzeCalls finds the calls to judged functions: direct calls and tail
// jumps to their PLT stubs or local definitions, calls through their GOT
// slots, and loads of their address. For printf-family calls it follows
// the format argument back through the function's code (a forward
// data-flow over its basic blocks) to a string literal, a FormatGuard
// checker's return value, or something else.
func analyzeCalls(f *elf.File, im *image, funcs []Func, opt Options, over func() bool) (Calls, uint64) {
	calls := Calls{Analyzed: true}
	if f.Type == elf.ET_REL {
		// Calls in an object are relocations resolved at link time.
		calls.Analyzed, calls.Why = false, "relocatable object: its calls are resolved when it is linked; check the linked file"
		return calls, 0
	}
	targets := map[uint64]string{} // call target -> judged function
	defs := map[uint64]bool{}      // call targets that are the file's own definitions
	slots := map[uint64]string{}   // GOT slot -> judged function
	if im.dyn != nil {
		for a, n := range im.dyn.slots {
			if judged(n, opt) {
				slots[a] = n
			}
		}
	}
	// Local definitions, by every name (aliases too).
	syms, _ := f.Symbols()
	dsyms, _ := f.DynamicSymbols()
	for _, s := range append(syms, dsyms...) {
		t := elf.ST_TYPE(s.Info)
		if (t == elf.STT_FUNC || t == elf.STT_GNU_IFUNC) && s.Section != elf.SHN_UNDEF && s.Name != "" && judged(s.Name, opt) {
			targets[s.Value] = s.Name
			defs[s.Value] = true
		}
	}
	if len(syms) == 0 && len(im.dyn.importNames()) == 0 {
		// A stripped file that imports nothing (a stripped static
		// program) defines what it calls without naming it.
		calls.Unresolved = true
	}
	var scanned uint64
	// PLT stubs: "[endbr64] [bnd] jmp *slot(%rip)".
	stubJmp := map[uint64]bool{}
	if len(slots) > 0 {
		var stubs map[uint64]string
		stubs, stubJmp = im.pltStubs(slots)
		for a, n := range stubs {
			targets[a] = n
		}
		for _, reg := range im.code {
			scanned += uint64(len(reg.data))
		}
	}
	if len(targets) == 0 && len(slots) == 0 {
		return calls, scanned
	}
	// Byte-level candidates; the decode of the function confirms them.
	// Every function with a candidate call to the printf family (or its
	// checkers) is analysed; for the other judged functions (FORTIFY) one
	// confirmed call each is enough, so only a few candidates are tried.
	isFmt := func(n string) bool {
		_, ok := formatguard.Lookup(n)
		return ok || strings.HasPrefix(n, formatguard.CheckerPrefix)
	}
	hot := map[int]bool{}
	other := map[string][]int{}
	findFunc := func(a uint64) int {
		i := sort.Search(len(funcs), func(i int) bool { return funcs[i].Addr+funcs[i].Size > a })
		if i < len(funcs) && funcs[i].Addr <= a {
			return i
		}
		return -1
	}
	const triesPerName = 8
	for _, reg := range im.code {
		d := reg.data
		scanned += uint64(len(d))
		for i := 0; i+5 <= len(d); i++ {
			pos := reg.addr + uint64(i)
			name, hit := "", false
			switch d[i] {
			case 0xe8, 0xe9:
				name, hit = targets[pos+5+uint64(int64(int32(le32(d[i+1:]))))]
			case 0xff:
				if i+6 <= len(d) && (d[i+1] == 0x15 || d[i+1] == 0x25) && !stubJmp[pos] {
					name, hit = slots[pos+6+uint64(int64(int32(le32(d[i+2:]))))]
				}
			case 0x48, 0x4c:
				if i+7 <= len(d) && (d[i+1] == 0x8b || d[i+1] == 0x8d) && d[i+2]&0xc7 == 0x05 {
					t := pos + 7 + uint64(int64(int32(le32(d[i+3:]))))
					if name, hit = slots[t]; !hit {
						name, hit = targets[t]
					}
					hit = hit && isFmt(name)
				}
			}
			if !hit {
				continue
			}
			fi := findFunc(pos)
			switch {
			case fi < 0:
			case isFmt(name):
				hot[fi] = true
			case len(other[name]) < triesPerName:
				if l := other[name]; len(l) == 0 || l[len(l)-1] != fi {
					other[name] = append(l, fi)
				}
			}
		}
	}
	done := map[int]bool{}
	seen := map[string]bool{}
	analyse := func(fi int) {
		done[fi] = true
		fn := funcs[fi]
		code := im.codeBytes(fn.Addr, fn.Size)
		scanned += uint64(len(code))
		for _, s := range formatFlow(code, fn.Addr, im, targets, defs, slots, stubJmp) {
			s.Func = fi
			calls.Sites = append(calls.Sites, s)
			seen[s.Callee] = true
		}
	}
	order := make([]int, 0, len(hot))
	for fi := range hot {
		order = append(order, fi)
	}
	sort.Ints(order)
	for k, fi := range order {
		if k%64 == 0 && over() {
			return Calls{Why: budgetWhy}, scanned
		}
		analyse(fi)
	}
	names := make([]string, 0, len(other))
	for n := range other {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, fi := range other[n] {
			if seen[n] || over() {
				break
			}
			if !done[fi] {
				analyse(fi)
			}
		}
	}
	sort.Slice(calls.Sites, func(i, j int) bool { return calls.Sites[i].Addr < calls.Sites[j].Addr })
	return calls, scanned
}

func (d *dynamic) importNames() map[string]bool {
	if d == nil {
		return nil
	}
	return d.imports
}

// Abstract values of the format data-flow.
const (
	valOther   = 0 // anything not known to be safe
	valLiteral = 1 // address of read-only data
	// values >= valChecked: returned by checker (value - valChecked) of
	// checkerNames.
	valChecked = 2
)

var checkerNames = func() []string {
	var out []string
	for _, fn := range formatguard.Wrapped() {
		out = append(out, fn.Checker())
	}
	return out
}()

func checkerValue(name string) int32 {
	for i, n := range checkerNames {
		if n == name {
			return int32(valChecked + i)
		}
	}
	return valOther
}

type slotKey struct {
	base x86asm.Reg
	disp int64
}

type flowState struct {
	reach bool
	regs  [16]int32
	slots map[slotKey]int32
}

func (s flowState) clone() flowState {
	c := s
	if s.slots != nil {
		c.slots = make(map[slotKey]int32, len(s.slots))
		for k, v := range s.slots {
			c.slots[k] = v
		}
	}
	return c
}

// join merges b into a; it reports whether a changed.
func (a *flowState) join(b flowState) bool {
	if !b.reach {
		return false
	}
	if !a.reach {
		*a = b.clone()
		return true
	}
	changed := false
	for i := range a.regs {
		if a.regs[i] != b.regs[i] && a.regs[i] != valOther {
			a.regs[i] = valOther
			changed = true
		}
	}
	for k, v := range a.slots {
		if b.slots[k] != v {
			delete(a.slots, k)
			changed = true
		}
	}
	return changed
}

const (
	maxFlowPasses = 12
	maxFlowSlots  = 64
)

// isPadding reports whether inst is one of the no-ops compilers and
// assemblers align code with (nop, nopw, nopl with any prefixes, xchg
// %ax,%ax).
func isPadding(inst x86asm.Inst) bool {
	switch inst.Op {
	case x86asm.NOP:
		return true
	case x86asm.XCHG:
		a, ok1 := inst.Args[0].(x86asm.Reg)
		b, ok2 := inst.Args[1].(x86asm.Reg)
		return ok1 && ok2 && a == b
	}
	return false
}

// isBranch reports whether op is a jump (conditional or not) or a loop.
func isBranch(op x86asm.Op) bool {
	switch op {
	case x86asm.JMP, x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JNE,
		x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JO, x86asm.JNO, x86asm.JP,
		x86asm.JNP, x86asm.JS, x86asm.JNS, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ,
		x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	}
	return false
}

var argRegs = [6]x86asm.Reg{x86asm.RDI, x86asm.RSI, x86asm.RDX, x86asm.RCX, x86asm.R8, x86asm.R9}

func regIndex(r x86asm.Reg) int {
	f := family(r)
	if f == 0 {
		return -1
	}
	return int(f - x86asm.RAX)
}

// formatFlow decodes one function and returns its calls to judged
// functions, with the origin of the format argument of printf-family
// calls.
func formatFlow(code []byte, base uint64, im *image, targets map[uint64]string, defs map[uint64]bool, slots map[uint64]string, stubJmp map[uint64]bool) []CallSite {
	type ins struct {
		pos  int
		inst x86asm.Inst
	}
	list := make([]ins, 0, len(code)/4+1)
	index := make([]int32, len(code)+1) // byte offset -> instruction index + 1
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
		list = append(list, ins{pc, inst})
		index[pc] = int32(len(list))
		pc += inst.Len
	}
	ripTarget := func(i ins, m x86asm.Mem) uint64 {
		return base + uint64(i.pos) + uint64(i.inst.Len) + uint64(m.Disp)
	}
	// The judged function an instruction transfers control to, if any,
	// and its address when it is the file's own definition.
	callee := func(i ins) (string, uint64) {
		switch a := i.inst.Args[0].(type) {
		case x86asm.Rel:
			t := base + uint64(i.pos) + uint64(i.inst.Len) + uint64(int64(a))
			if defs[t] {
				return targets[t], t
			}
			return targets[t], 0
		case x86asm.Mem:
			if a.Base == x86asm.RIP && a.Index == 0 && !stubJmp[base+uint64(i.pos)] {
				return slots[ripTarget(i, a)], 0
			}
		}
		return "", 0
	}
	// Which instructions a direct branch of this function targets.
	hasIn := make([]bool, len(list))
	for _, i := range list {
		if isBranch(i.inst.Op) {
			if rel, ok := i.inst.Args[0].(x86asm.Rel); ok {
				if t := i.pos + i.inst.Len + int(rel); t >= 0 && t < len(index) && index[t] > 0 {
					hasIn[index[t]-1] = true
				}
			}
		}
	}
	// A forward data-flow to a fixpoint, optimistic: an instruction that a
	// branch targets is not reached until a reached instruction branches
	// or falls through to it (a loop's body is not polluted by "unknown"
	// before its back edge is seen). Instructions nothing known reaches (a
	// jump table's case, a handler after a jmp) start from "nothing known";
	// so do those still unreached at the fixpoint (a loop only a jump
	// table enters), a round at a time, so that every instruction is judged.
	in := make([]*flowState, len(list)) // instruction index -> state from jumps
	seeded := make([]bool, len(list))   // start from "nothing known"
	reached := make([]bool, len(list))
	var sites map[uint64]CallSite
	for pass := 0; ; pass++ {
		final := pass == maxFlowPasses
		if final {
			// No fixpoint within the budget: a last pass where nothing is
			// known anywhere, so every call is found and none is judged
			// safe on facts that were not final.
			for k := range seeded {
				seeded[k] = true
			}
		}
		sites = map[uint64]CallSite{}
		changed := false
		clear(reached)
		st := flowState{reach: true}
		waiting := false // in a run of instructions not reached yet
		for k, i := range list {
			js := in[k]
			if !st.reach && (js == nil || !js.reach) && !seeded[k] && isPadding(i.inst) {
				// Alignment padding after a jump does nothing: it neither
				// needs a state nor gives one to what follows it.
				reached[k] = true
				continue
			}
			switch {
			case seeded[k]:
				st = flowState{reach: true}
			case st.reach && js != nil && js.reach:
				st.join(*js)
			case js != nil && js.reach:
				st = js.clone()
			case !st.reach && !hasIn[k] && !waiting:
				// After a jump, reached by no edge we know: a jump
				// table's case, a handler. Nothing is known there.
				st = flowState{reach: true}
			}
			if waiting = !st.reach; waiting {
				continue // not reached yet: a later pass or round decides
			}
			reached[k] = true
			inst := i.inst
			addr := base + uint64(i.pos)
			name, def := "", uint64(0)
			if inst.Op == x86asm.CALL || inst.Op == x86asm.JMP {
				name, def = callee(i)
			}
			if name != "" {
				cs := CallSite{Callee: name, Addr: addr, Def: def}
				if fn, ok := formatguard.Lookup(name); ok {
					cs.Format = FormatUnchecked
					if fn.FormatIndex < len(argRegs) {
						v := st.regs[regIndex(argRegs[fn.FormatIndex])]
						switch {
						case v == valLiteral:
							cs.Format = FormatLiteral
						case v >= valChecked && checkerNames[v-valChecked] == formatguard.CheckerPrefix+fn.Base:
							cs.Format = FormatChecked
						}
					}
				}
				if _, isFmt := formatguard.Lookup(name); isFmt || !strings.HasPrefix(name, formatguard.CheckerPrefix) {
					sites[addr] = cs
				}
			}
			// Loads of a judged function's address.
			if inst.Op == x86asm.MOV || inst.Op == x86asm.LEA {
				if m, ok := inst.Args[1].(x86asm.Mem); ok && m.Base == x86asm.RIP {
					t := ripTarget(i, m)
					n, def := slots[t], uint64(0)
					if inst.Op == x86asm.LEA {
						n = targets[t]
						if defs[t] {
							def = t
						}
					}
					if _, ok := formatguard.Lookup(n); ok {
						sites[addr] = CallSite{Callee: n, Addr: addr, Format: FormatAddressTaken, Def: def}
					}
				}
			}
			// Branches.
			if isBranch(inst.Op) {
				if rel, ok := inst.Args[0].(x86asm.Rel); ok {
					t := i.pos + inst.Len + int(rel)
					if t >= 0 && t < len(index) && index[t] > 0 {
						tk := int(index[t]) - 1
						js := in[tk]
						if js == nil {
							js = &flowState{}
							in[tk] = js
						}
						if js.join(st) && tk <= k {
							changed = true // a back edge brought new facts
						}
					}
				}
				if inst.Op == x86asm.JMP {
					st.reach = false
				}
				continue
			}
			switch inst.Op {
			case x86asm.RET, x86asm.UD2, x86asm.HLT:
				st.reach = false
				continue
			}
			flowStep(&st, i.pos, inst, base, im, name)
		}
		if final {
			break
		}
		if changed {
			continue
		}
		// A fixpoint. Instructions still unreached start the next round
		// from "nothing known" (the first of each unreached run).
		more := false
		for k := range list {
			if !reached[k] && (k == 0 || reached[k-1]) {
				seeded[k], more = true, true
			}
		}
		if !more {
			break
		}
	}
	out := make([]CallSite, 0, len(sites))
	for _, s := range sites {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// flowStep applies one non-branch instruction to the state.
func flowStep(st *flowState, pos int, inst x86asm.Inst, base uint64, im *image, callee string) {
	if inst.Op == x86asm.CALL {
		for _, r := range []x86asm.Reg{x86asm.RAX, x86asm.RCX, x86asm.RDX, x86asm.RSI, x86asm.RDI, x86asm.R8, x86asm.R9, x86asm.R10, x86asm.R11} {
			st.regs[regIndex(r)] = valOther
		}
		if strings.HasPrefix(callee, formatguard.CheckerPrefix) {
			st.regs[0] = checkerValue(callee)
		}
		return
	}
	if m, ok := inst.Args[0].(x86asm.Mem); ok && (m.Base == x86asm.RSP || m.Base == x86asm.RBP) && st.slots != nil {
		delete(st.slots, slotKey{m.Base, m.Disp}) // overwritten (MOV from a register sets it again)
	}
	dst, isReg := inst.Args[0].(x86asm.Reg)
	di := -1
	if isReg {
		di = regIndex(dst)
	}
	full := isReg && dst >= x86asm.RAX && dst <= x86asm.R15
	switch inst.Op {
	case x86asm.MOV:
		switch src := inst.Args[1].(type) {
		case x86asm.Reg:
			if m, ok := inst.Args[0].(x86asm.Mem); ok {
				if si := regIndex(src); si >= 0 && (m.Base == x86asm.RSP || m.Base == x86asm.RBP) && m.Index == 0 {
					setSlot(st, slotKey{m.Base, m.Disp}, st.regs[si])
				}
				return
			}
			if di >= 0 {
				si := regIndex(src)
				if full && si >= 0 && src >= x86asm.RAX && src <= x86asm.R15 {
					st.regs[di] = st.regs[si]
				} else {
					st.regs[di] = valOther
				}
			}
			return
		case x86asm.Imm:
			if di >= 0 {
				st.regs[di] = valOther
				if im.f != nil && im.f.Type == elf.ET_EXEC && im.readOnly(uint64(src)) {
					st.regs[di] = valLiteral // non-PIE: mov $string,%edi
				}
			}
			return
		case x86asm.Mem:
			if di >= 0 {
				st.regs[di] = valOther
				if full && (src.Base == x86asm.RSP || src.Base == x86asm.RBP) && src.Index == 0 && st.slots != nil {
					st.regs[di] = st.slots[slotKey{src.Base, src.Disp}]
				}
			}
			return
		}
	case x86asm.LEA:
		if di >= 0 {
			st.regs[di] = valOther
			if m, ok := inst.Args[1].(x86asm.Mem); ok && m.Base == x86asm.RIP && full {
				t := base + uint64(pos) + uint64(inst.Len) + uint64(m.Disp)
				if im.readOnly(t) {
					st.regs[di] = valLiteral
				}
			}
		}
		return
	case x86asm.CMOVA, x86asm.CMOVAE, x86asm.CMOVB, x86asm.CMOVBE, x86asm.CMOVE, x86asm.CMOVNE,
		x86asm.CMOVG, x86asm.CMOVGE, x86asm.CMOVL, x86asm.CMOVLE, x86asm.CMOVO, x86asm.CMOVNO,
		x86asm.CMOVP, x86asm.CMOVNP, x86asm.CMOVS, x86asm.CMOVNS:
		if di >= 0 {
			v := valOther
			if src, ok := inst.Args[1].(x86asm.Reg); ok && full {
				if si := regIndex(src); si >= 0 && st.regs[si] == st.regs[di] {
					v = int(st.regs[di])
				}
			}
			st.regs[di] = int32(v)
		}
		return
	case x86asm.CMP, x86asm.TEST, x86asm.PUSH, x86asm.NOP:
		return
	case x86asm.XCHG:
		for _, a := range inst.Args {
			if r, ok := a.(x86asm.Reg); ok {
				if i := regIndex(r); i >= 0 {
					st.regs[i] = valOther
				}
			}
		}
		return
	}
	if di >= 0 {
		st.regs[di] = valOther
	}
}

func setSlot(st *flowState, k slotKey, v int32) {
	if st.slots == nil {
		st.slots = map[slotKey]int32{}
	}
	if len(st.slots) >= maxFlowSlots {
		if _, ok := st.slots[k]; !ok {
			return
		}
	}
	st.slots[k] = v
}

// pltStubs finds the PLT stubs ("[endbr64] [bnd] jmp *slot(%rip)") that
// jump through the GOT slots named in slots: stubs maps both the stub's
// start and its jmp to the slot's name, jmps holds the jmps' addresses.
func (im *image) pltStubs(slots map[uint64]string) (stubs map[uint64]string, jmps map[uint64]bool) {
	stubs, jmps = map[uint64]string{}, map[uint64]bool{}
	for _, reg := range im.code {
		d := reg.data
		for i := 0; i+6 <= len(d); i++ {
			if d[i] != 0xff || d[i+1] != 0x25 {
				continue
			}
			pos := reg.addr + uint64(i)
			n, ok := slots[pos+6+uint64(int64(int32(le32(d[i+2:]))))]
			if !ok {
				continue
			}
			start := pos
			if i >= 1 && d[i-1] == 0xf2 {
				start--
			}
			if j := int(start - reg.addr); j >= 4 && isEndbr(d[j-4:]) {
				start -= 4
			}
			if start%8 == 0 || (i+6 < len(d) && (d[i+6] == 0x68 || d[i+6] == 0x66 || d[i+6] == 0x0f || d[i+6] == 0x90)) {
				jmps[pos] = true
				stubs[start] = n
				stubs[pos] = n
			}
		}
	}
	return stubs, jmps
}
