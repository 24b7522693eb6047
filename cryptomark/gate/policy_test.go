package gate

import (
	"os"
	"strings"
	"testing"

	"github.com/immunix/immunix/cryptomark"
)

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy("p", []byte("# c\n/tmp require-signed # trailing\n\n  /usr/local   audit\n/usr allow\n/ require-signed\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
	}{
		{"/tmp/x", "/tmp"},
		{"/tmp", "/tmp"},
		{"/tmpx/y", "/"},
		{"/usr/local/bin/x", "/usr/local"},
		{"/usr/localx", "/usr"},
		{"/usr/bin/ls", "/usr"},
		{"/home/u/a.out", "/"},
	}
	for _, tt := range tests {
		if r := p.Match(tt.path); r == nil || r.Prefix != tt.want {
			t.Errorf("Match(%s) = %+v, want %s", tt.path, r, tt.want)
		}
	}
	if r := (&Policy{}).Match("/x"); r != nil {
		t.Errorf("empty policy matched %+v", r)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"/tmp", "f:1: want \"PATH-PREFIX require-signed|allow|audit\", got 1 words"},
		{"\n/tmp allow extra", "f:2: want"},
		{"/tmp deny", "f:1: unknown action \"deny\""},
		{"tmp allow", "f:1: path prefix \"tmp\" is not absolute"},
		{"/a/../b allow", "f:1: path prefix \"/a/../b\" is not a clean path"},
		{"/a/./b allow", "is not a clean path"},
		{"/tmp allow\n" + strings.Repeat("x", 2<<20), "larger than"},
	}
	for _, tt := range tests {
		if _, err := ParsePolicy("f", []byte(tt.text)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.text, err, tt.want)
		}
	}
}

// TestShippedPolicy: the default policy parses and says what the issue
// asks: user-writable places need signatures, system directories are
// allowed, /usr/local and /opt one uncommented line away.
func TestShippedPolicy(t *testing.T) {
	p, err := LoadPolicy("../dist/cryptomark.conf")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]Action{
		"/home/u/a.out": RequireSigned, "/root/x": RequireSigned, "/tmp/x": RequireSigned, "/var/tmp/x": RequireSigned,
		"/dev/shm/x": RequireSigned, "/run/user/1000/x": RequireSigned,
		"/usr/bin/ls": Allow, "/bin/sh": Allow, "/usr/lib/x86_64-linux-gnu/libc.so.6": Allow, "/usr/local/bin/x": Allow,
		"/opt/x/bin/y": Allow, "/srv/x": Audit,
	} {
		if r := p.Match(path); r == nil || r.Action != want {
			t.Errorf("%s: %+v, want %v", path, r, want)
		}
	}
	data, _ := os.ReadFile("../dist/cryptomark.conf")
	text := strings.NewReplacer("#/usr/local", "/usr/local", "#/opt", "/opt").Replace(string(data))
	p, err = ParsePolicy("edited", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/usr/local/bin/x", "/opt/x/bin/y"} {
		if r := p.Match(path); r == nil || r.Action != RequireSigned {
			t.Errorf("uncommented: %s: %+v", path, r)
		}
	}
}

func TestDecide(t *testing.T) {
	p, _ := ParsePolicy("p", []byte("/sys allow\n/aud audit\n/req require-signed\n"))
	ok := cryptomark.Verdict{Signed: true, Trusted: true, Valid: true, KeyID: "k"}
	bad := cryptomark.Verdict{Err: cryptomark.ErrUnsigned}
	root := func(path string) FileInfo { return FileInfo{Path: path, UID: 0, Mode: 0o100755} }
	user := func(path string) FileInfo { return FileInfo{Path: path, UID: 1000, Mode: 0o100755} }
	tests := []struct {
		name   string
		fi     FileInfo
		v      cryptomark.Verdict
		audit  bool
		allow  bool
		alert  bool
		verify bool
	}{
		{"allow root", root("/sys/x"), bad, false, true, false, false},
		{"allow user-owned unsigned", user("/sys/x"), bad, false, false, true, true},
		{"allow group-writable unsigned", FileInfo{Path: "/sys/x", Mode: 0o100775}, bad, false, false, true, true},
		{"allow user-owned signed", user("/sys/x"), ok, false, true, false, true},
		{"require signed", user("/req/x"), ok, false, true, false, true},
		{"require unsigned", root("/req/x"), bad, false, false, true, true},
		{"require unsigned audit mode", root("/req/x"), bad, true, true, true, true},
		{"audit rule unsigned", user("/aud/x"), bad, false, true, true, true},
		{"audit rule signed", user("/aud/x"), ok, false, true, false, true},
		{"no rule: require", root("/else"), bad, false, false, true, true},
		{"script", FileInfo{Path: "/req/x", Mode: 0o100755, UID: 1000, Script: true}, bad, false, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, verify := Needs(p, tt.fi)
			d := Decide(p, tt.fi, tt.v, tt.audit)
			if d.Allow != tt.allow || d.Alert != tt.alert || verify != tt.verify {
				t.Errorf("got allow=%v alert=%v verify=%v (%+v)", d.Allow, d.Alert, verify, d)
			}
		})
	}
}

// FuzzParsePolicy: any text parses or fails with a FILE:LINE error; a
// parsed policy's rules are absolute clean prefixes with known actions.
func FuzzParsePolicy(f *testing.F) {
	if data, err := os.ReadFile("../dist/cryptomark.conf"); err == nil {
		f.Add(string(data))
	}
	f.Add("/tmp require-signed\n/ allow # x\n")
	f.Add("/a/../b audit")
	f.Add("\x00 allow")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParsePolicy("f", []byte(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") && !strings.HasPrefix(err.Error(), "f: ") {
				t.Fatalf("error without FILE:LINE: %v", err)
			}
			return
		}
		for _, r := range p.Rules {
			if !strings.HasPrefix(r.Prefix, "/") || strings.Contains(r.Prefix, "/../") || (r.Action != Allow && r.Action != Audit && r.Action != RequireSigned) {
				t.Fatalf("bad rule %+v", r)
			}
			if p.Match(r.Prefix) == nil {
				t.Fatalf("rule %q does not match its own prefix", r.Prefix)
			}
		}
	})
}
