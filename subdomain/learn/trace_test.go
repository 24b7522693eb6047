package learn

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/immunix/immunix/subdomain"
)

func events(t *testing.T, trace string) ([]Event, *Parser) {
	t.Helper()
	var evs []Event
	p := &Parser{Cwd: "/start", Emit: func(e *Event) {
		c := *e
		c.Raw = nil
		evs = append(evs, c)
	}}
	p.Parse(strings.NewReader(trace))
	return evs, p
}

func TestParserEvents(t *testing.T) {
	tests := []struct {
		name  string
		trace string
		want  []string // "pid syscall path mode err"
	}{
		{"relative open before any cwd annotation",
			"1 execve(\"/bin/x\", [\"x\"], 0x1 /* 1 var */) = 0\n1 open(\"rel\", O_RDONLY) = 3\n",
			[]string{"1 execve /bin/x x ", "1 open /start/rel r "}},
		{"creat and truncate",
			"1 creat(\"/t/a\", 0644) = 3</t/a>\n1 truncate(\"/t/b\", 0) = 0\n1 ftruncate(3</t/a>, 0) = 0\n",
			[]string{"1 creat /t/a wc ", "1 truncate /t/b w ", "1 ftruncate /t/a w "}},
		{"openat2 flags",
			"1 openat2(AT_FDCWD</d>, \"f\", {flags=O_RDWR|O_CREAT, mode=0600, resolve=0}, 24) = 3</d/f>\n",
			[]string{"1 openat2 /d/f rwc "}},
		{"O_PATH and stat are lookups",
			"1 openat(AT_FDCWD</d>, \"p\", O_RDONLY|O_PATH) = 3</d/p>\n1 statx(AT_FDCWD</d>, \"s\", AT_STATX_SYNC_AS_STAT, STATX_ALL, {stx_mask=0}) = 0\n1 access(\"/etc/a\", R_OK) = 0\n1 readlinkat(AT_FDCWD</d>, \"l\", \"x\", 4096) = 1\n",
			[]string{"1 openat /d/p - ", "1 statx /d/s - ", "1 access /etc/a - ", "1 readlinkat /d/l - "}},
		{"fchdir and relative paths",
			"1 fchdir(3</opt/app>) = 0\n1 mkdir(\"new\", 0755) = 0\n1 rmdir(\"old\") = 0\n1 unlinkat(AT_FDCWD, \"gone\", AT_REMOVEDIR) = 0\n",
			[]string{"1 mkdir /opt/app/new/ c ", "1 rmdir /opt/app/old/ c ", "1 unlinkat /opt/app/gone/ c "}},
		{"links and renames",
			"1 linkat(AT_FDCWD</d>, \"a\", 5</e>, \"b\", 0) = 0\n1 symlink(\"/target\", \"/d/lnk\") = 0\n1 renameat2(AT_FDCWD</d>, \"x\", AT_FDCWD</d>, \"y\", RENAME_NOREPLACE) = 0\n",
			[]string{"1 linkat /d/a r ", "1 linkat /e/b c ", "1 symlink /d/lnk c ", "1 renameat2 /d/x c ", "1 renameat2 /d/y c "}},
		{"chmod family",
			"1 fchmodat(AT_FDCWD</d>, \"f\", 0600) = 0\n1 fchownat(3</d>, \"\", 0, 0, AT_EMPTY_PATH) = 0\n1 fchmod(4</d/g>, 0600) = 0\n1 lchown(\"/d/h\", 0, 0) = 0\n",
			[]string{"1 fchmodat /d/f w ", "1 fchownat /d w ", "1 fchmod /d/g w ", "1 lchown /d/h w "}},
		{"failed execve keeps the attempt",
			"1 execve(\"/bin/x\", [\"x\"], 0x1 /* 1 var */) = 0\n1 execve(\"/bin/sh\", [\"sh\"], 0x1 /* 1 var */) = -1 EACCES (Permission denied)\n",
			[]string{"1 execve /bin/x x ", "1 execve /bin/sh x EACCES"}},
		{"pid prefix in brackets",
			"[pid 7] openat(AT_FDCWD</w>, \"f\", O_WRONLY) = 3</w/f>\n",
			[]string{"7 openat /w/f w "}},
		{"every shape of path row",
			"1 unlinkat(3</d>, \"f\", 0) = 0\n1 mknodat(AT_FDCWD</d>, \"n\", S_IFIFO|0600) = 0\n1 symlinkat(\"/t\", 3</d>, \"s\") = 0\n1 mkdirat(3</d>, \"m\", 0700) = 0\n" +
				"1 linkat(3</d/tmpf>, \"\", AT_FDCWD</d>, \"kept\", AT_EMPTY_PATH) = 0\n1 newfstatat(3</d>, \"\", {st_mode=S_IFDIR|0755}, AT_EMPTY_PATH) = 0\n" +
				"1 chroot(\"/jail\") = 0\n1 utimensat(AT_FDCWD</d>, \"u\", NULL, 0) = 0\n1 rename(\"/d/a\", \"/d/b\") = -1 EXDEV (Invalid cross-device link)\n",
			[]string{"1 unlinkat /d/f c ", "1 mknodat /d/n c ", "1 symlinkat /d/s c ", "1 mkdirat /d/m/ c ",
				"1 linkat /d/tmpf r ", "1 linkat /d/kept c ", "1 chroot /jail - ", "1 utimensat /d/u w ",
				"1 rename /d/a c EXDEV", "1 rename /d/b c EXDEV"}},
		{"dangerous calls without a path",
			"1 ptrace(PTRACE_ATTACH, 99) = -1 EPERM (Operation not permitted)\n1 mount(\"none\", \"/mnt\", \"tmpfs\", 0, NULL) = 0\n",
			[]string{"1 ptrace  - EPERM", "1 mount /mnt - "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, p := events(t, tt.trace)
			if p.Warnings > 0 {
				t.Errorf("warnings: %d, first %s", p.Warnings, p.FirstWarning)
			}
			var got []string
			for _, e := range evs {
				m := e.Mode.String()
				if m == "" {
					m = "-"
				}
				got = append(got, strings.Join([]string{itoa(e.PID), e.Syscall, e.Path, m, e.Err}, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+n%10))) }

func TestUnquote(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`"a b\nc\t\"q\"\\"`, "a b\nc\t\"q\"\\"},
		{`"\377\0\12x"`, "\xff\x00\nx"},
		{`"\xff\x41"`, "\xffA"},
	}
	for _, tt := range tests {
		got, ok := unquote([]byte(tt.in), true)
		if !ok || got != tt.want {
			t.Errorf("unquote(%s) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{`"cut"...`, `"unterminated`, `"\x4"`, `"\777"`, `noquote`} {
		if got, ok := unquote([]byte(bad), true); ok {
			t.Errorf("unquote(%s) = %q, want failure", bad, got)
		}
	}
}

func TestBadTraces(t *testing.T) {
	tests := []struct {
		name, trace string
		notTrace    bool
		warnings    int
	}{
		{"garbage", "hello world\nthis is not strace\n", true, 2},
		{"binary", "\x00\x01\x02\xff\n", true, 1},
		{"truncated string from -s", "1 execve(\"/bin/x\", [\"x\"], 0x1 /* 1 var */) = 0\n1 openat(AT_FDCWD</d>, \"/very/long\"..., O_RDONLY) = 3\n", false, 1},
		{"cut mid line", "1 execve(\"/bin/x\", [\"x\"], 0x1 /* 1 var */) = 0\n1 openat(AT_FDCWD</d>, \"/etc/pa", false, 1},
		{"resumed without start", "1 <... openat resumed>) = 3</x>\n", true, 1},
		{"no return value", "1 execve(\"/bin/x\", [\"x\"], 0x1 /* 1 var */) = 0\n1 openat(AT_FDCWD</d>, \"/x\", O_RDONLY)\n", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Parser{}
			err := p.Parse(strings.NewReader(tt.trace))
			if tt.notTrace != errors.Is(err, ErrNotTrace) {
				t.Errorf("Parse error = %v, want ErrNotTrace %v", err, tt.notTrace)
			}
			if p.Warnings != tt.warnings {
				t.Errorf("warnings = %d (%s), want %d", p.Warnings, p.FirstWarning, tt.warnings)
			}
		})
	}
	// A trace that never executed anything makes no profile, with a reason.
	b := NewBuilder(Options{})
	p := &Parser{Emit: b.Add}
	p.Parse(strings.NewReader("1 openat(AT_FDCWD</d>, \"/x\", O_RDONLY) = 3</x>\n"))
	if _, err := b.Profile(); err == nil || !strings.Contains(err.Error(), "no successful execve") {
		t.Errorf("Profile() error = %v", err)
	}
}

func TestRandomNames(t *testing.T) {
	for in, want := range map[string]string{
		"tmpab12cd9z":          "tmp*",
		"tmp.AbC123xyzQ":       "tmp.*",
		"prog-k3J9xQ2a":        "prog-*",
		"TestLearnCat12345678": "TestLearnCat*",
		"pymp-x8_2kq1z":        "pymp-*",
		"notes.txt":            "",
		"cache":                "",
		"001":                  "",
	} {
		got, _ := randomName(in)
		if got != want {
			t.Errorf("randomName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"libc.so.6":            "libc.so.*",
		"libssl.so.3.0.2":      "libssl.so.*",
		"libfoo-2.31.so":       "libfoo-*.so",
		"libfoo.so":            "",
		"libpython3.11.so.1.0": "libpython3.11.so.*",
	} {
		got, _ := versionedLib(in)
		if got != want {
			t.Errorf("versionedLib(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGlobDepth(t *testing.T) {
	b := NewBuilder(Options{})
	p := &subdomain.Profile{Program: "/bin/x"}
	for _, f := range []string{"/etc/a", "/etc/b", "/etc/c", "/etc/d", "/usr/share/x/a", "/usr/share/x/b", "/usr/share/x/c", "/usr/share/x/d", "/usr/share/x/e"} {
		p.Rules = append(p.Rules, subdomain.Rule{Path: f, Mode: subdomain.Read})
	}
	p.Rules = append(p.Rules, subdomain.Rule{Path: "/usr/share/x/w", Mode: subdomain.Write})
	b.generalise(p)
	var out bytes.Buffer
	subdomain.Format(&out, p)
	want := "# /bin/x 1\n/etc/a r\n/etc/b r\n/etc/c r\n/etc/d r\n/usr/share/x/* r\n/usr/share/x/w w\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestIPCEvents: the trace lines that make network udp, network unix
// abstract, signal outside and the syscall grants.
func TestIPCEvents(t *testing.T) {
	trace := "100 execve(\"/bin/p\", [\"p\"], 0x1 /* 1 var */) = 0\n" +
		"100 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<UDP:[286334]>\n" +
		"100 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 5<TCP:[286335]>\n" +
		"100 connect(4<UNIX-STREAM:[1]>, {sa_family=AF_UNIX, sun_path=@\"name\"}, 11) = -1 ECONNREFUSED (Connection refused)\n" +
		"100 kill(100, 0) = 0\n" +
		"100 kill(4242, SIGTERM) = 0\n" +
		"100 memfd_create(\"a\", MFD_CLOEXEC|MFD_NOEXEC_SEAL) = 6</memfd:a (deleted)>\n" +
		"100 memfd_create(\"b\", MFD_CLOEXEC) = 7</memfd:b (deleted)>\n" +
		"100 fchmodat(AT_FDCWD</d>, \"f\", 0600) = 0\n" +
		"100 adjtimex({modes=0, offset=0}) = 0 (TIME_OK)\n"
	b := NewBuilder(Options{})
	p := &Parser{Cwd: "/", Emit: b.Add}
	if err := p.Parse(strings.NewReader(trace)); err != nil {
		t.Fatal(err)
	}
	prof, err := b.Profile()
	if err != nil {
		t.Fatal(err)
	}
	var net []string
	for _, n := range prof.Net {
		net = append(net, n.String())
	}
	if got, want := strings.Join(net, ", "), "signal outside, network udp, network unix abstract"; got != want {
		t.Errorf("net rules %q, want %q", got, want)
	}
	// A chmod needs a w rule on its file, no syscall grant (the
	// supervisor performs it where the profile grants w).
	if got, want := strings.Join(prof.Syscalls, " "), "adjtimex memfd_create"; got != want {
		t.Errorf("syscall grants %q, want %q", got, want)
	}
	found := false
	for _, r := range prof.Rules {
		if r.Path == "/d/f" && r.Mode&subdomain.Write != 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("no w rule for the chmod of /d/f: %v", prof.Rules)
	}
}

func FuzzParser(f *testing.F) {
	for _, s := range []string{
		"1 execve(\"/bin/x\", [\"x\"], 0x1 /* 1 var */) = 0\n1 open(\"rel\", O_RDONLY) = 3\n",
		"200 vfork( <unfinished ...>\n201 execve(\"/h\", [\"h\"], 0x55 /* 3 vars */ <unfinished ...>\n200 <... vfork resumed>) = 201\n201 <... execve resumed>) = 0\n",
		"201 openat(AT_FDCWD, \"a b\\nc>d<e\\377\", O_RDONLY) = 4</var/www/a b\\nc\\76d\\74e\\377>\n",
		"100 connect(12<TCP:[125]>, {sa_family=AF_INET6, sin6_port=htons(443)}, 28) = -1 EINPROGRESS (x)\n",
		"100 bind(10<UNIX-STREAM:[123]>, {sa_family=AF_UNIX, sun_path=\"/run/prog.sock\"}, 17) = 0\n",
		"100 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<UDP:[286334]>\n100 kill(1, 0) = 0\n100 memfd_create(\"x\", MFD_CLOEXEC) = 4</memfd:x (deleted)>\n",
		"100 connect(4<UNIX-STREAM:[1]>, {sa_family=AF_UNIX, sun_path=@\"name\"}, 11) = -1 ECONNREFUSED (Connection refused)\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewBuilder(Options{})
		p := &Parser{Cwd: "/", Emit: func(e *Event) {
			if e.Path != "" && !strings.HasPrefix(e.Path, "/") {
				t.Fatalf("relative path in event: %q", e.Path)
			}
			b.Add(e)
		}}
		p.Parse(bytes.NewReader(data))
		prof, err := b.Profile()
		if err != nil {
			return
		}
		var out bytes.Buffer
		subdomain.Format(&out, prof)
		if _, err := subdomain.Parse("fuzz", out.Bytes()); err != nil {
			t.Fatalf("learned profile does not parse: %v\n%s", err, out.String())
		}
	})
}
