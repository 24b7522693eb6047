package subdomain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Mode is a set of file access permissions.
type Mode uint8

// The permissions a file rule grants.
const (
	Read   Mode = 1 << iota // r: open for reading, list a directory
	Write                   // w: open for writing, truncate, chmod, chown
	Create                  // c: create, remove or rename the name itself
	Mmap                    // m: map executable (shared libraries)
	Exec                    // x: execute; see Rule.Child for ix/px
)

// modeLetters is the canonical letter order of a mode.
var modeLetters = [...]struct {
	m Mode
	c byte
}{{Read, 'r'}, {Write, 'w'}, {Create, 'c'}, {Mmap, 'm'}}

// String returns the mode's letters without any exec qualifier: "rw", "rm".
func (m Mode) String() string {
	var b []byte
	for _, l := range modeLetters {
		if m&l.m != 0 {
			b = append(b, l.c)
		}
	}
	if m&Exec != 0 {
		b = append(b, 'x')
	}
	return string(b)
}

// ExecKind says what an executed child program runs under.
type ExecKind uint8

// Exec kinds: ix runs the child under the current profile, px under its
// own nested profile.
const (
	ExecNone    ExecKind = iota
	ExecInherit          // ix
	ExecProfile          // px
)

// Pos is a position in a profile file.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Rule is one file rule: a path pattern and the access it grants.
type Rule struct {
	Path string // absolute path or pattern (*, **, ?, {a,b}, @{pid}, @{HOME})
	Mode Mode
	Exec ExecKind // with Mode&Exec: ix or px
	// Child is the nested profile of a px rule.
	Child *Profile
	// Evidence holds the trace lines that produced the rule (learn
	// --explain); it is not part of the text formats.
	Evidence []string
	Pos      Pos
}

// ModeString returns the rule's mode letters as written in a profile:
// "r", "rwc", "mr", "ix", "px".
func (r *Rule) ModeString() string {
	s := (r.Mode &^ Exec).String()
	if r.Mode&Exec != 0 {
		switch r.Exec {
		case ExecProfile:
			s += "px"
		default:
			s += "ix"
		}
	}
	return s
}

// NetRule grants one network or IPC operation beyond the file rules:
//
//	network tcp bind|connect PORT   Proto "tcp", Op, Port
//	network udp                     Proto "udp": UDP sockets, every port
//	network unix abstract           Proto "unix", Op "abstract": connect to abstract unix sockets outside the confinement
//	signal outside                  Proto "signal", Op "outside": signal processes outside the confinement
type NetRule struct {
	Proto    string // "tcp", "udp", "unix" or "signal"
	Op       string // "bind" or "connect" (tcp), "abstract" (unix), "outside" (signal)
	Port     uint16
	Evidence []string
	Pos      Pos
}

func (n NetRule) String() string {
	switch n.Proto {
	case "udp":
		return "network udp"
	case "unix":
		return "network unix " + n.Op
	case "signal":
		return "signal " + n.Op
	}
	return "network " + n.Proto + " " + n.Op + " " + strconv.Itoa(int(n.Port))
}

// Profile is what one program may do.
type Profile struct {
	// Program is the absolute path of the confined executable (of the
	// exec rule's path for a nested profile).
	Program string
	// Version is the profile syntax version, "1".
	Version  string
	Rules    []Rule
	Net      []NetRule
	Syscalls []string // dangerous system calls granted (see DangerousSyscalls)
}

// SyntaxVersion is the version written in the header of new profiles.
const SyntaxVersion = "1"

