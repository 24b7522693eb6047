package learn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/immunix/immunix/subdomain"
)

// Event is one access seen in a trace: a file opened, created, executed or
// mapped, a TCP port bound or connected, a dangerous system call made.
// Mode 0 means the call only looked at the name (stat, access, readlink).
type Event struct {
	Line    int    // line number in the trace (of the line that completed the call)
	PID     int    // process (thread) ID
	Exe     string // the program PID was running when it made the call
	Syscall string
	Path    string         // absolute, cleaned; a directory ends in "/"
	Mode    subdomain.Mode // what the call asked for
	Err     string         // errno name when the call failed ("ENOENT"), else ""
	Execed  bool           // a successful execve: PID now runs Path
	// Proto and NetOp: "tcp" and "bind" or "connect" (with Port), "udp"
	// and "any", "unix" and "abstract", "signal" and "outside".
	Proto string
	NetOp string
	// NoGrant: the call as made needs no "syscall" grant although its
	// name may (memfd_create with MFD_NOEXEC_SEAL).
	NoGrant bool
	Port    uint16
	Raw     []byte // the trace line(s); valid only during the callback
}

// Probe reports whether the event is a failed lookup of something that
// does not exist: such a call needs no permission (the kernel fails the
// lookup before any access check), so it makes no rule.
func (e *Event) Probe() bool {
	switch e.Err {
	case "ENOENT", "ENOTDIR", "ENAMETOOLONG", "ELOOP":
		return true
	}
	return false
}

// fsState is the part of a process that CLONE_FS shares: the cwd.
type fsState struct{ cwd string }

type proc struct {
	fs      *fsState
	exe     string
	cloning bool   // has an unfinished clone/fork/vfork
	pending []byte // the text of an unfinished call
}

// Parser turns strace output (strace -f -y, see Runner for the options)
// into Events. It keeps per-process state across lines: the current
// directory (chdir, fchdir, inherited over fork, shared under CLONE_FS),
// the running program (execve) and calls split into "<unfinished ...>" and
// "<... resumed>" halves.
type Parser struct {
	// Cwd is the directory the traced command started in, used until the
	// trace itself shows a process's directory.
	Cwd string
	// Emit receives each event; the pointer is reused after it returns.
	Emit func(*Event)
	// Warnings counts lines that could not be used (truncated strings,
	// resumed calls without a start, unknown shapes).
	Warnings int
	// FirstWarning describes the first of them.
	FirstWarning string
	// Calls counts the system calls seen.
	Calls int
	// SkipLookups drops calls that only look a name up (stat, access,
	// readlink...; Mode 0 events), which need no rule, before their
	// arguments are parsed. The dangerous ones (umount2, pivot_root...)
	// are still emitted.
	SkipLookups bool

	procs    map[int]*proc
	table    map[string]syscallInfo // syscallTable(), looked up once
	errnames map[string]string
	line     int
	lastPID  int
	ev       Event
	buf      []byte
}

// ErrNotTrace is returned when input does not look like strace output.
var ErrNotTrace = errors.New("not an strace -f trace")

func (p *Parser) warn(format string, args ...any) {
	if p.Warnings == 0 {
		p.FirstWarning = fmt.Sprintf("line %d: ", p.line) + fmt.Sprintf(format, args...)
	}
	p.Warnings++
}

func (p *Parser) proc(pid int) *proc {
	if p.procs == nil {
		p.procs = map[int]*proc{}
	}
	pr := p.procs[pid]
	if pr != nil {
		return pr
	}
	// A new process whose parent's clone has not returned yet (the child
	// often runs first): inherit from the process that is cloning.
	var parent *proc
	for _, q := range p.procs {
		if q.cloning {
			parent = q
			break
		}
	}
	if parent == nil {
		parent = p.procs[p.lastPID]
	}
	if parent != nil {
		pr = &proc{fs: &fsState{cwd: parent.fs.cwd}, exe: parent.exe}
	} else {
		pr = &proc{fs: &fsState{cwd: p.Cwd}}
	}
	p.procs[pid] = pr
	return pr
}

