package subdomain

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

func TestDangerousSorted(t *testing.T) {
	if !slices.IsSorted(DangerousSyscalls) {
		t.Fatal("DangerousSyscalls must be sorted (IsDangerous searches it)")
	}
	for _, s := range DangerousSyscalls {
		if syscallAppArmor[s] == "" {
			t.Errorf("no AppArmor rule for %s", s)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/full.sd")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("full.sd", data)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Format(&out, p); err != nil {
		t.Fatal(err)
	}
	q, err := Parse("again", out.Bytes())
	if err != nil {
		t.Fatalf("reparse: %v\n%s", err, out.String())
	}
	var out2 bytes.Buffer
	Format(&out2, q)
	if out.String() != out2.String() {
		t.Errorf("format is not stable:\n%s\n---\n%s", out.String(), out2.String())
	}
	if c := p.Count(); c != (Counts{Profiles: 3, Files: 11, Net: 5, Syscalls: 2}) {
		t.Errorf("Count = %v", c)
	}
	if !strings.Contains(out.String(), "\"/tmp/a b\\x0a\\xff\" rwc\n") {
		t.Errorf("quoted path lost:\n%s", out.String())
	}
	child, ok := p.ChildFor("/usr/bin/helper")
	if !ok || child == nil || child.Program != "/usr/bin/helper" {
		t.Fatalf("ChildFor(helper) = %v, %v", child, ok)
	}
	if ok, _ := child.Allows("/etc/secret", Read); !ok {
		t.Error("helper may not read /etc/secret")
	}
	if ok, _ := p.Allows("/etc/secret", Read); ok {
		t.Error("cgi may read /etc/secret")
	}
	if c, ok := p.ChildFor("/bin/ls"); !ok || c != nil {
		t.Errorf("ChildFor(/bin/ls) = %v, %v; want inherit", c, ok)
	}
	if _, ok := p.ChildFor("/bin/sh"); ok {
		t.Error("/bin/sh may be executed")
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/etc/passwd", "/etc/passwd", true},
		{"/etc/passwd", "/etc/passwd2", false},
		{"/tmp/*", "/tmp/x", true},
		{"/tmp/*", "/tmp/x/y", false},
		{"/tmp/**", "/tmp/x/y", true},
		{"/proc/@{pid}/stat", "/proc/123/stat", true},
		{"/proc/@{pid}/stat", "/proc/self/stat", false},
		{"/proc/@{pid}/stat", "/proc/0/stat", false},
		{"@{HOME}/.bashrc", "/home/ann/.bashrc", true},
		{"@{HOME}/.bashrc", "/root/.bashrc", true},
		{"@{HOME}/.bashrc", "/home/ann/x/.bashrc", false},
		{"/usr/lib/libc.so.*", "/usr/lib/libc.so.6", true},
		{"/usr/share/{a,b}/x", "/usr/share/b/x", true},
		{"/usr/share/{a,b}/x", "/usr/share/c/x", false},
		{"/a.b", "/axb", false},
		{"/f?", "/f1", true},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.path); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

func TestGlobBase(t *testing.T) {
	for pattern, want := range map[string]string{
		"/etc/passwd":        "/etc/passwd",
		"/tmp/*":             "/tmp",
		"/usr/lib/libc.so.*": "/usr/lib",
		"/proc/@{pid}/stat":  "/proc",
		"@{HOME}/.x":         "/",
		"/*":                 "/",
	} {
		if got := GlobBase(pattern); got != want {
			t.Errorf("GlobBase(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "p:1:1: first line must be the header"},
		{"/etc/x r\n", "p:1:1: first line must be the header"},
		{"# prog 1\n", "p:1:3: program \"prog\" in the header is not an absolute path"},
		{"# /bin/x 2\n", "p:1:10: unsupported profile syntax version \"2\""},
		{"# /bin/x 1\n/etc/x q\n", "p:2:8: unknown mode 'q'"},
		{"# /bin/x 1\n/etc/x\n", "p:2:7: rule for /etc/x has no mode"},
		{"# /bin/x 1\n  etc/x r\n", "p:2:3: path \"etc/x\" is not absolute"},
		{"# /bin/x 1\n/etc/x rr\n", "p:2:9: mode 'r' repeated"},
		{"# /bin/x 1\n/bin/y px\n", "p:2:8: px rule for /bin/y needs a nested profile"},
		{"# /bin/x 1\n/bin/y px {\n/etc/z r\n", "p:2:1: nested profile is not closed"},
		{"# /bin/x 1\n}\n", "p:2:1: '}' without an open nested profile"},
		{"# /bin/x 1\n/etc/x r {\n", "p:2:10: only a px rule opens a nested profile"},
		{"# /bin/x 1\nnetwork udp bind 1\n", "p:2:13: want \"network udp\""}, {"# /bin/x 1\nnetwork sctp bind 1\n", "p:2:9: unknown protocol \"sctp\""}, {"# /bin/x 1\nsignal any\n", "p:2:1: want \"signal outside\""},
		{"# /bin/x 1\nnetwork tcp bind 70000\n", "p:2:18: bad port \"70000\""},
		{"# /bin/x 1\nsyscall read\n", "p:2:9: \"read\" is not a blocked system call"},
		{"# /bin/x 1\n\"/etc/x r\n", "p:2:1: unterminated quoted path"},
		{"# /bin/x 1\n\"/etc/\\q\" r\n", "p:2:7: unknown escape \\q"},
		{"# /bin/x 1\n/etc/{a r\n", "p:2:8: unbalanced '{' in pattern"},
		{"# /bin/x 1\n/proc/@{tid}/x r\n", "p:2:7: unknown variable @{tid}"},
		{"# /bin/x 1\n/etc/\xff r\n", "p:2:6: byte 0xff in an unquoted token"},
	}
	for _, tt := range tests {
		_, err := Parse("p", []byte(tt.in))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want prefix %q", tt.in, err, tt.want)
		}
	}
}

func TestMerge(t *testing.T) {
	a, err := Parse("a", []byte("# /bin/x 1\n/etc/a r\n/tmp/t w\nnetwork tcp connect 80\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b", []byte("# /bin/x 1\n/etc/b r\n/tmp/t rc\nnetwork tcp connect 80\n"))
	if err != nil {
		t.Fatal(err)
	}
	a.Merge(b)
	var out bytes.Buffer
	Format(&out, a)
	want := "# /bin/x 1\n/etc/a r\n/etc/b r\n/tmp/t rwc\nnetwork tcp connect 80\n"
	if out.String() != want {
		t.Errorf("merged =\n%s\nwant\n%s", out.String(), want)
	}
}

// TestAppArmorParser feeds the AppArmor output to apparmor_parser's
// parse-only mode, which needs no AppArmor in the running kernel.
func TestAppArmorParser(t *testing.T) {
	parser := testenv.NeedsTool(t, "apparmor_parser")
	features := "/usr/share/apparmor-features/features"
	if _, err := os.Stat(features); err != nil {
		testenv.Missing(t, features+" is missing (Debian package apparmor)")
	}
	data, err := os.ReadFile("testdata/full.sd")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("full.sd", data)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := FormatAppArmor(&out, p); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "profile")
	os.WriteFile(file, out.Bytes(), 0o644)
	cmd := exec.Command(parser, "-QK", "-M", features, file)
	if msg, err := cmd.CombinedOutput(); err != nil || len(msg) > 0 {
		t.Fatalf("apparmor_parser -QK: %v\n%s\nprofile:\n%s", err, msg, out.String())
	}
	// And it must reject a broken one, or the test proves nothing.
	os.WriteFile(file, append(out.Bytes(), "profile broken {\n  /x rz,\n}\n"...), 0o644)
	if msg, err := exec.Command(parser, "-QK", "-M", features, file).CombinedOutput(); err == nil {
		t.Fatalf("apparmor_parser accepted a bad mode:\n%s", msg)
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile("testdata/full.sd")
	f.Add(data)
	f.Add([]byte("# /bin/x 1\n/etc/x r\n"))
	f.Add([]byte("# /bin/x 1\n/bin/y px {\n/bin/z px {\n}\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz", data)
		if err != nil {
			var pe *ParseError
			if !asParseError(err, &pe) {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		// Parse checks patterns without compiling them: every pattern it
		// accepts must compile for Match.
		p.Walk(func(q *Profile) {
			for _, r := range q.Rules {
				if _, err := compileGlob(r.Path); err != nil {
					t.Fatalf("accepted pattern %q does not compile: %v", r.Path, err)
				}
			}
		})
		var out bytes.Buffer
		if err := Format(&out, p); err != nil {
			t.Fatal(err)
		}
		q, err := Parse("again", out.Bytes())
		if err != nil {
			t.Fatalf("formatted profile does not parse: %v\n%s", err, out.String())
		}
		var out2 bytes.Buffer
		Format(&out2, q)
		if out.String() != out2.String() {
			t.Fatalf("not stable:\n%s\n---\n%s", out.String(), out2.String())
		}
	})
}

func asParseError(err error, pe **ParseError) bool {
	e, ok := err.(*ParseError)
	*pe = e
	return ok
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.sd")
	if err := os.WriteFile(good, []byte("# /bin/true 1\n/etc/hostname r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(good)
	if err != nil || p.Program != "/bin/true" {
		t.Errorf("Load(good) = %v, %v; want the /bin/true profile", p, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.sd")); err == nil || !strings.Contains(err.Error(), "read profile") {
		t.Errorf("Load(missing) error = %v; want a read error", err)
	}
	bad := filepath.Join(dir, "bad.sd")
	if err := os.WriteFile(bad, []byte("# /bin/true 1\n/etc/hostname zz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "bad.sd:2:") {
		t.Errorf("Load(bad) error = %v; want a file:line:col syntax error", err)
	}
}
