package pkg

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// arArchive writes an ar archive (GNU long names for names over 15 bytes).
func arArchive(members [][2]string) []byte {
	var b bytes.Buffer
	b.WriteString(ArMagic)
	var long strings.Builder
	offsets := map[string]int{}
	for _, m := range members {
		if len(m[0]) > 15 {
			offsets[m[0]] = long.Len()
			long.WriteString(m[0] + "/\n")
		}
	}
	write := func(name, data string) {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(data))
		b.WriteString(data)
		if len(data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	if long.Len() > 0 {
		write("//", long.String())
	}
	for _, m := range members {
		name := m[0] + "/"
		if off, ok := offsets[m[0]]; ok {
			name = fmt.Sprintf("/%d", off)
		}
		write(name, m[1])
	}
	return b.Bytes()
}

func TestArReader(t *testing.T) {
	members := [][2]string{{"debian-binary", "2.0\n"}, {"a-rather-long-member-name.o", "odd"}, {"x", ""}, {"y", "even"}}
	ar := NewArReader(bytes.NewReader(arArchive(members)))
	for _, want := range members {
		h, err := ar.Next()
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		data, err := io.ReadAll(ar)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != want[0] || string(data) != want[1] {
			t.Errorf("got %q %q, want %q %q", h.Name, data, want[0], want[1])
		}
	}
	if _, err := ar.Next(); err != io.EOF {
		t.Errorf("after the last member: %v, want EOF", err)
	}
	// Truncated inside a member: an error, never a panic or a clean end.
	full := arArchive(members)
	cut := len(full) - 3 // inside the last member's data
	ar = NewArReader(bytes.NewReader(full[:cut]))
	var err error
	for err == nil {
		if _, err = ar.Next(); err == nil {
			_, err = io.ReadAll(ar)
		}
	}
	if err == io.EOF {
		t.Errorf("archive cut inside a member read as complete")
	}
}

// cpioArchive writes a newc archive of regular files.
func cpioArchive(files [][2]string) []byte {
	var b bytes.Buffer
	entry := func(name string, mode uint32, data string) {
		fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x", 1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name + "\x00")
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.WriteString(data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	for _, f := range files {
		entry(f[0], 0o100755, f[1])
	}
	entry("./usr/bin", 0o040755, "")
	entry("TRAILER!!!", 0, "")
	return b.Bytes()
}

func TestCpioReader(t *testing.T) {
	files := [][2]string{{"./usr/bin/a", "\x7fELF..."}, {"./usr/share/doc/b", "x"}}
	cr := NewCpioReader(bytes.NewReader(cpioArchive(files)))
	for _, want := range files {
		h, err := cr.Next()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(cr)
		if h.Name != want[0] || string(data) != want[1] || !h.Regular() {
			t.Errorf("got %q %q, want %q %q", h.Name, data, want[0], want[1])
		}
	}
	if h, err := cr.Next(); err != nil || h.Regular() {
		t.Fatalf("directory entry: %v %v", h, err)
	}
	if _, err := cr.Next(); err != io.EOF {
		t.Errorf("after the trailer: %v", err)
	}
	full := cpioArchive(files)
	for n := 0; n < len(full)-1; n++ {
		cr := NewCpioReader(bytes.NewReader(full[:n]))
		var err error
		for err == nil {
			if _, err = cr.Next(); err == nil {
				_, err = io.ReadAll(cr)
			}
		}
		if err == io.EOF {
			t.Errorf("truncated to %d of %d bytes: clean EOF", n, len(full))
		}
	}
}

// rpmHeader writes an RPM header structure with string tags.
func rpmHeader(tags map[int]string, pad bool) []byte {
	var index, data []byte
	for tag := 1000; tag < 1200; tag++ {
		v, ok := tags[tag]
		if !ok {
			continue
		}
		e := make([]byte, 16)
		binary.BigEndian.PutUint32(e, uint32(tag))
		binary.BigEndian.PutUint32(e[4:], 6)
		binary.BigEndian.PutUint32(e[8:], uint32(len(data)))
		binary.BigEndian.PutUint32(e[12:], 1)
		index = append(index, e...)
		data = append(data, v+"\x00"...)
	}
	b := []byte(rpmHdrMagic + "\x00\x00\x00\x00")
	b = binary.BigEndian.AppendUint32(b, uint32(len(index)/16))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(append(b, index...), data...)
	for pad && len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func compress(t testing.TB, kind string, data []byte) []byte {
	var b bytes.Buffer
	switch kind {
	case "gzip":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&b)
		w.Write(data)
		w.Close()
	case "xz":
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "none":
		b.Write(data)
	}
	return b.Bytes()
}

func rpmFile(t testing.TB, comp string, files [][2]string) []byte {
	lead := make([]byte, rpmLeadLen)
	copy(lead, rpmLeadMagic)
	b := append(lead, rpmHeader(map[int]string{1000: "sig"}, true)...)
	b = append(b, rpmHeader(map[int]string{TagName: "hello", TagPayloadFormat: "cpio", TagPayloadCompressor: comp}, false)...)
	return append(b, compress(t, comp, cpioArchive(files))...)
}

func debFile(t testing.TB, comp string, files [][2]string) []byte {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "./usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, f := range files {
		tw.WriteHeader(&tar.Header{Name: f[0], Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(f[1]))})
		tw.Write([]byte(f[1]))
	}
	tw.WriteHeader(&tar.Header{Name: "./usr/bin/link", Typeflag: tar.TypeSymlink, Linkname: "a"})
	tw.Close()
	ext := map[string]string{"gzip": ".gz", "xz": ".xz", "zstd": ".zst", "none": ""}[comp]
	return arArchive([][2]string{{"debian-binary", "2.0\n"}, {"control.tar" + ext, string(compress(t, comp, nil))}, {"data.tar" + ext, string(compress(t, comp, tb.Bytes()))}})
}

func TestWalk(t *testing.T) {
	files := [][2]string{{"./usr/bin/a", "\x7fELF-a"}, {"./usr/lib/b.so", "\x7fELF-b"}}
	for _, comp := range []string{"gzip", "xz", "zstd", "none"} {
		for kind, data := range map[string][]byte{"deb": debFile(t, comp, files), "rpm": rpmFile(t, comp, files)} {
			var got []string
			err := Walk(bytes.NewReader(data), func(m Member, r io.Reader) error {
				b, err := io.ReadAll(r)
				got = append(got, m.Name+"="+string(b))
				return err
			})
			if err != nil {
				t.Errorf("%s %s: %v", kind, comp, err)
				continue
			}
			want := []string{"./usr/bin/a=\x7fELF-a", "./usr/lib/b.so=\x7fELF-b"}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s %s: got %q, want %q", kind, comp, got, want)
			}
			// Every truncation is an error or a clean shorter read, never a panic.
			for n := 0; n < len(data); n += 1 + len(data)/200 {
				Walk(bytes.NewReader(data[:n]), func(Member, io.Reader) error { return nil })
			}
		}
	}
	if err := Walk(strings.NewReader("hello"), nil); err == nil {
		t.Error("plain text: no error")
	}
}
