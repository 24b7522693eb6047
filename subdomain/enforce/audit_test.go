package enforce

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestParseAuditStatus(t *testing.T) {
	status := func(n int, v ...uint32) []byte {
		b := make([]byte, n)
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], x)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want auditStatus
		err  string
	}{
		{name: "kernel 6 reply", in: status(64, 0x7f, 1, 1, 0, 0, 64, 19219, 3), want: auditStatus{enabled: 1, backlogLimit: 64, lost: 19219}},
		{name: "locked, the oldest layout", in: status(32, 0, 2, 1, 0, 0, 8192, 7, 0), want: auditStatus{enabled: 2, backlogLimit: 8192, lost: 7}},
		{name: "lost wrapped", in: status(28, 0, 1, 0, 0, 0, 64, 0xffffffff), want: auditStatus{enabled: 1, backlogLimit: 64, lost: 0xffffffff}},
		{name: "no lost field", in: status(24, 0, 1), err: "short audit status (24 bytes)"},
		{name: "empty", in: nil, err: "short audit status (0 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAuditStatus(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
