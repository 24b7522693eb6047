package elfacts

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/testenv"
)

// Machine code assembled with GNU as (intel syntax); the comment above each
// case is its source.
var (
	canaryLoad  = []byte{0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0} // mov rax, fs:0x28
	subRSP28    = []byte{0x48, 0x83, 0xec, 0x28}                      // sub rsp, 0x28
	leaRDIrsp10 = []byte{0x48, 0x8d, 0x7c, 0x24, 0x10}                // lea rdi, [rsp+0x10]
	call0       = []byte{0xe8, 0, 0, 0, 0}                            // call .
	addRSP28    = []byte{0x48, 0x83, 0xc4, 0x28}                      // add rsp, 0x28
	ret         = []byte{0xc3}
	subRSP18    = []byte{0x48, 0x83, 0xec, 0x18}       // sub rsp, 0x18
	storeEDIc   = []byte{0x89, 0x7c, 0x24, 0x0c}       // mov [rsp+0xc], edi
	leaRDIrspC  = []byte{0x48, 0x8d, 0x7c, 0x24, 0x0c} // lea rdi, [rsp+0xc]
	subRSP48    = []byte{0x48, 0x83, 0xec, 0x48}       // sub rsp, 0x48
	movRDIrsp   = []byte{0x48, 0x89, 0xe7}             // mov rdi, rsp
	subRSPrax   = []byte{0x48, 0x29, 0xc4}             // sub rsp, rax
	movzxIdx    = []byte{0x0f, 0xb6, 0x44, 0x04, 0x10} // movzx eax, byte [rsp+rax+0x10]
	pushRBP     = []byte{0x55}
	movRBPrsp   = []byte{0x48, 0x89, 0xe5}       // mov rbp, rsp
	subRSP20    = []byte{0x48, 0x83, 0xec, 0x20} // sub rsp, 0x20
	storeEDIfp  = []byte{0x89, 0x7d, 0xec}       // mov [rbp-0x14], edi
	leaRAXfp14  = []byte{0x48, 0x8d, 0x45, 0xec} // lea rax, [rbp-0x14]
	leaRAXfp10  = []byte{0x48, 0x8d, 0x45, 0xf0} // lea rax, [rbp-0x10]
	leaRDXrsp8  = []byte{0x48, 0x8d, 0x54, 0x24, 0x08}
	endbr64     = []byte{0xf3, 0x0f, 0x1e, 0xfa}
	// crt1.o's _start: xor ebp,ebp; mov r9,rdx; pop rsi; mov rdx,rsp;
	// and rsp,-16; push rax; push rsp; call
	start = cat([]byte{0x31, 0xed, 0x49, 0x89, 0xd1, 0x5e, 0x48, 0x89, 0xe2, 0x48, 0x83, 0xe4, 0xf0, 0x50, 0x54}, call0)
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestClassifyCode(t *testing.T) {
	tests := []struct {
		name string
		code []byte
		want FuncClass
	}{
		{"canary load", cat(subRSP28, canaryLoad, leaRDIrsp10, call0, addRSP28, ret), Protected},
		{"address of a local", cat(subRSP28, leaRDIrsp10, call0, addRSP28, ret), Missing},
		{"spilled parameter's address", cat(subRSP18, storeEDIc, leaRDIrspC, call0, addRSP28, ret), NeedsNone},
		{"parameter slot written after the argument register changed", cat(subRSP18, []byte{0x31, 0xff}, storeEDIc, leaRDIrspC, call0, ret), Missing}, // xor edi,edi first
		{"crt1 _start copies rsp without a frame", start, NeedsNone},
		{"rsp copied with a frame", cat(subRSP48, movRDIrsp, call0, ret), Missing},
		{"alloca", cat(pushRBP, movRBPrsp, subRSPrax, ret), Missing},
		{"indexed stack access", cat(subRSP48, movzxIdx, ret), Missing},
		{"frame pointer parameter", cat(pushRBP, movRBPrsp, subRSP20, storeEDIfp, leaRAXfp14, call0, ret), NeedsNone},
		{"frame pointer local", cat(pushRBP, movRBPrsp, subRSP20, leaRAXfp10, call0, ret), Missing},
		{"incoming stack argument", cat(leaRDXrsp8, call0, ret), NeedsNone},
		{"endbr64 and ret", cat(endbr64, ret), NeedsNone},
		// A .cold fragment runs on its parent's frame: no frame of its own,
		// positive offsets into the parent's.
		{"cold fragment", cat([]byte{0x48, 0x89, 0x8c, 0x04, 0x60, 0x02, 0, 0}, []byte{0x4c, 0x8d, 0xb4, 0x24, 0x00, 0x02, 0, 0}, call0, ret), NeedsNone},
		// Shrink-wrapping: a tail jump before the frame is set up.
		{"frame after a tail jump", cat([]byte{0x48, 0x85, 0xff, 0xe9, 0, 0, 0, 0, 0x53, 0x48, 0x83, 0xec, 0x40, 0x48, 0x8d, 0x7c, 0x24, 0x08}, call0, ret), Missing},
		{"scalar only", []byte{0x8d, 0x04, 0x37, 0xc3}, NeedsNone}, // lea eax,[rdi+rsi]; ret
		// push es is invalid in 64-bit mode; the lea makes the fast path
		// hand the function to the full decode.
		{"garbage", cat(bytes.Repeat([]byte{0x06}, 32), leaRDIrsp10), Undecodable},
		{"garbage without frame patterns takes the fast path", bytes.Repeat([]byte{0x06}, 32), NeedsNone},
		{"empty", nil, Undecodable},
	}
	for _, tt := range tests {
		got, why := ClassifyCode(tt.code)
		if got != tt.want {
			t.Errorf("%s: got %s (%s), want %s", tt.name, got, why, tt.want)
		}
		if got == Missing && why == "" {
			t.Errorf("%s: missing without a reason", tt.name)
		}
	}
}

// ehFrame builds an .eh_frame with one "zR" CIE (pcrel|sdata4 pointers)
// and one FDE per range.
func ehFrame(addr uint64, ranges [][2]uint32) []byte {
	le := binary.LittleEndian
	var b []byte
	cie := []byte{0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b, 0x0c, 0x07, 0x08}
	b = le.AppendUint32(b, uint32(len(cie)))
	b = append(b, cie...)
	for _, r := range ranges {
		start := len(b)
		b = le.AppendUint32(b, 16)                         // length
		b = le.AppendUint32(b, uint32(start+4))            // CIE pointer: back to offset 0
		field := addr + uint64(len(b))                     // address of pc_begin
		b = le.AppendUint32(b, uint32(uint64(r[0])-field)) // pcrel
		b = le.AppendUint32(b, r[1])
		b = append(b, 0, 0, 0, 0) // augmentation length 0, padding
	}
	return le.AppendUint32(b, 0) // terminator
}

func TestParseEHFrame(t *testing.T) {
	const addr = 0x2000
	data := ehFrame(addr, [][2]uint32{{0x1000, 0x40}, {0x1040, 0x10}})
	got := ParseEHFrame(data, addr, binary.LittleEndian)
	if len(got) != 2 || got[0].addr != 0x1000 || got[0].size != 0x40 || got[1].addr != 0x1040 || got[1].size != 0x10 {
		t.Fatalf("got %+v", got)
	}
	// Truncations stop the parse without a panic and keep what came before.
	for n := range data {
		ParseEHFrame(data[:n], addr, binary.LittleEndian)
	}
}

// TestEHFrameMatchesSymtab: for a real program, every sized function
// symbol in .text starts an FDE, so a stripped file loses no function.
func TestEHFrameMatchesSymtab(t *testing.T) {
	for _, cc := range testenv.Compilers() {
		testenv.NeedsTool(t, cc)
		exe := cbuild.Build(t, cc, `#include <stdio.h>
static int sq(int x) { return x * x; }
int __attribute__((noinline)) twice(int x) { char b[8]; snprintf(b, sizeof b, "%d", x); return b[0] + sq(x); }
int main(int c, char **v) { (void)v; return twice(c); }`, "-O2")
		f, err := elf.Open(exe)
		if err != nil {
			t.Fatal(err)
		}
		fdes := map[uint64]bool{}
		im := newImage(f)
		for _, r := range ehFrameFuncs(f, im) {
			fdes[r.addr] = true
		}
		syms := symtabFuncs(f)
		text := f.Section(".text")
		n := 0
		for _, s := range syms {
			if s.addr >= text.Addr && s.addr < text.Addr+text.Size {
				n++
				if !fdes[s.addr] {
					t.Errorf("%s: %s at 0x%x has no FDE", cc, s.name, s.addr)
				}
			}
		}
		f.Close()
		if n < 2 {
			t.Errorf("%s: only %d functions in .text", cc, n)
		}
	}
}

// goTestdata returns ELF files from the Go distribution's debug/elf test
// data: other architectures, 32-bit and big-endian objects.
func goTestdata(t testing.TB) []string {
	files, _ := filepath.Glob(filepath.Join(goroot(), "src", "debug", "elf", "testdata", "*"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && len(b) > 4 && string(b[:4]) == elf.ELFMAG {
			out = append(out, f)
		}
	}
	return out
}

func TestReadForeignELF(t *testing.T) {
	files := goTestdata(t)
	if len(files) == 0 {
		testenv.Missing(t, "no debug/elf testdata in GOROOT (the Go toolchain's source tree)")
	}
	sawBE, saw32 := false, false
	for _, p := range files {
		b, _ := os.ReadFile(p)
		fa, err := Read(bytes.NewReader(b), int64(len(b)), Options{Functions: true})
		if err != nil {
			// A clear error is fine (e.g. compressed sections); a panic is not.
			t.Logf("%s: %v", filepath.Base(p), err)
			continue
		}
		if fa.Data == elf.ELFDATA2MSB {
			sawBE = true
		}
		if fa.Class == elf.ELFCLASS32 {
			saw32 = true
		}
		if fa.Machine != elf.EM_X86_64 && fa.Canary.Analyzed {
			t.Errorf("%s: %s code analysed", filepath.Base(p), fa.Machine)
		}
	}
	if !sawBE || !saw32 {
		t.Errorf("testdata lacks big-endian (%v) or 32-bit (%v) files", sawBE, saw32)
	}
}

func TestReadBadInput(t *testing.T) {
	good, err := os.ReadFile("/bin/true")
	if err != nil {
		testenv.Missing(t, "an ELF program to damage: "+err.Error())
	}
	if _, err := Read(bytes.NewReader([]byte("#!/bin/sh\n")), 10, Options{}); err != ErrNotELF {
		t.Errorf("script: got %v, want ErrNotELF", err)
	}
	for _, n := range []int{4, 16, 63, 64, 200, len(good) / 2, len(good) - 1} {
		_, err := Read(bytes.NewReader(good[:n]), int64(n), Options{Functions: true})
		if err == nil && n < len(good)/2 {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	// Flip bytes all over the header tables: errors, never panics.
	for i := 0; i < 400 && i < len(good); i++ {
		b := append([]byte{}, good...)
		b[i] ^= 0xff
		Read(bytes.NewReader(b), int64(len(b)), Options{Functions: true})
	}
}

// goroot is the Go installation's root, from "go env GOROOT".
func goroot() string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
