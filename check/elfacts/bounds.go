package elfacts

import (
	"debug/elf"
	"strings"

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
	// Checked are the functions with a direct call to a bounds handler
	// defined in the file; ObjSize those calling the object-size handler.
	Checked, ObjSize []string
	// Indexing counts the functions with a register-indexed access to their
	// own stack frame (base %rsp or %rbp plus an index register);
	// IndexingUnchecked those of them without a handler call (the compiler
	// removes the check where it proves the index in range).
	Indexing, IndexingUnchecked int
}

func analyzeBounds(f *elf.File, fa *Facts) Bounds {
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
	ranges, _ := symtabFuncs(f)
	if len(ranges) == 0 {
		b.Why = "no symbol table: the guard runtime's bounds handler (a hidden symbol) cannot be found in a stripped file"
		return b
	}
	code := newCodeReader(f)
	for _, r := range ranges {
		if bounds[r.addr] || objsize[r.addr] || strings.HasPrefix(r.name, "__immunix_") {
			continue // the handlers and the rest of the guard runtime
		}
		data := code.bytes(r.addr, r.size)
		if data == nil {
			continue
		}
		calls, objs, indexes := scanBounds(data, r.addr, bounds, objsize)
		if calls {
			b.Checked = append(b.Checked, r.name)
		}
		if objs {
			b.ObjSize = append(b.ObjSize, r.name)
		}
		if indexes {
			b.Indexing++
			if !calls {
				b.IndexingUnchecked++
			}
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