// DangerousSyscalls are the system calls immunix run blocks unless a
// profile grants them with "syscall NAME" (SubDomain's dangerous calls).
// Four names grant a family of calls that change a file's metadata,
// which Landlock does not mediate: chmod (chmod, fchmod, fchmodat,
// fchmodat2), chown (chown, fchown, lchown, fchownat), utimes (utime,
// utimes, futimesat, utimensat) and setxattr (setxattr, lsetxattr,
// fsetxattr, setxattrat and the removexattr calls). memfd_create
// grants anonymous files that can be executed (without the grant only
// MFD_NOEXEC_SEAL ones can be made).
var DangerousSyscalls = []string{
	"acct", "add_key", "adjtimex", "bpf", "chmod", "chown", "clock_adjtime",
	"clock_settime", "delete_module", "finit_module", "fsconfig", "fsmount",
	"fsopen", "init_module", "io_uring_setup", "ioperm", "iopl",
	"kexec_file_load", "kexec_load", "keyctl", "memfd_create", "mknod",
	"mknodat", "mount", "mount_setattr", "move_mount", "open_by_handle_at",
	"open_tree", "pivot_root", "process_vm_readv", "process_vm_writev",
	"ptrace", "reboot", "request_key", "setdomainname", "sethostname",
	"settimeofday", "setxattr", "swapoff", "swapon", "umount2", "userfaultfd",
	"utimes",
}

// syscallFamilies maps the calls a family grant covers to its name.
var syscallFamilies = map[string]string{
	"fchmod": "chmod", "fchmodat": "chmod", "fchmodat2": "chmod",
	"fchown": "chown", "lchown": "chown", "fchownat": "chown",
	"chown32": "chown", "fchown32": "chown", "lchown32": "chown",
	"utime": "utimes", "futimesat": "utimes", "utimensat": "utimes", "utimensat_time64": "utimes",
	"lsetxattr": "setxattr", "fsetxattr": "setxattr", "setxattrat": "setxattr",
	"removexattr": "setxattr", "lremovexattr": "setxattr", "fremovexattr": "setxattr",
	"removexattrat": "setxattr",
	// i386 names of the same calls
	"umount": "umount2", "clock_settime64": "clock_settime", "clock_adjtime64": "clock_adjtime",
}

// IsDangerous reports whether name is one of DangerousSyscalls.
func IsDangerous(name string) bool {
	_, ok := slices.BinarySearch(DangerousSyscalls, name)
	return ok
}

// MetadataFamilies are the grants of DangerousSyscalls that change a
// file's metadata. Without the grant, immunix run lets the supervisor
// perform such a call on the program's behalf where the profile lets
// the program write the file (w, or c); "syscall chmod" ... grant the
// calls on every path the kernel's own checks allow.
var MetadataFamilies = []string{"chmod", "chown", "setxattr", "utimes"}

// IsMetadata reports whether grant is one of MetadataFamilies.
func IsMetadata(grant string) bool { return slices.Contains(MetadataFamilies, grant) }

// GrantOf returns the "syscall NAME" grant that allows system call
// call ("chmod" for fchmodat), "" when none names it.
func GrantOf(call string) string {
	if g, ok := syscallFamilies[call]; ok {
		return g
	}
	if IsDangerous(call) {
		return call
	}
	return ""
}

// SyscallGrant returns the "syscall NAME" grant a program making system
// call call needs, "" when it needs none. The metadata calls (chmod,
// fchmodat, chown, utimensat, setxattr ...) need none: a w rule on the
// file they change is what they need.
func SyscallGrant(call string) string {
	if g := GrantOf(call); !IsMetadata(g) {
		return g
	}
	return ""
}

