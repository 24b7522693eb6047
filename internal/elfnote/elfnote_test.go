package elfnote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

type note struct {
	name string
	typ  uint32
	desc string
}

func walkAll(data []byte, order binary.ByteOrder, align int) ([]note, error) {
	var out []note
	err := Walk(data, order, align, func(name string, typ uint32, desc []byte) error {
		out = append(out, note{name, typ, string(desc)})
		return nil
	})
	return out, err
}

// TestRoundTrip: what Append writes, Walk reads back, in both byte orders
// and both alignments, with names and descs of every length mod 8.
func TestRoundTrip(t *testing.T) {
	var want []note
	for i := range 9 {
		want = append(want, note{strings.Repeat("n", i), uint32(i), strings.Repeat("d", 8-i)})
	}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, align := range []int{4, 8} {
			var b []byte
			for _, n := range want {
				b = Append(b, order, align, n.name, n.typ, []byte(n.desc))
				if len(b)%align != 0 {
					t.Fatalf("%v align %d: record ends at %d", order, align, len(b))
				}
			}
			got, err := walkAll(b, order, align)
			if err != nil || len(got) != len(want) {
				t.Fatalf("%v align %d: Walk = %v, %v", order, align, got, err)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("%v align %d: note %d = %+v, want %+v", order, align, i, got[i], want[i])
				}
			}
		}
	}
}

// TestLayout pins the byte layout against the notes binutils writes.
func TestLayout(t *testing.T) {
	// .note.gnu.property of an x86-64 object built with
	// -fcf-protection=full: "GNU", NT_GNU_PROPERTY_TYPE_0,
	// GNU_PROPERTY_X86_FEATURE_1_AND = IBT|SHSTK, padded to 8.
	prop := []byte("\x04\x00\x00\x00\x10\x00\x00\x00\x05\x00\x00\x00GNU\x00" +
		"\x02\x00\x00\xc0\x04\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00")
	desc := []byte("\x02\x00\x00\xc0\x04\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00")
	if b := Append(nil, binary.LittleEndian, 8, "GNU", 5, desc); !bytes.Equal(b, prop) {
		t.Errorf("Append GNU property = %q, want %q", b, prop)
	}
	// .note.gnu.build-id is 4-aligned: a 20-byte desc, no padding.
	id := bytes.Repeat([]byte{0xab}, 20)
	if b := Append(nil, binary.LittleEndian, 4, "GNU", 3, id); len(b) != 12+4+20 {
		t.Errorf("Append build-id: %d bytes, want 36", len(b))
	}
	// An 8-aligned note with a 5-byte name: the desc starts at offset
	// 24 (12+6 rounded up to 8), as glibc and readelf read it.
	b := Append(nil, binary.LittleEndian, 8, "abcde", 1, []byte("x"))
	if len(b) != 32 || b[24] != 'x' {
		t.Errorf("Append 8-aligned odd name = %q", b)
	}
}

