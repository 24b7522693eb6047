package elfacts

import (
	"bytes"
	"debug/elf"
	"sort"

	"golang.org/x/arch/x86/x86asm"
)

// FuncClass is what the code of one function shows about its stack canary.
type FuncClass string

// The function classes.
const (
	// Protected: the function reads the canary from %fs:0x28 (glibc's
	// tcbhead_t.stack_guard on x86-64), which only stack-protector code
	// (and glibc's own thread set-up) does.
	Protected FuncClass = "protected"
	// NeedsNone: no canary, and under -fstack-protector-strong's rules it
	// needs none: the code never takes the address of its stack frame (no
	// lea of an %rsp- or frame-pointer-based slot, no indexed access to the
	// stack, no variable-sized stack allocation, no copy of %rsp into
	// another register while it has a frame).
	NeedsNone FuncClass = "needs-none"
	// Missing: no canary, yet the code takes the address of its own stack
	// frame, which is what arrays, address-taken locals and alloca compile
	// to: -fstack-protector-strong would have protected it.
	Missing FuncClass = "missing"
	// Undecodable: too much of the function failed to disassemble to say.
	Undecodable FuncClass = "undecodable"
)

// Func is one analysed function.
type Func struct {
	Name string `json:"name,omitempty"`
	// File is the source file a local (static) function came from: the
	// STT_FILE symbol that heads its group in .symtab.
	File  string    `json:"file,omitempty"`
	Addr  uint64    `json:"addr"`
	Size  uint64    `json:"size"`
	Class FuncClass `json:"class"`
	// Why names the first instruction that made the function need a canary.
	Why string `json:"why,omitempty"`
	// Guessed: no symbol and no unwind entry covers this code; it was
	// found by sweeping the executable segments, so its boundaries (and
	// whether it is code at all) are a guess.
	Guessed bool `json:"guessed,omitempty"`
	// Toolchain: Options.Toolchain recognised the function's code as the
	// toolchain's (a static program's libc), by content.
	Toolchain bool `json:"toolchain,omitempty"`
}

// Canary is the per-function stack protector analysis of one file.
type Canary struct {
	// Analyzed is false when the code could not be analysed; Why says why.
	Analyzed bool
	Why      string
	// Source is where the function boundaries came from: "symtab",
	// "dynsym", "eh_frame" (the unwind table, which stripping keeps,
	// found through PT_GNU_EH_FRAME), "sweep" (code covered by none of
	// them), joined with "+"; "none" for a file with no code of its own.
	Source string
	Funcs  []Func
	// Counts per class.
	Protected, NeedsNone, Missing, Undecodable int
	// GuessedBytes is the size of the code no symbol or unwind entry
	// covers (padding and PLT stubs left out), in Guessed functions.
	// GuessedOver: there was more than the sweep splits and classifies
	// (64 KiB); GuessedBytes is then what it had seen when it stopped.
	GuessedBytes uint64
	GuessedOver  bool
	// CodeBytes is the size of the executable code read; Decoded counts
	// the bytes the analysis decoded or scanned, which the per-file work
	// bound keeps proportional to CodeBytes.
	CodeBytes, Decoded uint64
	// ChkFail: the file references __stack_chk_fail (imported or defined).
	// Reported for comparison with symbol-based tools, never used to decide.
	ChkFail bool
}

// MissingFuncs returns the functions classified Missing.
func (c Canary) MissingFuncs() []Func {
	var out []Func
	for _, f := range c.Funcs {
		if f.Class == Missing {
			out = append(out, f)
		}
	}
	return out
}

// funcRange is a function's extent before analysis.
type funcRange struct {
	name, file string
	addr, size uint64
	// guessed: found by sweeping code that no symbol or unwind entry
	// covers; its boundaries are a guess.
	guessed bool
}

// maxStubCode is the most code a file may have and still count as having no
// functions of its own: crtstuff's deregister_tm_clones, register_tm_clones,
// __do_global_dtors_aux and frame_dummy take under 200 bytes on x86-64.
const maxStubCode = 256