// Canonicalize sorts the profile into canonical order, merges duplicate
// rules (modes are joined) and does the same for nested profiles. Rules
// are ordered by path, byte-wise; network rules by proto, op, port.
func (p *Profile) Canonicalize() {
	slices.SortStableFunc(p.Rules, func(a, b Rule) int { return strings.Compare(a.Path, b.Path) })
	out := p.Rules[:0]
	for _, r := range p.Rules {
		if n := len(out); n > 0 && out[n-1].Path == r.Path {
			prev := &out[n-1]
			prev.Mode |= r.Mode
			if r.Exec > prev.Exec {
				prev.Exec = r.Exec
			}
			switch {
			case prev.Child == nil:
				prev.Child = r.Child
			case r.Child != nil:
				prev.Child.Merge(r.Child)
			}
			prev.Evidence = append(prev.Evidence, r.Evidence...)
			continue
		}
		out = append(out, r)
	}
	p.Rules = out
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Mode&Exec != 0 && r.Exec == ExecNone {
			r.Exec = ExecInherit
		}
		if r.Exec == ExecProfile && r.Child == nil {
			r.Child = &Profile{Program: r.Path, Version: p.Version}
		}
		if r.Exec != ExecProfile {
			r.Child = nil
		}
		if r.Child != nil {
			r.Child.Canonicalize()
		}
	}
	slices.SortStableFunc(p.Net, func(a, b NetRule) int {
		if c := strings.Compare(a.Proto, b.Proto); c != 0 {
			return c
		}
		if c := strings.Compare(a.Op, b.Op); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	p.Net = slices.CompactFunc(p.Net, func(a, b NetRule) bool {
		return a.Proto == b.Proto && a.Op == b.Op && a.Port == b.Port
	})
	slices.Sort(p.Syscalls)
	p.Syscalls = slices.Compact(p.Syscalls)
}

// Merge adds q's rules to p and canonicalizes p. Several learning runs
// merge this way.
func (p *Profile) Merge(q *Profile) {
	if p.Program == "" {
		p.Program = q.Program
	}
	if p.Version == "" {
		p.Version = q.Version
	}
	for _, r := range q.Rules {
		if r.Child != nil {
			c := *r.Child
			c.Rules = slices.Clone(c.Rules)
			r.Child = &c
		}
		p.Rules = append(p.Rules, r)
	}
	p.Net = append(p.Net, q.Net...)
	p.Syscalls = append(p.Syscalls, q.Syscalls...)
	p.Canonicalize()
}

// Counts are the sizes of a profile, nested profiles included.
type Counts struct {
	Profiles, Files, Net, Syscalls int
}

func (c Counts) String() string {
	return fmt.Sprintf("%d profiles, %d file rules, %d network rules, %d syscall grants", c.Profiles, c.Files, c.Net, c.Syscalls)
}

// Count returns the profile's sizes.
func (p *Profile) Count() Counts {
	c := Counts{Profiles: 1, Files: len(p.Rules), Net: len(p.Net), Syscalls: len(p.Syscalls)}
	for i := range p.Rules {
		if ch := p.Rules[i].Child; ch != nil {
			cc := ch.Count()
			c.Profiles += cc.Profiles
			c.Files += cc.Files
			c.Net += cc.Net
			c.Syscalls += cc.Syscalls
		}
	}
	return c
}

// Walk calls fn for p and every nested profile, parents first.
func (p *Profile) Walk(fn func(*Profile)) {
	fn(p)
	for i := range p.Rules {
		if ch := p.Rules[i].Child; ch != nil {
			ch.Walk(fn)
		}
	}
}

// ChildFor returns the nested profile a program exec'd under p runs in:
// the px rule matching exe, or nil when exe inherits p (ix) or is not
// allowed at all (ok false).
func (p *Profile) ChildFor(exe string) (child *Profile, ok bool) {
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Mode&Exec == 0 || !Match(r.Path, exe) {
			continue
		}
		if r.Exec == ExecProfile {
			return r.Child, true
		}
		return nil, true
	}
	return nil, false
}

// Allows reports whether p grants mode on path, and the first rule that
// matched path at all (nil when none did).
func (p *Profile) Allows(path string, mode Mode) (bool, *Rule) {
	var first *Rule
	var have Mode
	for i := range p.Rules {
		r := &p.Rules[i]
		if !Match(r.Path, path) {
			continue
		}
		if first == nil {
			first = r
		}
		have |= r.Mode
		if have&mode == mode {
			return true, r
		}
	}
	return false, first
}

// AllowsNet reports whether p grants the network operation.
func (p *Profile) AllowsNet(proto, op string, port uint16) bool {
	for _, n := range p.Net {
		if n.Proto == proto && n.Op == op && n.Port == port {
			return true
		}
	}
	return false
}
