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
		// A guard on the straight path: cmp $3,%rsi; ja away;
		// mov %eax,(%rsp,%rsi,4): index <= 3.
		{"guard_ja", "4883ec484883fe0377038904b44883c448c3", false, true},
		// clang's: mov %ebx,%esi; cmp $4,%ebx; jae away;
		// movl $1,(%rsp,%rsi,4): the copy made before the guard is
		// bounded by it.
		{"guard_copy", "4883ec4889de83fb047307c704b4010000004883c448c3", false, true},
		// cmp $4,%ebx; jae away; add %eax,%ebx; mov %ebx,%esi: changed
		// after the guard.
		{"guard_copy_after", "4883ec4883fb04730b01c389dec704b4010000004883c448c3", true, false},
		// cmp $3,%rsi; jg away: signed, a negative index passes.
		{"guard_jg", "4883ec484883fe037f038904b44883c448c3", true, false},
		// and $7,%eax; cltq: the sign extension keeps the bound.
		{"cltq_bound", "4883ec4883e00748988914844883c448c3", false, true},
		// and $7,%edi; movslq %edi,%rax.
		{"movslq_bound", "4883ec4883e7074863c78914844883c448c3", false, true},
		// gawk's do_close: a frame pointer, but on this path %rbp was
		// loaded with a heap pointer (mov 0x28(%rbx),%rbp): no stack
		// index.
		{"rbp_heap_branch", "554889e54883ec2085c07409488b6b28c644050000c9c3", false, false},
		// The same function shape where mov %rsp,%rbp runs last.
		{"rbp_frame_branch", "554889e54883ec20488b6b284889e5c64405f000c9c3", true, false},
		// Loops (boundsloop.go). sqlite3PcacheDirtyList's: xor
		// %r10d,%r10d; L: mov 0x50(%rsp,%r10,8),%rdi; ...; movq
		// $0,0x50(%rsp,%r10,8); add $1,%r10; cmp $0x1f,%r10; jne L in a
		// 0x158 frame: index <= 30.
		{"loop_ne", "4881ec580100004531d24a8b7cd4504885ff74004ac744d450000000004983c2014983fa1f75e34881c458010000c3", false, true},
		// The same loop to 0x40 runs out of the frame.
		{"loop_too_far", "4881ec580100004531d24a8b7cd4504885ff74004ac744d450000000004983c2014983fa4075e34881c458010000c3", true, false},
		// sqlite3JoinType's: L: access; add $1,%r11; cmp $3,%r11; je
		// out; jmp L.
		{"loop_je_exit", "4883ec584531db4e8b74dc304983c3014983fb037402ebef4883c458c3", false, true},
		// A loop from an index of unknown value: cmp $10,%eax; jl
		// bounds nothing (a negative index passes a signed compare).
		{"loop_signed_input", "4883ec5889f88b148483c00183f80a7cf54883c458c3", true, false},
		// The same from zero: never negative, so jl bounds it.
		{"loop_signed_zero", "4883ec5831c08b148483c00183f80a7cf54883c458c3", false, true},
		// A call in the loop changes %eax, and jl no longer bounds it
		// (it may be negative now).
		{"loop_call_clobbers", "4883ec5831c08b1484e80800000083c00183f80a7cf04883c458c3", true, false},
		// mov %edi,%eax; test %esi,%esi; je L; cmp $4,%rax; L: ja out;
		// mov (%rsp,%rax,4): the path from je reaches the branch with
		// the test's flags (ja falls through), not the compare's.
		{"flags_from_elsewhere", "4883ec5889f885f674044883f80477038b14844883c458c3", true, false},
		// gawk's read_one_line: an inlined memcpy's tail out of a stack
		// buffer, mov -0x8(%rsp,%rdx,1),%rcx; mov %rcx,-0x8(%rbx,%rdx,1):
		// no subscript, not counted.
		{"copy_out", "4883ec48488b4c14f848894c13f84883c448c3", false, false},
		// The same copy into the frame writes there: counted.
		{"copy_in", "4883ec48488b4c13f848894c14f84883c448c3", true, false},
		// A load that is not copied out: add %rcx,%rax.
		{"copy_out_used", "4883ec48488b4c14f84801c84883c448c3", true, false},
		// Stored at another index: no copy.
		{"copy_out_other_index", "4883ec48488b4c14f848894c33f84883c448c3", true, false},
		// The same with jb: whatever the call left, the loop goes on
		// only below 10.
		{"loop_call_unsigned", "4883ec5831c08b1484e80800000083c00183f80a72f04883c458c3", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, err := hexenc.DecodeString(c.code)
			if err != nil {
				t.Fatal(err)
			}
			sc := decodeBounds(code, 0x1000, nil, nil, newLinkage())
			sc.judge(map[uint64]bool{})
			if sc.fn.Indexes != c.indexes || sc.fn.Bounded != c.bounded {
				t.Errorf("indexes=%v bounded=%v, want %v %v", sc.fn.Indexes, sc.fn.Bounded, c.indexes, c.bounded)
			}
		})
	}
	// A jump from another function (gcc's .cold part) that lands between
	// the bound and the access undoes the bound.
	code, _ := hexenc.DecodeString("4883ec1883e707c6443c03414883c418c3")
	sc := decodeBounds(code, 0x1000, nil, nil, newLinkage())
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

