package elfacts

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	hexenc "encoding/hex"
	"os"
	"testing"
)

func FuzzRead(f *testing.F) {
	for _, p := range append(goTestdata(f), "/bin/true") {
		if b, err := os.ReadFile(p); err == nil && len(b) < 1<<20 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		catchPanics = false
		defer func() { catchPanics = true }()
		Read(bytes.NewReader(data), int64(len(data)), Options{Functions: true})
	})
}

func FuzzClassifyCode(f *testing.F) {
	f.Add(cat(subRSP28, canaryLoad, leaRDIrsp10, call0, addRSP28, ret))
	f.Add(start)
	f.Add(cat(pushRBP, movRBPrsp, subRSP20, storeEDIfp, leaRAXfp14, call0, ret))
	f.Fuzz(func(t *testing.T, code []byte) {
		c, why := ClassifyCode(code)
		if c == Missing && why == "" {
			t.Fatal("missing without a reason")
		}
	})
}

func FuzzParseEHFrame(f *testing.F) {
	f.Add(ehFrame(0x2000, [][2]uint32{{0x1000, 0x40}, {0x1040, 0x10}}), uint64(0x2000))
	f.Fuzz(func(t *testing.T, data []byte, addr uint64) {
		ParseEHFrame(data, addr, binary.LittleEndian)
		ParseEHFrame(data, addr, binary.BigEndian)
	})
}

func FuzzParseDynamic(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []elf.Class{elf.ELFCLASS32, elf.ELFCLASS64} {
			d := ParseDynamic(data, c, binary.LittleEndian)
			d.strs(elf.DT_NEEDED, true)
			d.str(uint64(len(data)))
		}
	})
}

func FuzzEHFrameHdr(f *testing.F) {
	f.Add([]byte{1, 0x1b, 0x03, 0x3b, 0x10, 0, 0, 0, 2, 0, 0, 0}, uint64(0x2000))
	f.Fuzz(func(t *testing.T, data []byte, addr uint64) {
		EHFrameHdrPtr(data, addr, binary.LittleEndian)
	})
}

func FuzzFormatFlow(f *testing.F) {
	// lea rdi,[rip+0]; call rel 0; mov rdi,rax; call rel 0; ret
	f.Add([]byte{0x48, 0x8d, 0x3d, 0, 0, 0, 0, 0xe8, 0, 0, 0, 0, 0x48, 0x89, 0xc7, 0xe8, 0, 0, 0, 0, 0xc3})
	f.Fuzz(func(t *testing.T, code []byte) {
		im := &image{}
		targets := map[uint64]string{0x1000 + 12: "__immunix_fg_printf", 0x1000 + 20: "printf"}
		for _, s := range formatFlow(code, 0x1000, im, targets, map[uint64]bool{}, map[uint64]string{}, map[uint64]bool{}) {
			if s.Callee == "printf" && s.Format == "" {
				t.Fatal("printf call without a format origin")
			}
		}
	})
}

// FuzzScanBounds: the bounds scan (decode, tie the handler calls to their
// guards, then follow index registers back) never panics nor hangs on any
// code, nor does the record's type-name parser on any bytes.
func FuzzScanBounds(f *testing.F) {
	for _, s := range []string{
		"4883ec4889f0c0e8050f295424200fb6c0488d5484084883c448c3",
		"4883ec480fb6c0488d5484084883c0014883f80375f14883c448c3",
		"554889c5c6440500005dc3",
		"4883ec1883e307e800000000c6441c03414883c418c3",
		// A loop (TestScanBoundsRules' loop_ne), TestBoundsTie's and
		// TestBoundsTieMask's checks.
		"4881ec580100004531d24a8b7cd4504885ff74004ac744d450000000004983c2014983fa1f75e34881c458010000c3",
		"4883ec184883fe0377088904b44883c418c3488d3df0000000e8e9000000",
		"4883ec4889c6a9f0ffffff750cc704b4070000004883c448c3488d3d2c000000e825000000",
	} {
		b, _ := hexenc.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, code []byte) {
		// A handler at 0x1010 (inside the code, so calls of it occur),
		// whose records all name 'int [4]'.
		handlers := map[uint64]bool{0x1010: true}
		link := newLinkage()
		sc := decodeBounds(code, 0x1000, handlers, nil, link)
		for _, i := range sc.calls {
			sc.tie(i, link, func(uint64) (int64, bool) { return 4, true })
		}
		link.entries[0x1004] = true
		sc.judge(link.entries)
		arrayLength(code)
	})
}
