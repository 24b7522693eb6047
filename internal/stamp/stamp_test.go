package stamp

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []Stamp{
		{Type: Compile, Version: "0.1.0", On: []string{"canary", "fortify"}, Fortify: 3, Lang: "c"},
		{Type: Link, Version: "0.1.0", On: []string{"pie", "relro"}, Off: []string{"now"}, UserOff: []string{"canary"}},
		{Type: Compile, Version: "1", Failed: []string{"formatguard"}, Extra: map[string]string{"fg": "retried"}},
		{Type: Link, Version: "0.1.0", On: []string{"pie"}, Failed: []string{"runtime"}},
	}
	for _, want := range tests {
		got, err := Parse(want.Type, []byte(want.String()+"\x00\x00"))
		if err != nil {
			t.Fatalf("Parse(%q): %v", want.String(), err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %q:\n got %#v\nwant %#v", want.String(), got, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{"", "on=canary", "v=1 fortify=9", "v=1 junk"} {
		if _, err := Parse(Compile, []byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", bad)
		}
	}
}

func TestParseNotesSkipsOtherOwners(t *testing.T) {
	var buf []byte
	note := func(name, desc string, typ uint32) {
		h := make([]byte, 12)
		binary.LittleEndian.PutUint32(h[0:], uint32(len(name)+1))
		binary.LittleEndian.PutUint32(h[4:], uint32(len(desc)+1))
		binary.LittleEndian.PutUint32(h[8:], typ)
		buf = append(buf, h...)
		buf = append(buf, pad(name)...)
		buf = append(buf, pad(desc)...)
	}
	note("GNU", "xyz", 3)
	note("Immunix", "v=0.1.0 on=canary", Compile)
	got, err := ParseNotes(buf, binary.LittleEndian)
	if err != nil || len(got) != 1 || got[0].Version != "0.1.0" || !got[0].Has("canary") {
		t.Fatalf("ParseNotes = %#v, %v", got, err)
	}
}

func pad(s string) []byte {
	b := append([]byte(s), 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func FuzzParseNotes(f *testing.F) {
	f.Add([]byte("\x08\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00Immunix\x00v=1\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseNotes(data, binary.LittleEndian) //nolint:errcheck // must only not panic
	})
}