// Parse reads a whole trace. Lines starting with '#' are comments; a
// comment "# cwd=PATH" (written by Runner, PATH escaped as strace does)
// sets Cwd.
func (p *Parser) Parse(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: gather it.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 {
			p.Line(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read trace: %w", err)
		}
	}
	if p.line > 0 && p.Calls == 0 {
		return fmt.Errorf("parse trace: %w (%s)", ErrNotTrace, p.FirstWarning)
	}
	return nil
}

// Line parses one line of the trace.
func (p *Parser) Line(line []byte) {
	p.line++
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return
	}
	if line[0] == '#' {
		if v, ok := bytes.CutPrefix(line, []byte("# cwd=")); ok {
			if s, ok := unquote(v, false); ok {
				p.Cwd = s
			}
		}
		return
	}
	// PID prefix: "1234 " (strace -f -o) or "[pid 1234] " (to a tty).
	pid := 0
	rest := line
	if bytes.HasPrefix(rest, []byte("[pid ")) {
		rest = rest[5:]
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		pid = pid*10 + int(rest[i]-'0')
		i++
	}
	if i == 0 {
		pid = p.lastPID // a trace of one process has no PID column
	} else {
		rest = rest[i:]
		if len(rest) > 0 && rest[0] == ']' {
			rest = rest[1:]
		}
		for len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
	}
	if len(rest) == 0 {
		return
	}
	if rest[0] == '+' || rest[0] == '-' {
		// "+++ exited with 0 +++", "--- SIGCHLD {...} ---"
		if bytes.HasPrefix(rest, []byte("+++ ")) && p.procs != nil {
			delete(p.procs, pid)
		}
		return
	}
	pr := p.proc(pid)
	p.lastPID = pid
	if bytes.HasPrefix(rest, []byte("<... ")) {
		end := bytes.Index(rest, []byte(" resumed>"))
		if end < 0 {
			p.warn("bad resumed call")
			return
		}
		if pr.pending == nil {
			p.warn("resumed call without its start (truncated trace?)")
			return
		}
		p.buf = append(append(p.buf[:0], pr.pending...), rest[end+len(" resumed>"):]...)
		pr.pending = nil
		pr.cloning = false
		p.call(pid, pr, p.buf)
		return
	}
	if bytes.HasSuffix(rest, []byte(" <unfinished ...>")) {
		body := rest[:len(rest)-len(" <unfinished ...>")]
		pr.pending = append(pr.pending[:0], body...)
		if bytes.HasPrefix(body, []byte("clone")) || bytes.HasPrefix(body, []byte("fork")) || bytes.HasPrefix(body, []byte("vfork")) {
			pr.cloning = true
		}
		return
	}
	p.call(pid, pr, rest)
}