// StubAllowance is how much guessed code (covered by no symbol and no
// unwind entry: _init, _fini) a file may have before the gate says it
// cannot tell where its functions are.
const StubAllowance = maxStubCode

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// symtabFuncs lists defined STT_FUNC/IFUNC symbols with a size, one per
// address (aliases dropped), in address order. For relocatable objects the
// address is section-relative and the section index is kept in the name
// lookup by codeReader.
func symtabFuncs(f *elf.File) []funcRange {
	syms, err := f.Symbols()
	if err != nil {
		return nil
	}
	var out []funcRange
	file := ""
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		if t == elf.STT_FILE {
			file = s.Name
			continue
		}
		if elf.ST_BIND(s.Info) != elf.STB_LOCAL {
			file = "" // globals follow the locals and belong to no group
		}
		if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Size == 0 || s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE {
			continue
		}
		addr := s.Value
		if f.Type == elf.ET_REL {
			if int(s.Section) >= len(f.Sections) {
				continue
			}
			// Relocatable objects: give each section a distinct fake base
			// so that codeReader can find it again.
			addr = relBase(int(s.Section)) + s.Value
		}
		out = append(out, funcRange{name: s.Name, file: file, addr: addr, size: s.Size})
	}
	return out
}

func relBase(section int) uint64 { return uint64(section) << 40 }

