package elfacts

import (
	hexenc "encoding/hex"
	"testing"
)

// TestScanBoundsRules: what scanBounds takes for a stack-array index, on
// code assembled with GNU as (the source is beside each case). The
// compiled snippets (gcc and clang, -O0 and -O2) are in
// tests/boundsguard's TestCheckBoundsVerdict.
func TestScanBoundsRules(t *testing.T) {
	for _, c := range []struct {
		name, code       string
		indexes, bounded bool
	}{
		// GNU hello's quotearg_char: sub $0x48,%rsp; mov %esi,%eax;
		// shr $5,%al; movaps %xmm2,0x20(%rsp); movzbl %al,%eax;
		// lea 0x8(%rsp,%rax,4),%rdx: index <= 7, reach 0x28 <= 0x48.
		{"hello_quotearg", "4883ec4889f0c0e8050f295424200fb6c0488d5484084883c448c3", false, true},
		// The same index where a loop jumps back in between (the
		// bound no longer holds on the second pass): add $1,%rax;
		// cmp $3,%rax; jne to the lea.
		{"join", "4883ec480fb6c0488d5484084883c0014883f80375f14883c448c3", true, false},
		// readfile.so: push %rbp; mov %rax,%rbp; movb $0,0(%rbp,%rax,1):
		// %rbp holds a pointer, not the frame.
		{"rbp_gpr", "554889c5c6440500005dc3", false, false},
		// A frame pointer: push %rbp; mov %rsp,%rbp; sub $0x20,%rsp;
		// movslq %edi,%rax; movl $1,-0x20(%rbp,%rax,4).
		{"frame_pointer", "554889e54883ec204863c7c74485e001000000c9c3", true, false},
		// and $7,%edi; movb $0x41,3(%rsp,%rdi,1) in a 0x18 frame.
		{"mask_in", "4883ec1883e707c6443c03414883c418c3", false, true},
		// and $0xff,%edi: the access may leave the frame.
		{"mask_out", "4883ec1881e7ff000000c6443c03414883c418c3", true, false},
		// and $7,%eax; call; (%rsp,%rax): a call changes %rax.
		{"call_clobbers", "4883ec1883e007e800000000c6440403414883c418c3", true, false},
		// and $7,%ebx; call; (%rsp,%rbx): %rbx survives the call.
		{"call_keeps", "4883ec1883e307e800000000c6441c03414883c418c3", false, true},
		// mov $3,%al leaves the upper bits of %rax unknown.
		{"byte_write", "4883ec48b0038b14844883c448c3", true, false},
		// and $7,%eax; jmp *%rdx; mov (%rsp,%rax,4): a jump table may
		// land anywhere.
		{"jump_table", "4883ec4883e007ffe28b14844883c448c3", true, false},
		// and $7,%eax; mov -0x40(%rsp,%rax,4): below %rsp, no frame.
		{"no_frame", "83e0078b5484c0c3", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, err := hexenc.DecodeString(c.code)
			if err != nil {
				t.Fatal(err)
			}
			sc := decodeBounds(code, 0x1000, nil, nil, map[uint64]bool{})
			sc.judge(map[uint64]bool{})
			if sc.fn.Indexes != c.indexes || sc.fn.Bounded != c.bounded {
				t.Errorf("indexes=%v bounded=%v, want %v %v", sc.fn.Indexes, sc.fn.Bounded, c.indexes, c.bounded)
			}
		})
	}
	// A jump from another function (gcc's .cold part) that lands between
	// the bound and the access undoes the bound.
	code, _ := hexenc.DecodeString("4883ec1883e707c6443c03414883c418c3")
	sc := decodeBounds(code, 0x1000, nil, nil, map[uint64]bool{})
	sc.judge(map[uint64]bool{0x1000 + 7: true})
	if !sc.fn.Indexes || sc.fn.Bounded {
		t.Errorf("a jump from elsewhere onto the access: indexes=%v bounded=%v, want true false", sc.fn.Indexes, sc.fn.Bounded)
	}
}

// TestMayReturn: a bounds handler counts only if it cannot return to the
// instrumented code.
func TestMayReturn(t *testing.T) {
	for _, c := range []struct {
		name, code string
		returns    bool
	}{
		// The guard runtime's: endbr64; sub $8,%rsp; mov 8(%rsp),%rdx;
		// call the halting alert path.
		{"runtime", "f30f1efa4883ec08488b542408e8fb000000", false},
		// A forged one: add %esi,%edi; mov %edi,sink(%rip); ret.
		{"forged", "01f7893d442e0000c3", true},
		// endbr64; jmp elsewhere (a tail call).
		{"tail", "f30f1efae9fb000000", true},
		// cmp $1,%eax; je elsewhere (a .cold part); call.
		{"cold", "83f8010f84fa000000e8fb010000", true},
		{"empty", "", true},
	} {
		code, err := hexenc.DecodeString(c.code)
		if err != nil {
			t.Fatal(err)
		}
		if got := mayReturn(code); got != c.returns {
			t.Errorf("%s: mayReturn %v, want %v", c.name, got, c.returns)
		}
	}
}
