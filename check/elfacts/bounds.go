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
	// (imported), or "" (none referenced).
	Handler string
	// Funcs are the functions that call a handler or index their stack
	// frame with a register, in address order (the handlers themselves
	// left out).
	Funcs []BoundsFunc
}

// BoundsFunc is one function's part of the bounds analysis.
type BoundsFunc struct {
	Name string
	// Checked: a direct call (or tail jump) to a bounds handler defined
	// in the file; ObjSize: to the object-size handler.
	Checked, ObjSize bool
	// Indexes: a register-indexed access to its own stack frame (base
	// %rsp or %rbp plus an index register): what the instrumentation
	// guards, unless the compiler proved the index in range.
	Indexes bool
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
	bounds, objsize := map[uint64]bool{}, map[uint64]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section == elf.SHN_UNDEF {
			continue
		}
		for _, h := range BoundsHandlers {
			if s.Name == h {
				bounds[s.Value] = true
			}
		}
		for _, h := range ObjSizeHandlers {
			if s.Name == h {
				objsize[s.Value] = true
			}
		}
	}
	if len(bounds) > 0 {
		b.Handler = "runtime"
	}
	ranges := symtabFuncs(f)
	if len(ranges) == 0 {
		b.Why = "no symbol table: the guard runtime's bounds handler (a hidden symbol) cannot be found in a stripped file"
		return b
	}
	im.loadCode()
	for _, r := range ranges {
		if bounds[r.addr] || objsize[r.addr] {
			continue // the handlers themselves
		}
		data := im.codeBytes(r.addr, r.size)
		if data == nil {
			continue
		}
		calls, objs, indexes := scanBounds(data, r.addr, bounds, objsize)
		if calls || objs || indexes {
			b.Funcs = append(b.Funcs, BoundsFunc{Name: r.name, Checked: calls, ObjSize: objs, Indexes: indexes})
		}
	}
	b.Analyzed = true
	return b
}

// scanBounds decodes one function: does it call a handler in bounds or
// objsize (direct call or tail jump), and does it index its stack frame
// with a register.
func scanBounds(code []byte, addr uint64, bounds, objsize map[uint64]bool) (calls, objs, indexes bool) {
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
		next := addr + uint64(pc+inst.Len)
		switch inst.Op {
		case x86asm.CALL, x86asm.JMP:
			if rel, ok := inst.Args[0].(x86asm.Rel); ok {
				t := next + uint64(int64(rel))
				calls = calls || bounds[t]
				objs = objs || objsize[t]
			}
		case x86asm.NOP:
		default:
			for _, a := range inst.Args {
				if m, ok := a.(x86asm.Mem); ok && m.Index != 0 && (m.Base == x86asm.RSP || m.Base == x86asm.RBP) {
					indexes = true
				}
			}
		}
		pc += inst.Len
	}
	return calls, objs, indexes
}