// TestHostile: cut-short, overflowing and odd records end the walk with an
// error after the good notes before them, never a panic; the sizes are
// only compared, never allocated.
func TestHostile(t *testing.T) {
	le := binary.LittleEndian
	hdr := func(namesz, descsz, typ uint32) []byte {
		var h [HeaderSize]byte
		le.PutUint32(h[0:], namesz)
		le.PutUint32(h[4:], descsz)
		le.PutUint32(h[8:], typ)
		return h[:]
	}
	good := Append(nil, le, 4, "GNU", 3, []byte("abcd"))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, c := range []struct {
		name  string
		data  []byte
		align int
		notes int    // notes seen before the error
		err   string // "" for none
	}{
		{"empty", nil, 4, 0, ""},
		{"one good", good, 4, 1, ""},
		{"zero-length record", hdr(0, 0, 7), 4, 1, ""},
		{"zero-length records", cat(hdr(0, 0, 1), hdr(0, 0, 2), good), 4, 3, ""},
		{"last pad missing", cat(good, hdr(2, 1, 1), []byte("a\x00\x00\x00x")), 4, 2, ""},
		{"short header", cat(good, []byte{1, 2, 3}), 4, 1, "truncated header (3 bytes)"},
		{"11-byte header", hdr(0, 0, 0)[:11], 4, 0, "truncated header"},
		{"name past end", cat(hdr(8, 0, 1), []byte("GNU\x00")), 4, 0, "name of 8 bytes runs past the end"},
		{"namesz 2^32-1", cat(good, hdr(0xffffffff, 0, 1), []byte("GNU\x00")), 4, 1, "name of 4294967295 bytes"},
		{"descsz 2^32-1", cat(hdr(4, 0xffffffff, 1), []byte("GNU\x00abcd")), 4, 0, "desc of 4294967295 bytes runs past the end"},
		{"both 2^32-1", hdr(0xffffffff, 0xffffffff, 1), 4, 0, "name of 4294967295 bytes"},
		{"desc past end", cat(hdr(4, 8, 1), []byte("GNU\x00abcd")), 4, 0, "desc of 8 bytes runs past the end (4 bytes left)"},
		{"name pad past end", cat(hdr(5, 0, 1), []byte("abcde")), 4, 0, "desc of 0 bytes runs past the end"},
		{"misaligned for 8", cat(hdr(4, 4, 5), []byte("GNU\x00abcd"), hdr(4, 4, 5), []byte("GNU\x00abcd")), 8, 1, "note at offset 24: desc of 5 bytes"},
		{"align 0", good, 0, 0, "note alignment 0, want 4 or 8"},
		{"align 3", good, 3, 0, "note alignment 3"},
		{"align 16", good, 16, 0, "note alignment 16"},
	} {
		got, err := walkAll(c.data, le, c.align)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: Walk error %v, want none", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: Walk error %v, want %q", c.name, err, c.err)
		}
		if len(got) != c.notes {
			t.Errorf("%s: %d notes seen (%+v), want %d", c.name, len(got), got, c.notes)
		}
	}
}

// TestStop: fn's error ends the walk and is returned as is.
func TestStop(t *testing.T) {
	le := binary.LittleEndian
	b := Append(Append(nil, le, 4, "A", 1, nil), le, 4, "B", 2, nil)
	stop := errors.New("stop")
	n := 0
	err := Walk(b, le, 4, func(string, uint32, []byte) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("Walk = %v after %d notes, want stop after 1", err, n)
	}
}

// FuzzWalk: any input gives notes and at most an error, never a panic;
// every desc lies inside the input, and a walk that succeeds consumes the
// input in records Append writes back to the same notes.
func FuzzWalk(f *testing.F) {
	le := binary.LittleEndian
	f.Add(Append(nil, le, 4, "Immunix", 1, []byte("v=0.1.0 on=canary\x00")), 4)
	f.Add(Append(nil, le, 8, "GNU", 5, []byte("\x02\x00\x00\xc0\x04\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00")), 8)
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00\x00\x00"), 4)
	f.Fuzz(func(t *testing.T, data []byte, align int) {
		if align != 8 {
			align = 4
		}
		var re []byte
		err := Walk(data, le, align, func(name string, typ uint32, desc []byte) error {
			if len(desc) > len(data) {
				t.Fatalf("desc of %d bytes from %d bytes of input", len(desc), len(data))
			}
			re = Append(re, le, align, name, typ, desc)
			return nil
		})
		if err != nil {
			return
		}
		// Walking what Append wrote gives the same notes again.
		a, err1 := walkAll(re, le, align)
		b, _ := walkAll(data, le, align)
		if err1 != nil || len(a) != len(b) {
			t.Fatalf("re-walk = %v, %v; first walk %v", a, err1, b)
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("note %d: re-walk %+v, first walk %+v", i, a[i], b[i])
			}
		}
	})
}