// call handles one complete call "name(args) = ret ...".
func (p *Parser) call(pid int, pr *proc, text []byte) {
	open := bytes.IndexByte(text, '(')
	if open <= 0 {
		p.warn("no system call in %q", clip(text))
		return
	}
	name := text[:open]
	if !isIdent(name) {
		p.warn("no system call in %q", clip(text))
		return
	}
	p.Calls++
	if p.table == nil {
		p.table = syscallTable()
	}
	sc, ok := p.table[string(name)]
	if !ok {
		return
	}
	kind := sc.kind
	switch {
	case kind == kMmap && !bytes.Contains(text, []byte("PROT_EXEC")):
		return // a data mapping: nothing to learn
	case p.SkipLookups && (kind == kStat || kind == kStatat) && !sc.dangerous:
		return
	}
	var args [6][]byte
	n, after, ok := splitArgs(text[open+1:], args[:needArgs[kind]])
	if !ok {
		p.warn("unterminated arguments in %q", clip(text))
		return
	}
	ret, errname, retAnn, ok := p.parseRet(after)
	if !ok {
		p.warn("no return value in %q", clip(text))
		return
	}
	ev := &p.ev
	*ev = Event{Line: p.line, PID: pid, Exe: pr.exe, Syscall: sc.name, Err: errname, Raw: text}
	arg := func(i int) []byte {
		if i < n {
			return args[i]
		}
		return nil
	}
	switch kind {
	case kOpen, kOpenat, kCreat, kOpenat2:
		var pathArg, flags []byte
		var dir []byte
		switch kind {
		case kOpen:
			pathArg, flags = arg(0), arg(1)
		case kCreat:
			pathArg, flags = arg(0), []byte("O_WRONLY|O_CREAT|O_TRUNC")
		case kOpenat:
			dir, pathArg, flags = arg(0), arg(1), arg(2)
		case kOpenat2:
			dir, pathArg = arg(0), arg(1)
			how := arg(2)
			if i := bytes.Index(how, []byte("flags=")); i >= 0 {
				flags = how[i+6:]
				if j := bytes.IndexAny(flags, ",}"); j >= 0 {
					flags = flags[:j]
				}
			}
		}
		if bytes.Contains(flags, []byte("O_PATH")) {
			ev.Mode = 0
		} else {
			ev.Mode = openMode(flags)
		}
		abs, ok := p.resolve(pr, dir, pathArg)
		if !ok {
			return
		}
		if errname == "" && retAnn != nil {
			if s, ok := unquote(retAnn, false); ok && strings.HasPrefix(s, "/") && strings.IndexByte(s, 0) < 0 {
				abs = s
			}
		}
		if bytes.Contains(flags, []byte("O_DIRECTORY")) && !strings.HasSuffix(abs, "/") {
			abs += "/"
		}
		ev.Path = abs
	case kStat: // path first
		p.pathEvent(ev, pr, nil, arg(0), 0)
		return
	case kStatat: // dirfd, path
		if len(arg(1)) == 2 && string(arg(1)) == `""` {
			return // fstat through AT_EMPTY_PATH
		}
		p.pathEvent(ev, pr, arg(0), arg(1), 0)
		return
	case kExecve, kExecveat:
		var dir, pathArg []byte
		if kind == kExecve {
			pathArg = arg(0)
		} else {
			dir, pathArg = arg(0), arg(1)
		}
		abs, ok := p.resolve(pr, dir, pathArg)
		if !ok {
			return
		}
		if string(ret) == "?" {
			return // the exec'ing thread's view of a multi-threaded exec
		}
		ev.Path, ev.Mode = abs, subdomain.Exec
		if errname == "" {
			ev.Execed = true
			p.emit(ev)
			pr.exe = abs
			return
		}
	case kChdir:
		abs, ok := p.resolve(pr, nil, arg(0))
		if !ok {
			return
		}
		if errname == "" {
			pr.fs.cwd = abs
		}
		ev.Path = dirPath(abs)
	case kFchdir:
		if d, ok := fdPath(arg(0)); ok && errname == "" {
			pr.fs.cwd = d
		}
		return
	case kMkdir, kRmdir: // path, ...
		p.pathEvent(ev, pr, nil, arg(0), subdomain.Create)
		ev.Path = dirPath(ev.Path)
	case kMkdirat: // dirfd, path
		p.pathEvent(ev, pr, arg(0), arg(1), subdomain.Create)
		ev.Path = dirPath(ev.Path)
	case kUnlink, kMknod: // path
		p.pathEvent(ev, pr, nil, arg(0), subdomain.Create)
	case kUnlinkat:
		p.pathEvent(ev, pr, arg(0), arg(1), subdomain.Create)
		if bytes.Contains(arg(2), []byte("AT_REMOVEDIR")) {
			ev.Path = dirPath(ev.Path)
		}
	case kMknodat:
		p.pathEvent(ev, pr, arg(0), arg(1), subdomain.Create)
	case kRename, kLink: // old, new
		oldMode := subdomain.Create
		if kind == kLink {
			oldMode = subdomain.Read
		}
		if p.pathEvent(ev, pr, nil, arg(0), oldMode) {
			p.emit(ev)
		}
		ev.Path = ""
		p.pathEvent(ev, pr, nil, arg(1), subdomain.Create)
	case kRenameat, kLinkat: // olddir, old, newdir, new
		oldMode := subdomain.Create
		if kind == kLinkat {
			oldMode = subdomain.Read
		}
		if p.pathEvent(ev, pr, arg(0), arg(1), oldMode) {
			p.emit(ev)
		}
		ev.Path = ""
		p.pathEvent(ev, pr, arg(2), arg(3), subdomain.Create)
	case kSymlink: // target, linkpath
		p.pathEvent(ev, pr, nil, arg(1), subdomain.Create)
	case kSymlinkat: // target, newdir, linkpath
		p.pathEvent(ev, pr, arg(1), arg(2), subdomain.Create)
	case kChmod: // path, ...
		p.pathEvent(ev, pr, nil, arg(0), subdomain.Write)
	case kChmodat: // dirfd, path, ...
		if string(arg(1)) == `""` {
			if d, ok := fdPath(arg(0)); ok {
				ev.Path, ev.Mode = d, subdomain.Write
			}
		} else {
			p.pathEvent(ev, pr, arg(0), arg(1), subdomain.Write)
		}
	case kFdWrite: // fd</path>, ...
		d, ok := fdPath(arg(0))
		if !ok {
			return
		}
		ev.Path, ev.Mode = d, subdomain.Write
	case kMmap:
		if !bytes.Contains(arg(2), []byte("PROT_EXEC")) {
			return
		}
		d, ok := fdPath(arg(4))
		if !ok {
			return
		}
		ev.Path, ev.Mode = d, subdomain.Mmap
	case kMount: // source, target, ...
		p.pathEvent(ev, pr, nil, arg(1), 0)
	case kSocket:
		// socket(AF_INET|AF_INET6, SOCK_DGRAM..., IPPROTO_IP|IPPROTO_UDP) = 3<UDP:[...]>
		if errname == "" && bytes.Contains(retAnn, []byte("UDP")) {
			ev.Proto, ev.NetOp = "udp", "any"
		}
	case kKill:
		// A signal to a process the trace does not follow (or to a
		// process group) leaves the confinement.
		target, err := strconv.Atoi(string(bytes.TrimSpace(arg(0))))
		if err == nil && errname == "" && (target <= 0 || p.procs[target] == nil) {
			ev.Proto, ev.NetOp = "signal", "outside"
		}
	case kBind, kConnect:
		p.sockEvent(ev, pr, kind, arg(0), arg(1))
		if errname == "EINPROGRESS" {
			ev.Err = ""
		}
	case kClone:
		pr.cloning = false
		if errname != "" {
			return
		}
		child, err := strconv.Atoi(string(ret))
		if err != nil {
			return
		}
		// clone(child_stack=..., flags=CLONE_VM|CLONE_FS|...) and
		// clone3({flags=...}): no text of the program's in these lines.
		flags := text
		shareFS := bytes.Contains(flags, []byte("CLONE_FS")) || bytes.Contains(flags, []byte("CLONE_THREAD"))
		c := p.procs[child]
		if c == nil {
			c = &proc{}
			p.procs[child] = c
		}
		if shareFS {
			c.fs = pr.fs
		} else if c.fs == nil || c.fs.cwd == "" {
			c.fs = &fsState{cwd: pr.fs.cwd}
		}
		if c.exe == "" {
			c.exe = pr.exe
		}
		return
	case kOther: // dangerous calls without a path: ptrace, reboot, modules
		p.emit(ev)
		return
	case kMemfd:
		// Only a memfd that can be made executable needs the grant.
		ev.NoGrant = n >= 2 && bytes.Contains(args[1], []byte("MFD_NOEXEC_SEAL"))
		p.emit(ev)
		return
	}
	if ev.Path == "" && ev.NetOp == "" {
		return
	}
	p.emit(ev)
}

