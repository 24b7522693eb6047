// Package tracefile keeps the raw strace output of immunix learn
// zstd-compressed and opens it again for replay. It is apart from
// package learn so that what links the parser and the strace runner
// (immunix run --complain) does not link, and initialise, zstd.
//
//	w, err := tracefile.NewWriter(f)
//	code, err := runner.Run(argv, parser, w) // writes "# cwd=..." and the trace
//	err = w.Close()                           // flushes; f stays open
//
//	rc, err := tracefile.Open("shop.sd.trace.zst") // zstd or plain strace output
//	err = parser.Parse(rc)
package tracefile

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// zstdMagic starts every zstd frame.
const zstdMagic = "\x28\xb5\x2f\xfd"

// NewWriter returns a writer that compresses what it is given into w
// (zstd, fastest level). Close flushes it; it does not close w.
func NewWriter(w io.Writer) (io.WriteCloser, error) {
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return nil, fmt.Errorf("compress trace: %w", err)
	}
	return enc, nil
}

// Open opens a kept trace for replay: zstd-compressed (as immunix learn
// keeps it) or plain strace output.
func Open(name string) (io.ReadCloser, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open trace: %w", err)
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(4)
	if string(magic) == zstdMagic {
		dec, err := zstd.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("open trace %s: %w", name, err)
		}
		return &zrc{dec, f}, nil
	}
	return &plainrc{br, f}, nil
}

type zrc struct {
	*zstd.Decoder
	f *os.File
}

func (z *zrc) Close() error { z.Decoder.Close(); return z.f.Close() }

type plainrc struct {
	*bufio.Reader
	f *os.File
}

func (p *plainrc) Close() error { return p.f.Close() }
