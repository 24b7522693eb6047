package learn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

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
	case p.SkipLookups && sc.lookup && !sc.dangerous:
		return
	}
	var args [6][]byte
	n, after, ok := splitArgs(text[open+1:], args[:sc.args])
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
	case kPaths:
		p.pathEvents(ev, pr, sc.paths, arg)
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

// pathEvents emits one event for each path the call names, in order.
// An empty path with a directory fd (AT_EMPTY_PATH) names the fd's own
// file, and a lookup of it needs nothing.
func (p *Parser) pathEvents(ev *Event, pr *proc, args []pathArg, arg func(int) []byte) {
	for _, a := range args {
		ev.Path, ev.Mode = "", a.mode
		var dir []byte
		if a.dir >= 0 {
			dir = arg(a.dir)
		}
		pathArg := arg(a.path)
		if dir != nil && string(pathArg) == `""` {
			if a.mode == 0 {
				continue
			}
			d, ok := fdPath(dir)
			if !ok {
				continue
			}
			ev.Path = d
		} else {
			abs, ok := p.resolve(pr, dir, pathArg)
			if !ok {
				continue
			}
			ev.Path = abs
		}
		if a.isDir || a.dirFlag > 0 && bytes.Contains(arg(a.dirFlag), []byte("AT_REMOVEDIR")) {
			ev.Path = dirPath(ev.Path)
		}
		p.emit(ev)
	}
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