// dedupe sorts rs by address and keeps one range per address: the first
// listed (symtab before dynsym before eh_frame), with the largest size.
func dedupe(rs []funcRange) []funcRange {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].addr < rs[j].addr })
	out := rs[:0]
	for _, r := range rs {
		if len(out) > 0 && out[len(out)-1].addr == r.addr {
			if r.size > out[len(out)-1].size {
				out[len(out)-1].size = r.size
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// clip makes sorted, deduplicated ranges disjoint: each ends at the next
// one's start at the latest. Overlapping symbols (a forger can give
// thousands of them sizes that cover the whole text) then cost one decode
// of each byte, not one per symbol.
func clip(rs []funcRange) {
	for i := range rs {
		if i+1 < len(rs) && rs[i].size > rs[i+1].addr-rs[i].addr {
			rs[i].size = rs[i+1].addr - rs[i].addr
		}
	}
}

// ClassifyCode classifies one x86-64 function's machine code. It is exported
// for tests and fuzzing; Read calls it for every function.
//
// The rule approximates -fstack-protector-strong from the outside: GCC and
// Clang protect a function with any local array, any local variable whose
// address is taken, or alloca; all three leave the same trace in the code,
// an address computed from the stack pointer (or from the frame pointer,
// when the function set one up with "mov %rsp,%rbp"). Register-only and
// scalar-only functions compute no such address.
//
// Two refinements keep the rule honest. The address of a spilled parameter
// (a slot the prologue filled straight from an argument register, as for
// "f(int x) { g(&x); }") does not count: -strong looks at local variables
// only, so GCC leaves such functions unprotected. And copying %rsp into a
// register counts only when the function has a frame of its own (crt1's
// _start copies %rsp to pass argv, with no locals at all).
func ClassifyCode(code []byte) (FuncClass, string) {
	if hasCanaryInstruction(code) {
		return Protected, ""
	}
	if len(code) > 0 && !mayTouchFrame(code) {
		return NeedsNone, ""
	}
	type stackRef struct {
		disp, depth int64 // displacement from %rsp, and the depth where seen
		what        string
	}
	var (
		canary   bool
		why      string     // first frame-pointer based reason
		refs     []stackRef // %rsp-based candidates, judged at the end
		movRSP   string     // "mov %rsp,reg" seen; counts only with a frame
		frame    bool       // the function allocates stack ("sub $n,%rsp")
		usesFP   bool       // "mov %rsp,%rbp" seen: %rbp is the frame pointer
		bad, n   int
		depth    int64 // bytes pushed or allocated since entry, tracked linearly
		maxDepth int64 // the deepest the function goes: its frame size
		inProlo  = true
		popped   bool // a pop before any push: not a prologue
		// Parameter slots: entry-relative offsets (rsp) or frame-pointer
		// offsets (rbp) filled from a still-untouched argument register.
		paramRSP  = map[int64]bool{}
		paramRBP  = map[int64]bool{}
		clobbered [16]bool
	)
	isRSP := func(r x86asm.Reg) bool { return r == x86asm.RSP || r == x86asm.ESP }
	isFP := func(r x86asm.Reg) bool { return usesFP && (r == x86asm.RBP || r == x86asm.EBP) }
	// fpLocal: a frame-pointer slot below the saved %rbp that is not a
	// spilled parameter.
	fpLocal := func(m x86asm.Mem) bool { return m.Disp < 0 && !paramRBP[m.Disp] }
	for pc := 0; pc < len(code); {
		if isEndbr(code[pc:]) { // CET landing pad; x86asm does not know it
			pc += 4
			n++
			continue
		}
		inst, err := x86asm.Decode(code[pc:], 64)
		if err != nil || inst.Len == 0 {
			bad++
			pc++
			continue
		}
		n++
		pos := pc
		pc += inst.Len
		for _, a := range inst.Args {
			if a == nil {
				break
			}
			m, ok := a.(x86asm.Mem)
			if !ok {
				continue
			}
			if m.Segment == x86asm.FS && m.Base == 0 && m.Index == 0 && m.Disp == 0x28 {
				canary = true
			}
			if m.Index != 0 && inst.Op != x86asm.NOP {
				switch {
				case isRSP(m.Base):
					refs = append(refs, stackRef{m.Disp, depth, at(pos, "indexed stack access")})
				case why == "" && isFP(m.Base) && m.Disp < 0:
					why = at(pos, "indexed stack access")
				}
			}
		}
		dst, _ := inst.Args[0].(x86asm.Reg)
		switch inst.Op {
		case x86asm.LEA:
			m, _ := inst.Args[1].(x86asm.Mem)
			if m.Index != 0 || family(dst) == x86asm.RSP || family(dst) == x86asm.RBP {
				break
			}
			switch {
			case isRSP(m.Base):
				refs = append(refs, stackRef{m.Disp, depth, at(pos, "address of a stack slot")})
			case why == "" && isFP(m.Base) && fpLocal(m):
				why = at(pos, "address of a stack slot")
			}
		case x86asm.MOV:
			switch src := inst.Args[1].(type) {
			case x86asm.Reg:
				if src == x86asm.RSP {
					if dst == x86asm.RBP {
						usesFP = true
					} else if movRSP == "" && dst != 0 && !paramRSP[-depth] {
						movRSP = at(pos, "stack pointer copied")
					}
				}
				if m, ok := inst.Args[0].(x86asm.Mem); ok && inProlo && m.Index == 0 {
					if i := argIndex(src); i >= 0 && !clobbered[i] {
						switch {
						case m.Base == x86asm.RSP:
							paramRSP[m.Disp-depth] = true
						case m.Base == x86asm.RBP && usesFP:
							paramRBP[m.Disp] = true
						}
					}
				}
			}
		case x86asm.SUB, x86asm.ADD:
			if dst == x86asm.RSP {
				switch v := inst.Args[1].(type) {
				case x86asm.Reg:
					if why == "" && inst.Op == x86asm.SUB {
						why = at(pos, "variable-sized stack allocation")
					}
				case x86asm.Imm:
					d := int64(v)
					if inst.Op == x86asm.ADD {
						d = -d
					}
					if d > 0 {
						frame = true
					}
					depth += d
				}
			}
		case x86asm.PUSH:
			depth += 8
			// Clang allocates a small frame (char name[8]) with a dummy
			// "push %rax" (any caller-saved register): a frame all the same.
			// Only at entry: crt1's _start pops argc first and pushes
			// %rax to realign, with no locals.
			if inProlo && depth == 8 && !popped && (argIndex(dst) >= 0 || dst == x86asm.RAX || dst == x86asm.R10 || dst == x86asm.R11) {
				frame = true
			}
		case x86asm.POP:
			depth -= 8
			popped = true
		case x86asm.CALL, x86asm.RET, x86asm.JMP:
			inProlo = false
		}
		maxDepth = max(maxDepth, depth)
		if inProlo && dst != 0 && inst.Op != x86asm.CMP && inst.Op != x86asm.TEST && inst.Op != x86asm.PUSH {
			if i := argIndex(dst); i >= 0 {
				clobbered[i] = true
			}
		}
	}
	// An %rsp-based address is a local of this function when it lies inside
	// the frame the function allocated (or, for a leaf, in the red zone
	// below %rsp), and is not a spilled parameter. Addresses at or above the
	// return address are incoming arguments, or the parent's frame for a
	// split-off .cold fragment, which has no frame of its own.
	for _, r := range refs {
		if why != "" {
			break
		}
		if r.disp-maxDepth < 0 && !paramRSP[r.disp-r.depth] && !paramRSP[r.disp-maxDepth] {
			why = r.what
		}
	}
	switch {
	case canary:
		return Protected, ""
	case n == 0 || bad*8 > n:
		return Undecodable, ""
	case why != "":
		return Missing, why
	case movRSP != "" && frame:
		return Missing, movRSP
	}
	return NeedsNone, ""
}

// hasCanaryInstruction finds the encoding of a 64-bit load, subtract,
// xor or compare with %fs:0x28 (REX.W, opcode, ModRM with a SIB byte,
// SIB 0x25 = absolute disp32, disp32 = 0x28) anywhere in code and confirms
// it by decoding the instruction there: a fast path that spares decoding
// the rest of a protected function. Nine fixed bytes that decode to exactly
// that instruction do not occur by chance inside other instructions.
func hasCanaryInstruction(code []byte) bool {
	for off := 0; ; {
		i := bytes.Index(code[off:], canaryTail)
		if i < 0 {
			return false
		}
		j := off + i // index of the SIB byte 0x25
		if j >= 4 && code[j-4] == 0x64 && code[j-3]&0xf8 == 0x48 && code[j-1]&0xc7 == 0x04 {
			switch code[j-2] {
			case 0x8b, 0x2b, 0x33, 0x3b, 0x39, 0x31, 0x29, 0x89:
				if inst, err := x86asm.Decode(code[j-4:], 64); err == nil {
					for _, a := range inst.Args {
						if m, ok := a.(x86asm.Mem); ok && m.Segment == x86asm.FS && m.Base == 0 && m.Index == 0 && m.Disp == 0x28 {
							return true
						}
					}
				}
			}
		}
		off = j + 1
	}
}

var canaryTail = []byte{0x25, 0x28, 0, 0, 0}

// mayTouchFrame is the second fast path: it looks at every byte offset for
// the encodings that can compute a frame address (a ModRM/SIB pair with an
// %rsp base and an index, or with a REX.X/VEX/EVEX prefix close before it
// that could supply one; lea from %rsp or %rbp; %rsp copied to or from a
// register; a register subtracted from %rsp). Every real instruction of
// those kinds shows its pattern at its own offset, so when none is found
// the function needs no canary without being decoded; when one is found
// (even by chance inside another instruction) the full decode decides.
func mayTouchFrame(code []byte) bool {
	for i := 0; i+1 < len(code); i++ {
		m, s := code[i], code[i+1]
		switch m & 0xc7 {
		case 0x04, 0x44, 0x84: // ModRM with a SIB byte
			if s&7 == 4 { // base %rsp (or %r12)
				if (s>>3)&7 != 4 || (i > 0 && code[i-1] == 0x8d) {
					return true // indexed, or lea
				}
				for k := max(0, i-5); k < i; k++ {
					if b := code[k]; b&0xf2 == 0x42 || b == 0xc4 || b == 0x62 {
						return true // an index register may come from REX.X/VEX/EVEX
					}
				}
			}
			if s&7 == 5 && m&0xc0 != 0 && (s>>3)&7 != 4 {
				return true // %rbp-based with an index
			}
		case 0x45, 0x85: // ModRM [rbp+disp]
			if i > 0 && code[i-1] == 0x8d {
				return true // lea from the frame pointer
			}
		}
		switch {
		case (m == 0x89 || m == 0x2b) && s&0xf8 == 0xe0: // mov %rsp,r / sub r,%rsp
			return true
		case (m == 0x8b || m == 0x29) && s&0xc7 == 0xc4: // mov r<-%rsp / sub r,%rsp
			return true
		}
	}
	return false
}

// isEndbr reports whether b starts with endbr64 or endbr32.
func isEndbr(b []byte) bool {
	return len(b) >= 4 && b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && (b[3] == 0xfa || b[3] == 0xfb)
}

// family maps any general-purpose register to its 64-bit name.
func family(r x86asm.Reg) x86asm.Reg {
	switch {
	case r >= x86asm.AL && r <= x86asm.R15B:
		// AL CL DL BL, then AH CH DH BH (the same registers), then SPB
		// BPB SIB DIB and R8B..R15B.
		i := r - x86asm.AL
		if i >= 4 {
			i -= 4
		}
		return x86asm.RAX + i
	case r >= x86asm.AX && r <= x86asm.R15W:
		return x86asm.RAX + (r - x86asm.AX)
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return x86asm.RAX + (r - x86asm.EAX)
	case r >= x86asm.RAX && r <= x86asm.R15:
		return r
	}
	return 0
}

// argIndex is the System V x86-64 integer argument number held by r's
// register, or -1.
func argIndex(r x86asm.Reg) int {
	switch family(r) {
	case x86asm.RDI:
		return 0
	case x86asm.RSI:
		return 1
	case x86asm.RDX:
		return 2
	case x86asm.RCX:
		return 3
	case x86asm.R8:
		return 4
	case x86asm.R9:
		return 5
	}
	return -1
}

func at(off int, what string) string {
	return what + " at +0x" + hex(uint64(off))
}

func hex(v uint64) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0"
	}
	var b [16]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[i:])
}
