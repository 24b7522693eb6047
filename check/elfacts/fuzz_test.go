package elfacts

import (
	"bytes"
	"encoding/binary"
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