func (p *Parser) emit(ev *Event) {
	if p.Emit != nil {
		p.Emit(ev)
	}
}

func isIdent(b []byte) bool {
	for _, c := range b {
		if !(c == '_' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return len(b) > 0
}

// pathEvent fills ev with the resolved path and mode; false when the path
// cannot be had.
func (p *Parser) pathEvent(ev *Event, pr *proc, dir, pathArg []byte, mode subdomain.Mode) bool {
	abs, ok := p.resolve(pr, dir, pathArg)
	if !ok {
		return false
	}
	ev.Path, ev.Mode = abs, mode
	if mode == 0 {
		p.emit(ev)
		ev.Path = ""
		return false
	}
	return true
}

func (p *Parser) sockEvent(ev *Event, pr *proc, kind int, fd, addr []byte) {
	ev.Syscall = map[int]string{kBind: "bind", kConnect: "connect"}[kind]
	switch {
	case bytes.Contains(addr, []byte("sa_family=AF_UNIX")):
		i := bytes.Index(addr, []byte("sun_path="))
		if i < 0 {
			return
		}
		s := addr[i+len("sun_path="):]
		if kind == kConnect && len(s) > 0 && s[0] == '@' {
			ev.Proto, ev.NetOp = "unix", "abstract"
			return
		}
		if len(s) == 0 || s[0] != '"' {
			return // abstract bind (Landlock scopes only connect) or unnamed
		}
		end := quotedEnd(s)
		if end < 0 {
			p.warn("truncated socket path")
			return
		}
		abs, ok := p.resolve(pr, nil, s[:end])
		if !ok {
			return
		}
		ev.Path = abs
		if kind == kBind {
			ev.Mode = subdomain.Create
		} else {
			ev.Mode = subdomain.Write
		}
	case bytes.Contains(addr, []byte("sa_family=AF_INET")):
		if !bytes.Contains(fd, []byte("<TCP")) {
			return // UDP and raw sockets: not ruled (Landlock has no rights for them)
		}
		i := bytes.Index(addr, []byte("_port=htons("))
		if i < 0 {
			return
		}
		s := addr[i+len("_port=htons("):]
		j := bytes.IndexByte(s, ')')
		if j < 0 {
			return
		}
		port, err := strconv.ParseUint(string(s[:j]), 10, 16)
		if err != nil {
			return
		}
		if kind == kBind {
			ev.NetOp = "bind"
		} else {
			ev.NetOp = "connect"
		}
		ev.Proto = "tcp"
		ev.Port = uint16(port)
	}
}

// resolve makes pathArg (a quoted strace string) absolute: through dir (a
// dirfd argument such as AT_FDCWD</cwd> or 3</dir>) or the process's cwd.
func (p *Parser) resolve(pr *proc, dir, pathArg []byte) (string, bool) {
	if len(pathArg) == 0 || pathArg[0] != '"' {
		return "", false // NULL or a pointer
	}
	s, ok := unquote(pathArg, true)
	if !ok || strings.IndexByte(s, 0) >= 0 {
		p.warn("truncated or malformed path %q", clip(pathArg))
		return "", false
	}
	if strings.HasPrefix(s, "/") {
		return clean(s), true
	}
	base := pr.fs.cwd
	if dir != nil {
		if d, ok := fdPath(dir); ok {
			base = d
			if bytes.HasPrefix(dir, []byte("AT_FDCWD")) {
				pr.fs.cwd = d // the kernel's word on the cwd
			}
		} else if !bytes.HasPrefix(dir, []byte("AT_FDCWD")) && !bytes.HasPrefix(dir, []byte("-100")) {
			p.warn("relative path %q against a directory fd without a -y path", s)
			return "", false
		}
	}
	if base == "" || strings.IndexByte(base, 0) >= 0 {
		p.warn("relative path %q before the process's directory is known", s)
		return "", false
	}
	if s == "" {
		return clean(base), true
	}
	return clean(base + "/" + s), true
}

func clean(s string) string {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '/' && (s[i+1] == '/' || s[i+1] == '.') {
			return path.Clean(s)
		}
	}
	if len(s) > 1 && s[len(s)-1] == '/' {
		return path.Clean(s)
	}
	return s
}

func dirPath(s string) string {
	if s == "" || strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}

// fdPath returns the -y annotation of an fd argument: "3</etc/x>" gives
// "/etc/x".
func fdPath(arg []byte) (string, bool) {
	i := bytes.IndexByte(arg, '<')
	if i < 0 || arg[len(arg)-1] != '>' {
		return "", false
	}
	s, ok := unquote(arg[i+1:len(arg)-1], false)
	if !ok || !strings.HasPrefix(s, "/") || strings.IndexByte(s, 0) >= 0 {
		return "", false
	}
	return s, true
}

// parseRet reads " = RET[<ann>] [ERRNO (text)]" after the arguments.
func (p *Parser) parseRet(b []byte) (ret []byte, errname string, ann []byte, ok bool) {
	i := bytes.Index(b, []byte("= "))
	if i < 0 {
		return nil, "", nil, false
	}
	b = b[i+2:]
	end := 0
	for end < len(b) && b[end] != ' ' && b[end] != '<' {
		end++
	}
	ret = b[:end]
	if end < len(b) && b[end] == '<' {
		// annotation up to the matching '>' (paths have '<' and '>' escaped)
		j := bytes.IndexByte(b[end:], '>')
		if j > 0 {
			ann = b[end+1 : end+j]
		}
	}
	if string(ret) == "-1" {
		rest := bytes.TrimLeft(b[end:], " ")
		k := 0
		for k < len(rest) && rest[k] != ' ' {
			k++
		}
		errname = p.intern(rest[:k])
		if errname == "" {
			errname = "EUNKNOWN"
		}
	}
	return ret, errname, ann, true
}

// intern returns b as a string, allocated once per distinct value.
func (p *Parser) intern(b []byte) string {
	if s, ok := p.errnames[string(b)]; ok {
		return s
	}
	if p.errnames == nil {
		p.errnames = map[string]string{}
	}
	if len(p.errnames) > 1000 {
		return string(b)
	}
	s := string(b)
	p.errnames[s] = s
	return s
}

// splitArgs splits the text after "name(" into top-level arguments,
// returning the count and the text after the closing parenthesis.
var argSpecial = func() (t [256]bool) {
	for _, c := range []byte(`"([{]})<,/`) {
		t[c] = true
	}
	return
}()

func splitArgs(b []byte, out [][]byte) (int, []byte, bool) {
	n := 0
	start := 0
	depth := 0
	for i := 0; i < len(b); i++ {
		if !argSpecial[b[i]] {
			continue
		}
		switch b[i] {
		case '"':
			e := quotedEnd(b[i:])
			if e < 0 {
				return n, nil, false
			}
			i += e - 1
		case '(', '[', '{':
			depth++
		case ']', '}':
			depth--
		case '<':
			// fd annotation: skip to '>' (escaped inside)
			if j := bytes.IndexByte(b[i:], '>'); j >= 0 {
				i += j
			}
		case '/':
			if i+1 < len(b) && b[i+1] == '*' {
				if j := bytes.Index(b[i:], []byte("*/")); j >= 0 {
					i += j + 1
				}
			}
		case ')':
			if depth > 0 {
				depth--
				continue
			}
			if n < len(out) {
				out[n] = bytes.TrimSpace(b[start:i])
				if len(out[n]) > 0 || n > 0 {
					n++
				}
			}
			return n, b[i+1:], true
		case ',':
			if depth == 0 {
				if n < len(out) {
					out[n] = bytes.TrimSpace(b[start:i])
					n++
				}
				start = i + 1
				if n == len(out) {
					// The arguments needed are in. When the rest holds no
					// string and no fd annotation (no text the program
					// chose), the call's end is the last ") = ".
					rest := b[i+1:]
					if bytes.IndexByte(rest, '"') < 0 && bytes.IndexByte(rest, '<') < 0 {
						if j := bytes.LastIndex(rest, []byte(") = ")); j >= 0 {
							return n, rest[j+1:], true
						}
					}
				}
			}
		}
	}
	return n, nil, false
}

// quotedEnd returns the length of the quoted string at the start of b
// (including both quotes), or -1. A string cut by strace's -s limit
// ("..."...) is reported as its quoted part; unquote rejects it.
func quotedEnd(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			if i+3 < len(b) && b[i+1] == '.' && b[i+2] == '.' && b[i+3] == '.' {
				return i + 4
			}
			return i + 1
		}
	}
	return -1
}

