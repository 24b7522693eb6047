package enforce

import (
	"reflect"
	"testing"
)

func TestHandoverRoundTrip(t *testing.T) {
	for _, h := range []handedOver{
		{flags: "aenv", lostAtOpen: 7, stateDir: "/run/immunix", pid: 42, path: "/usr/bin/x", program: "/usr/bin/x", socket: "/dev/log", grants: []string{"/srv/a", "/srv/b c"}},
		{flags: "", lostAtOpen: 0, stateDir: "/tmp/s", pid: 1, path: "/a", program: "/a"},
	} {
		got, err := decodeHandover(h.encode())
		if err != nil || !reflect.DeepEqual(got, h) {
			t.Errorf("decode(encode(%+v)) = %+v, %v", h, got, err)
		}
	}
	for _, bad := range []string{"", "a\x001", "a\x00x\x00/s\x001\x00p\x00q\x00s", "a\x001\x00/s\x00-3\x00p\x00q\x00s", "a\x0099999999999\x00/s\x001\x00p\x00q\x00s"} {
		if h, err := decodeHandover([]byte(bad)); err == nil {
			t.Errorf("decodeHandover(%q) = %+v, want an error", bad, h)
		}
	}
}

// FuzzHandover: any bytes decode to an error or to a hand-over that
// encodes back to the same bytes.
func FuzzHandover(f *testing.F) {
	f.Add([]byte("aenv\x007\x00/run/immunix\x0042\x00/usr/bin/x\x00/usr/bin/x\x00/dev/log\x00/srv/a\x00/srv/b"))
	f.Add([]byte("n\x000\x00/run/immunix\x001\x00/a\x00/a\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHandover(b)
		if err != nil {
			return
		}
		again, err := decodeHandover(h.encode())
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("%q: decoded %+v, re-encoded and decoded %+v, %v", b, h, again, err)
		}
	})
}
