package alert

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const body = `immunix alert: kind=stackguard exe=/usr/local/bin/server pid=4242 uid=1000 addr=0x401196 fn=handle_request msg=stack canary overwritten`

func fixedNow() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }

func TestParseLine(t *testing.T) {
	p := &Parser{Now: fixedNow, Location: time.UTC}
	tests := []struct {
		name      string
		line      string
		time      string // RFC 3339, "" for zero
		host      string
		ident     string
		syslogPID int
		pri       int
	}{
		{"bare body", body, "", "", "", 0, -1},
		{"rfc3164 devlog", "<81>immunix[4242]: " + body, "", "", "immunix", 4242, 81},
		{"rfc3164 glibc stamp", "<81>Nov 26 20:00:00 immunix[4242]: " + body, "2026-11-26T20:00:00Z", "", "immunix", 4242, 81},
		{"rfc3164 with host", "<81>Nov  6 20:00:00 web1 immunix[7]: " + body, "2026-11-06T20:00:00Z", "web1", "immunix", 7, 81},
		{"rfc5424", "<81>1 2026-11-26T20:00:00.5Z web1 immunix 4242 - - " + body, "2026-11-26T20:00:00.5Z", "web1", "immunix", 4242, 81},
		{"rfc5424 nil values", "<81>1 - - - - - - " + body, "", "", "", 0, 81},
		{"syslog file", "Nov 26 20:00:00 host immunix[123]: " + body, "2026-11-26T20:00:00Z", "host", "immunix", 123, -1},
		{"syslog file last year", "Dec 31 23:59:59 host immunix[123]: " + body, "2025-12-31T23:59:59Z", "host", "immunix", 123, -1},
		{"syslog file one-digit day", "Nov 6 20:00:00 host immunix[123]: " + body, "2026-11-06T20:00:00Z", "host", "immunix", 123, -1},
		{"rsyslog precise", "2026-11-26T20:00:00.123456+00:00 host immunix[9]: " + body, "2026-11-26T20:00:00.123456Z", "host", "immunix", 9, -1},
		{"dmesg", "[ 1234.5678] " + body, "", "", "", 0, -1},
		{"journal", `{"MESSAGE":"` + body + `","__REALTIME_TIMESTAMP":"1795723200000000","_PID":"99","SYSLOG_IDENTIFIER":"immunix","_HOSTNAME":"h","PRIORITY":"1","SYSLOG_FACILITY":"10"}`, "2026-11-26T20:00:00Z", "h", "immunix", 99, 81},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := p.ParseLine(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if a.Kind != "stackguard" || a.Exe != "/usr/local/bin/server" || a.PID != 4242 || a.UID != 1000 || a.Msg != "stack canary overwritten" {
				t.Errorf("body = %+v", a)
			}
			if v, _ := a.Get("addr"); v != "0x401196" {
				t.Errorf("addr = %q", v)
			}
			if v, _ := a.Get("fn"); v != "handle_request" {
				t.Errorf("fn = %q", v)
			}
			var got string
			if !a.Time.IsZero() {
				got = a.Time.UTC().Format(time.RFC3339Nano)
			}
			if got != tt.time || a.Host != tt.host || a.Ident != tt.ident || a.SyslogPID != tt.syslogPID || a.Priority != tt.pri {
				t.Errorf("envelope = time %q host %q ident %q pid %d pri %d, want %q %q %q %d %d",
					got, a.Host, a.Ident, a.SyslogPID, a.Priority, tt.time, tt.host, tt.ident, tt.syslogPID, tt.pri)
			}
		})
	}
}

