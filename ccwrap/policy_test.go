package ccwrap

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLoadPolicy(t *testing.T) {
	files := map[string]string{
		"/etc/good.conf":      "# immunix\nIMMUNIX_DISABLE=canary, pie\nIMMUNIX_FLAGS=\"-O2 -g\"\n\nIMMUNIX_DEBUG=1\nIMMUNIX_CC=ccache gcc\nIMMUNIX_RACEGUARD=kill\n",
		"/etc/bad-race.conf":  "IMMUNIX_RACEGUARD=sometimes\n",
		"/etc/bad-key.conf":   "IMMUNIX_DISABLE=canary\nIMMUNIX_NOPE=1\n",
		"/etc/bad-line.conf":  "# x\nIMMUNIX_DISABLE\n",
		"/etc/bad-name.conf":  "IMMUNIX_DISABLE=canary,stackguard\n",
		"/etc/bad-bool.conf":  "IMMUNIX_STRICT=maybe\n",
		"/etc/bad-shlex.conf": "IMMUNIX_FLAGS=\"-DX='unterminated\n",
	}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	p, err := LoadPolicy("/etc/good.conf", read, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Disabled[Canary] || !p.Disabled[PIE] || p.Disabled[RELRO] || !p.Debug || p.Strict ||
		!reflect.DeepEqual(p.Flags, []string{"-O2", "-g"}) || !reflect.DeepEqual(p.CC, []string{"ccache", "gcc"}) {
		t.Errorf("good.conf: %+v", p)
	}
	// The environment overrides the file.
	env["IMMUNIX_DISABLE"] = "relro"
	env["IMMUNIX_DEBUG"] = "0"
	p, err = LoadPolicy("/etc/good.conf", read, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if p.Disabled[Canary] || !p.Disabled[RELRO] || p.Debug {
		t.Errorf("env override: %+v", p)
	}
	env = map[string]string{}
	if p, err := LoadPolicy("/etc/missing.conf", read, getenv); err != nil || len(p.Disabled) != 0 {
		t.Errorf("missing file: %+v, %v", p, err)
	}
	for file, want := range map[string]string{
		"/etc/bad-key.conf":   "/etc/bad-key.conf:2: unknown key \"IMMUNIX_NOPE\"",
		"/etc/bad-line.conf":  "/etc/bad-line.conf:2: want KEY=VALUE",
		"/etc/bad-name.conf":  "/etc/bad-name.conf:1: IMMUNIX_DISABLE: unknown protection \"stackguard\"",
		"/etc/bad-bool.conf":  "/etc/bad-bool.conf:1: IMMUNIX_STRICT",
		"/etc/bad-shlex.conf": "/etc/bad-shlex.conf:1: IMMUNIX_FLAGS",
		"/etc/bad-race.conf":  "/etc/bad-race.conf:1: IMMUNIX_RACEGUARD: \"sometimes\" is not refuse, kill or off",
	} {
		_, err := LoadPolicy(file, read, getenv)
		if err == nil || !strings.Contains(err.Error(), want) || ExitCode(err) != ExitUsage {
			t.Errorf("%s: err = %v, want it to contain %q and exit %d", file, err, want, ExitUsage)
		}
	}
}

func TestSplitResponseFile(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" \n\t ", nil},
		{"a b\tc\nd", []string{"a", "b", "c", "d"}},
		{`"a b" 'c d'`, []string{"a b", "c d"}},
		{`'' ""`, []string{"", ""}},
		{`a\ b`, []string{"a b"}},
		{`"a\"b"`, []string{`a"b`}},
		{`'a\'b'`, []string{`a'b`}},
		{`x"y z"w`, []string{"xy zw"}},
		{"a\\\nb", []string{"a\nb"}},
		{`-DMSG="hello world"`, []string{"-DMSG=hello world"}},
		{`'unterminated`, []string{"unterminated"}},
	}
	for _, tt := range tests {
		if got := SplitResponseFile(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitResponseFile(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseProtections(t *testing.T) {
	m, err := ParseProtections("all")
	if err != nil || len(m) != len(Protections) {
		t.Errorf("all: %v, %v", m, err)
	}
	if _, err := ParseProtections("canary,,pie "); err != nil {
		t.Error(err)
	}
	if _, err := ParseProtections("Canary"); err == nil {
		t.Error("names are case-sensitive, as in the stamp")
	}
}

// TestHostileConfig: IMMUNIX_CONFIG naming a FIFO, a device, a directory, a
// huge file or a huge line gives exit 100 with one line naming the file (and
// the line), never a hang or unbounded memory.
func TestHostileConfig(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	longLine := filepath.Join(dir, "long-line.conf")
	if err := os.WriteFile(longLine, []byte("IMMUNIX_FLAGS="+strings.Repeat("x", 4<<20)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.conf")
	if err := os.WriteFile(big, []byte(strings.Repeat("# comment\n", MaxConfigSize/10+10)), 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := func(string) string { return "" }
	for _, tt := range []struct{ path, want string }{
		{fifo, fifo + ": not a regular file (a FIFO)"},
		{"/dev/zero", "/dev/zero: not a regular file (a character device)"},
		{dir, dir + ": not a regular file (a directory)"},
		{longLine, longLine + ":1: line longer than 65536 bytes"},
		{big, big + ":104858: file larger than 1048576 bytes"},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := LoadPolicy(tt.path, ReadConfigFile, getenv)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(time.Minute):
			t.Fatalf("%s: LoadPolicy hangs", tt.path)
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || ExitCode(err) != ExitUsage || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v (exit %d), want one line containing %q and exit %d", tt.path, err, ExitCode(err), tt.want, ExitUsage)
		}
	}
	// A regular file at the limit is still read.
	ok := filepath.Join(dir, "ok.conf")
	if err := os.WriteFile(ok, []byte("IMMUNIX_DEBUG=1\n"+strings.Repeat("#", MaxConfigLine)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := LoadPolicy(ok, ReadConfigFile, getenv); err != nil || !p.Debug {
		t.Errorf("ok.conf: %+v, %v", p, err)
	}
}