// TestBoundsTie: which calls of the bounds handler are checks. The code is
// assembled with GNU as from this source (one function a case, the handler
// and the record after them):
//
//	a_gcc_o2:        cmp $3,%rsi; ja H; access; ret; H: lea rec(%rip),%rdi; call handler
//	b_signed:        the same with jg: a negative index passes
//	c_unconditional: jmp H: no compare at all
//	d_stack_record:  ja H, but %rdi = lea 8(%rsp): no compiler record
//	e_gcc_o0:        movslq; cmp $3,%rdx; jbe skip; cltq; mov %rax,%rsi;
//	                 lea rec(%rip),%rax; mov %rax,%rdi; call handler; skip:
//	f_constant:      jne skip; lea rec(%rip),%rdi; mov $4,%esi; call
//	                 (an index the compiler knows out of range)
//	g_flags_kept:    cmp $0x200,%r12; two movs; ja H (gcc moves the
//	                 arguments between the compare and its branch)
//	h_equality:      cmp $3,%rsi; jne H: no bound
func TestBoundsTie(t *testing.T) {
	const text = "4883ec184883fe0377088904b44883c418c3488d3df0000000e8e90000004883ec184883fe037f088904b44883c418c3488d3dd2000000e8cb0000004883ec188904b4eb01c3488d3dbc000000e8b50000004883ec184883fe0377088904b44883c418c3488d7c2408e899000000554889e54883ec308b45dc4863d04883fa03761448984889c6488d057b0000004889c7e8710000004898895485e0c9c34883ec1885c07511488d3d5c000000be04000000e8500000004883c418c34883ec184981fc00020000448b4424384889c77709428904a44883c418c34c89e6488d3d25000000e81e0000004883ec184883fe0375088904b44883c418c3488d3d07000000e8000000000f0b"
	code, err := hexenc.DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	const base, handler, rec = 0x1000, 0x1000 + 0x107, 0x1000 + 0x109
	funcs := []struct {
		name       string
		start, end int
		checked    bool
	}{
		{"a_gcc_o2", 0x00, 0x1e, true},
		{"b_signed", 0x1e, 0x3c, false},
		{"c_unconditional", 0x3c, 0x52, false},
		{"d_stack_record", 0x52, 0x6e, false},
		{"e_gcc_o0", 0x6e, 0x9e, true},
		{"f_constant", 0x9e, 0xbc, true},
		{"g_flags_kept", 0xbc, 0xe9, true},
		{"h_equality", 0xe9, 0x107, false},
	}
	for _, records := range []struct {
		name string
		ok   bool
	}{{"record", true}, {"no record", false}} {
		handlers := map[uint64]bool{handler: true}
		link := newLinkage()
		var scans []*boundsScan
		for _, f := range funcs {
			sc := decodeBounds(code[f.start:f.end], uint64(base+f.start), handlers, nil, link)
			sc.fn.Name = f.name
			scans = append(scans, sc)
		}
		record := func(at uint64) (int64, bool) { return 4, records.ok && at == rec }
		for i, sc := range scans {
			if len(sc.calls) != 1 {
				t.Fatalf("%s: %d handler calls decoded, want 1", funcs[i].name, len(sc.calls))
			}
			tied := sc.tie(sc.calls[0], link, record)
			want := funcs[i].checked && records.ok
			if tied != want || sc.fn.Checked != want {
				t.Errorf("%s, %s: tied %v checked %v, want %v", records.name, funcs[i].name, tied, sc.fn.Checked, want)
			}
		}
	}
}

