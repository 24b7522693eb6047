package pkg

import (
	"bytes"
	"io"
	"testing"
)

func FuzzWalk(f *testing.F) {
	files := [][2]string{{"./usr/bin/a", "\x7fELF-a"}}
	for _, comp := range []string{"gzip", "xz", "zstd", "none"} {
		f.Add(debFile(f, comp, files))
		f.Add(rpmFile(f, comp, files))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		Walk(bytes.NewReader(data), func(m Member, r io.Reader) error {
			_, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20))
			return err
		})
	})
}

func FuzzArReader(f *testing.F) {
	f.Add(arArchive([][2]string{{"debian-binary", "2.0\n"}, {"a-rather-long-member-name.o", "odd"}}))
	f.Add([]byte(ArMagic + "#1/20           0           0     0     100644  24        `\nname-of-twenty-bytes1234"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ar := NewArReader(bytes.NewReader(data))
		for i := 0; i < 1000; i++ {
			if _, err := ar.Next(); err != nil {
				return
			}
			io.Copy(io.Discard, io.LimitReader(ar, 1<<20))
		}
	})
}

func FuzzCpioReader(f *testing.F) {
	f.Add(cpioArchive([][2]string{{"./usr/bin/a", "\x7fELF"}, {"./b", "x"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		cr := NewCpioReader(bytes.NewReader(data))
		for i := 0; i < 1000; i++ {
			if _, err := cr.Next(); err != nil {
				return
			}
			io.Copy(io.Discard, io.LimitReader(cr, 1<<20))
		}
	})
}