func TestJournalByteArrayMessage(t *testing.T) {
	msg := "immunix alert: kind=subdomain exe=/bin/\xff pid=1 uid=0 msg=x"
	var ints []string
	for _, c := range []byte(msg) {
		ints = append(ints, itoa(int(c)))
	}
	line := `{"MESSAGE":[` + strings.Join(ints, ",") + `]}`
	var p Parser
	a, err := p.ParseLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if a.Exe != "/bin/\xff" {
		t.Errorf("exe = %q", a.Exe)
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestNotAlert(t *testing.T) {
	var p Parser
	for _, line := range []string{
		"",
		"Nov 26 20:00:00 host sshd[1]: Accepted publickey for root",
		`{"MESSAGE":"hello"}`,
		"<81>immunix[1]: something else",
	} {
		if _, err := p.ParseLine(line); !errors.Is(err, ErrNotAlert) {
			t.Errorf("ParseLine(%q) = %v, want ErrNotAlert", line, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, line := range []string{
		"immunix alert: exe=/x pid=1 uid=0 msg=m",          // kind missing
		"immunix alert: kind=x exe=/x pid=one uid=0 msg=m", // pid not a number
		"immunix alert: kind=x exe=/x pid=1",               // uid missing
		"immunix alert: kind=x exe=/x pid=1 uid=0 junk msg=m",
		"immunix alert: kind= exe=/x pid=1 uid=0 msg=m",
		`{"MESSAGE":`,
	} {
		var p Parser
		_, err := p.ParseLine(line)
		if err == nil || errors.Is(err, ErrNotAlert) {
			t.Errorf("ParseLine(%q) = %v, want a malformed-alert error", line, err)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	a := Alert{Kind: "subdomain", Exe: "/tmp/a b\\c\n\xff", PID: 3, UID: 4,
		Fields: []Field{{"op", "open"}, {"path", "/etc/sh adow"}}, Msg: "denied \x01 by \\x41 profile"}
	b := a.Body()
	if strings.IndexByte(b, '\n') >= 0 || strings.IndexByte(b, 1) >= 0 || strings.IndexByte(b, 0xff) >= 0 {
		t.Fatalf("body not escaped: %q", b)
	}
	want := `immunix alert: kind=subdomain exe=/tmp/a\x20b\x5cc\x0a\xff pid=3 uid=4 op=open path=/etc/sh\x20adow msg=denied \x01 by \x5cx41 profile`
	if b != want {
		t.Errorf("Body() =\n%s\nwant\n%s", b, want)
	}
	got, err := ParseBody(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Exe != a.Exe || got.Msg != a.Msg || len(got.Fields) != 2 || got.Fields[1] != a.Fields[1] {
		t.Errorf("round trip = %+v, want %+v", got, a)
	}
}

func TestWriterSyslogSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var stderr strings.Builder
	w := &Writer{Socket: sock, Stderr: &stderr, PID: 77}
	a := Alert{Kind: "subdomain", Exe: "/bin/x", PID: 77, UID: 0, Msg: "denied"}
	if err := w.Send(&a); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := "<81>immunix[77]: immunix alert: kind=subdomain exe=/bin/x pid=77 uid=0 msg=denied"
	if string(buf[:n]) != want {
		t.Errorf("datagram = %q, want %q", buf[:n], want)
	}
	if stderr.String() != want[len("<81>immunix[77]: "):]+"\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
	var p Parser
	if got, err := p.ParseLine(string(buf[:n])); err != nil || got.Priority != 81 || got.SyslogPID != 77 {
		t.Errorf("reparse = %+v, %v", got, err)
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add(body)
	f.Add("<81>immunix[4242]: " + body)
	f.Add("<81>1 2026-11-26T20:00:00.5Z web1 immunix 4242 - - " + body)
	f.Add("Nov 26 20:00:00 host immunix[123]: " + body)
	f.Add(`{"MESSAGE":"` + body + `","__REALTIME_TIMESTAMP":"1795723200000000"}`)
	f.Add("immunix alert: kind=x exe=/x\\x2 pid=1 uid=0 msg=\\x")
	f.Fuzz(func(t *testing.T, line string) {
		p := Parser{Now: fixedNow, Location: time.UTC}
		a, err := p.ParseLine(line)
		if err != nil {
			return
		}
		// A parsed alert re-formats to a body that parses to the same fields.
		b, err := ParseBody(a.Body())
		if err != nil {
			t.Fatalf("reparse of %q: %v", a.Body(), err)
		}
		if b.Kind != a.Kind || b.Exe != a.Exe || b.PID != a.PID || b.UID != a.UID || b.Msg != a.Msg || len(b.Fields) != len(a.Fields) {
			t.Fatalf("round trip changed %+v into %+v", a, b)
		}
	})
}

// The msg escaping matches guardlib/runtime/alert.c: spaces stay, bytes
// outside 0x20..0x7e and '\' become \xNN.
func TestEscapeMsgLikeC(t *testing.T) {
	if got := EscapeMsg("caf\xc3\xa9 \\ tab\there\x7f"); got != `caf\xc3\xa9 \x5c tab\x09here\x7f` {
		t.Errorf("EscapeMsg = %q", got)
	}
}