// TestArrayLength: the outermost length of a ubsan array type name.
func TestArrayLength(t *testing.T) {
	for _, c := range []struct {
		name   string
		length int64
		ok     bool
	}{
		{"'int [4]'", 4, true},
		{"'int[4]'", 4, true},
		{"'char [3][8]'", 3, true},
		{"'int [*]'", -1, true},
		{"'int [99999999999999999999]'", -1, true},
		{"'int'", 0, false},
		{"'int [4'", 0, false},
		{"", 0, false},
	} {
		n, ok := arrayLength([]byte(c.name))
		if n != c.length || ok != c.ok {
			t.Errorf("%q: %d %v, want %d %v", c.name, n, ok, c.length, c.ok)
		}
	}
}

// TestBoundsTieMask: clang's index < 16 is test $0xfffffff0,%eax; jne to
// the handler; it bounds the index on the straight path and ties the
// call. A mask with holes (test $0xfffffff5) bounds nothing, nor does the
// branch on the wrong side:
//
//	clang_mask: mov %eax,%esi; test $0xfffffff0,%eax; jne H;
//	            movl $7,(%rsp,%rsi,4); ...; H: lea rec(%rip),%rdi; call handler
//	mask_holes: the same with test $0xfffffff5,%eax
//	mask_wrong_side: test $0xfffffff0,%eax; je H (the handler on the
//	            in-range side: no check, and the access unbounded)
func TestBoundsTieMask(t *testing.T) {
	code, err := hexenc.DecodeString("4883ec4889c6a9f0ffffff750cc704b4070000004883c448c3488d3d51000000e84a0000004883ec4889c6a9f5ffffff750cc704b4070000004883c448c3488d3d2c000000e8250000004883ec4889c6a9f0ffffff740cc704b4070000004883c448c3488d3d07000000e8000000000f0b")
	if err != nil {
		t.Fatal(err)
	}
	const base, handler, rec = 0x1000, 0x1000 + 0x6f, 0x1000 + 0x71
	handlers := map[uint64]bool{handler: true}
	for _, c := range []struct {
		name                      string
		start, end                int
		checked, indexes, bounded bool
	}{
		{"clang_mask", 0, 0x25, true, false, true},
		{"mask_holes", 0x25, 0x4a, false, true, false},
		{"mask_wrong_side", 0x4a, 0x6f, false, true, false},
	} {
		link := newLinkage()
		sc := decodeBounds(code[c.start:c.end], uint64(base+c.start), handlers, nil, link)
		if len(sc.calls) != 1 {
			t.Fatalf("%s: %d handler calls, want 1", c.name, len(sc.calls))
		}
		sc.tie(sc.calls[0], link, func(at uint64) (int64, bool) { return 16, at == rec })
		sc.judge(link.entries)
		if sc.fn.Checked != c.checked || sc.fn.Indexes != c.indexes || sc.fn.Bounded != c.bounded {
			t.Errorf("%s: checked %v indexes %v bounded %v, want %v %v %v", c.name, sc.fn.Checked, sc.fn.Indexes, sc.fn.Bounded, c.checked, c.indexes, c.bounded)
		}
	}
}