// unquote decodes a strace string: with quotes when quoted is true (and
// then rejects a string cut short by -s), or the bare text of a -y
// annotation. Escapes: \" \\ \n \t \r \v \f \a \b, octal \NNN, hex \xNN.
func unquote(b []byte, quoted bool) (string, bool) {
	if quoted {
		if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
			return "", false
		}
		b = b[1 : len(b)-1]
	}
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), true
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return "", false
		}
		switch c := b[i]; c {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case 'v':
			out = append(out, '\v')
		case 'f':
			out = append(out, '\f')
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'x':
			if i+2 >= len(b) {
				return "", false
			}
			hi, ok1 := hexval(b[i+1])
			lo, ok2 := hexval(b[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			out = append(out, hi<<4|lo)
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := 0
			k := 0
			for k < 3 && i+k < len(b) && b[i+k] >= '0' && b[i+k] <= '7' {
				v = v*8 + int(b[i+k]-'0')
				k++
			}
			if v > 255 {
				return "", false
			}
			out = append(out, byte(v))
			i += k - 1
		default:
			out = append(out, c)
		}
	}
	return string(out), true
}

func hexval(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func openMode(flags []byte) subdomain.Mode {
	var m subdomain.Mode
	switch {
	case bytes.Contains(flags, []byte("O_RDWR")):
		m = subdomain.Read | subdomain.Write
	case bytes.Contains(flags, []byte("O_WRONLY")):
		m = subdomain.Write
	default:
		m = subdomain.Read
	}
	if bytes.Contains(flags, []byte("O_CREAT")) || bytes.Contains(flags, []byte("O_TMPFILE")) {
		m |= subdomain.Create
	}
	if bytes.Contains(flags, []byte("O_TRUNC")) {
		m |= subdomain.Write
	}
	return m
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

// needArgs is how many leading arguments each kind uses.
var needArgs = [...]int{
	kOther: 0, kOpen: 2, kOpenat: 3, kOpenat2: 3, kCreat: 1, kStat: 1, kStatat: 2,
	kExecve: 1, kExecveat: 2, kChdir: 1, kFchdir: 1, kMkdir: 1, kMkdirat: 2,
	kRmdir: 1, kUnlink: 1, kUnlinkat: 3, kRename: 2, kRenameat: 4, kLink: 2,
	kLinkat: 4, kSymlink: 2, kSymlinkat: 3, kChmod: 1, kChmodat: 2, kFdWrite: 1,
	kMknod: 1, kMknodat: 2, kMmap: 5, kMount: 2, kBind: 2, kConnect: 2, kClone: 0,
	kMemfd: 2, kSocket: 0, kKill: 1,
}

// Syscall kinds the parser understands.
const (
	kOther = iota
	kOpen
	kOpenat
	kOpenat2
	kCreat
	kStat
	kStatat
	kExecve
	kExecveat
	kChdir
	kFchdir
	kMkdir
	kMkdirat
	kRmdir
	kUnlink
	kUnlinkat
	kRename
	kRenameat
	kLink
	kLinkat
	kSymlink
	kSymlinkat
	kChmod
	kChmodat
	kFdWrite
	kMknod
	kMknodat
	kMmap
	kMount
	kBind
	kConnect
	kClone
	kMemfd
	kSocket
	kKill
)

type syscallInfo struct {
	kind      int
	name      string // interned, so events do not allocate it
	dangerous bool
}

// syscallTable is built on first use, not at start-up: immunix run links
// this package (complain mode) and should not pay for it otherwise.
var syscallTable = sync.OnceValue(func() map[string]syscallInfo {
	kinds := syscallKinds()
	m := make(map[string]syscallInfo, len(kinds))
	for name, k := range kinds {
		m[name] = syscallInfo{kind: k, name: name, dangerous: subdomain.SyscallGrant(name) != ""}
	}
	return m
})

func syscallKinds() map[string]int {
	return map[string]int{
		"open": kOpen, "openat": kOpenat, "openat2": kOpenat2, "creat": kCreat,
		"stat": kStat, "lstat": kStat, "stat64": kStat, "lstat64": kStat, "access": kStat,
		"readlink": kStat, "statfs": kStat, "statfs64": kStat, "getxattr": kStat, "lgetxattr": kStat,
		"listxattr": kStat, "llistxattr": kStat, "utime": kChmod, "utimes": kChmod,
		"newfstatat": kStatat, "fstatat64": kStatat, "statx": kStatat, "faccessat": kStatat,
		"faccessat2": kStatat, "readlinkat": kStatat, "futimesat": kChmodat, "utimensat": kChmodat,
		"execve": kExecve, "execveat": kExecveat,
		"chdir": kChdir, "fchdir": kFchdir, "chroot": kMount,
		"mkdir": kMkdir, "mkdirat": kMkdirat, "rmdir": kRmdir,
		"unlink": kUnlink, "unlinkat": kUnlinkat,
		"rename": kRename, "renameat": kRenameat, "renameat2": kRenameat,
		"link": kLink, "linkat": kLinkat, "symlink": kSymlink, "symlinkat": kSymlinkat,
		"chmod": kChmod, "chown": kChmod, "lchown": kChmod, "chown32": kChmod, "lchown32": kChmod,
		"truncate": kChmod, "truncate64": kChmod, "setxattr": kChmod, "lsetxattr": kChmod,
		"removexattr": kChmod, "lremovexattr": kChmod,
		"fchmodat": kChmodat, "fchmodat2": kChmodat, "fchownat": kChmodat,
		"fchmod": kFdWrite, "fchown": kFdWrite, "fchown32": kFdWrite, "ftruncate": kFdWrite,
		"ftruncate64": kFdWrite, "fsetxattr": kFdWrite, "fremovexattr": kFdWrite,
		"mknod": kMknod, "mknodat": kMknodat,
		"mmap": kMmap, "mmap2": kMmap,
		"mount": kMount, "umount2": kStat, "umount": kStat, "pivot_root": kStat,
		"swapon": kStat, "swapoff": kStat, "acct": kStat,
		"bind": kBind, "connect": kConnect,
		"clone": kClone, "clone3": kClone, "fork": kClone, "vfork": kClone,
		"ptrace": kOther, "reboot": kOther, "init_module": kOther, "finit_module": kOther,
		"delete_module": kOther, "kexec_load": kOther, "kexec_file_load": kOther,
		"adjtimex": kOther, "clock_adjtime": kOther, "clock_settime": kOther, "settimeofday": kOther,
		"io_uring_setup": kOther, "memfd_create": kMemfd,
		"socket": kSocket, "kill": kKill, "tkill": kKill, "tgkill": kKill,
	}
}
