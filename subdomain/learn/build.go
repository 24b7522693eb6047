package learn

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/immunix/immunix/subdomain"
)

// Options steer how events become a profile.
type Options struct {
	// Inherit makes executed children run under their parent's profile
	// (ix) instead of a nested profile of their own (px).
	Inherit bool
	// GlobMin is how many sibling files with the same mode a directory
	// needs before they collapse into DIR/*; 0 means 4.
	GlobMin int
	// GlobMinDepth is the smallest directory depth that may be globbed
	// (/usr/share/doc has depth 3); 0 means 2, so /etc/* and /* never
	// appear.
	GlobMinDepth int
	// Evidence is how many trace lines each rule keeps for --explain; 0
	// means 3.
	Evidence int
	// ResolveExec resolves symbolic links in executed paths (as the
	// kernel and AppArmor see them) and reads interpreters from the
	// files. Replays on another machine may turn it off.
	ResolveExec bool
	// TempDirs are where random names are generalised; nil means /tmp,
	// /var/tmp and /dev/shm.
	TempDirs []string
}

func (o *Options) defaults() {
	if o.GlobMin == 0 {
		o.GlobMin = 4
	}
	if o.GlobMinDepth == 0 {
		o.GlobMinDepth = 2
	}
	if o.Evidence == 0 {
		o.Evidence = 3
	}
	if o.TempDirs == nil {
		o.TempDirs = []string{"/tmp", "/var/tmp", "/dev/shm"}
	}
}

type evidence struct {
	lines []string
	total int
}

func (e *evidence) add(max int, ev *Event) {
	e.total++
	if len(e.lines) < max {
		e.lines = append(e.lines, strconv.Itoa(ev.Line)+": "+string(ev.Raw))
	}
}

type fileAcc struct {
	mode subdomain.Mode
	ev   evidence
}

type netKey struct {
	proto, op string
	port      uint16
}

// progAcc is what one program did.
type progAcc struct {
	files    map[string]*fileAcc
	net      map[netKey]*evidence
	syscalls map[string]*evidence
	execs    map[string]bool // programs it executed
}

// Builder folds events into a profile.
type Builder struct {
	Opts Options
	// Root is the program the first execve ran; "" until then.
	Root   string
	progs  map[string]*progAcc
	real   map[string]string
	Events int // events used
	Probes int // failed lookups of missing names (no rule needed)
}

// NewBuilder returns a Builder with opts.
func NewBuilder(opts Options) *Builder {
	opts.defaults()
	return &Builder{Opts: opts, progs: map[string]*progAcc{}, real: map[string]string{}}
}

func (b *Builder) prog(exe string) *progAcc {
	p := b.progs[exe]
	if p == nil {
		p = &progAcc{files: map[string]*fileAcc{}, net: map[netKey]*evidence{}, syscalls: map[string]*evidence{}, execs: map[string]bool{}}
		b.progs[exe] = p
	}
	return p
}

func (b *Builder) resolve(path string) string {
	if !b.Opts.ResolveExec {
		return path
	}
	if r, ok := b.real[path]; ok {
		return r
	}
	r, err := filepath.EvalSymlinks(path)
	if err != nil {
		r = path
	}
	b.real[path] = r
	return r
}

// Add folds one event in.
func (b *Builder) Add(ev *Event) {
	exe := ev.Exe
	if exe != "" {
		exe = b.resolve(exe)
	}
	if ev.Execed && exe == "" && b.Root == "" {
		b.Root = b.resolve(ev.Path)
		b.prog(b.Root)
		b.Events++
		b.addInterpreters(b.Root, b.Root)
		return
	}
	if exe == "" {
		exe = b.Root
		if exe == "" {
			return // before the first exec: strace's own doing
		}
	}
	p := b.prog(exe)
	if g := subdomain.SyscallGrant(ev.Syscall); g != "" && ev.Err == "" && !ev.NoGrant {
		e := p.syscalls[g]
		if e == nil {
			e = &evidence{}
			p.syscalls[g] = e
		}
		e.add(b.Opts.Evidence, ev)
	}
	if ev.Probe() {
		b.Probes++
		return
	}
	if ev.NetOp != "" {
		k := netKey{ev.Proto, ev.NetOp, ev.Port}
		e := p.net[k]
		if e == nil {
			e = &evidence{}
			p.net[k] = e
		}
		e.add(b.Opts.Evidence, ev)
		b.Events++
		return
	}
	if ev.Mode == 0 || ev.Path == "" {
		return
	}
	b.Events++
	path := ev.Path
	if ev.Mode&subdomain.Exec != 0 {
		path = b.resolve(path)
		if ev.Execed {
			p.execs[path] = true
			b.prog(path)
			b.addInterpreters(path, path)
		}
	}
	f := p.files[path]
	if f == nil {
		f = &fileAcc{}
		p.files[path] = f
	}
	f.mode |= ev.Mode
	f.ev.add(b.Opts.Evidence, ev)
}

// addInterpreters records what the kernel itself opens to run an
// executable, which strace does not show: the ELF interpreter (mapped,
// rm) and a script's #! interpreter (executed, ix), in the profile of
// the program that runs.
func (b *Builder) addInterpreters(exe, file string) {
	if !b.Opts.ResolveExec {
		return
	}
	p := b.prog(exe)
	for i, in := range subdomain.Interpreters(file) {
		in = b.resolve(in)
		mode := subdomain.Read | subdomain.Mmap
		if i == 0 && !subdomain.IsELF(file) {
			mode = subdomain.Read | subdomain.Exec
		}
		f := p.files[in]
		if f == nil {
			f = &fileAcc{}
			p.files[in] = f
		}
		f.mode |= mode
		if f.ev.total == 0 {
			f.ev.lines = append(f.ev.lines, "(interpreter of "+file+", opened by the kernel)")
			f.ev.total = 1
		}
	}
}

// Profile builds the profile of the root program: generalised, with a
// nested profile per executed child (or ix with Opts.Inherit), in
// canonical order.
func (b *Builder) Profile() (*subdomain.Profile, error) {
	if b.Root == "" {
		return nil, fmt.Errorf("build profile: the trace has no successful execve (empty or truncated trace?)")
	}
	if b.Opts.Inherit {
		p := &subdomain.Profile{Program: b.Root, Version: subdomain.SyntaxVersion}
		names := slices.Sorted(maps.Keys(b.progs))
		for _, exe := range names {
			b.fill(p, b.progs[exe], nil)
		}
		b.generalise(p)
		return p, nil
	}
	return b.build(b.Root, nil), nil
}

func (b *Builder) build(exe string, ancestors []string) *subdomain.Profile {
	p := &subdomain.Profile{Program: exe, Version: subdomain.SyntaxVersion}
	b.fill(p, b.progs[exe], append(ancestors, exe))
	b.generalise(p)
	return p
}

// fill adds acc's accesses to p. With ancestors non-nil, executed
// programs get nested profiles (px) unless they are p itself or an
// ancestor (ix: the nesting stops).
func (b *Builder) fill(p *subdomain.Profile, acc *progAcc, ancestors []string) {
	if acc == nil {
		return
	}
	for path, f := range acc.files {
		r := subdomain.Rule{Path: path, Mode: f.mode, Evidence: evidenceLines(&f.ev)}
		if f.mode&subdomain.Exec != 0 {
			r.Exec = subdomain.ExecInherit
			if ancestors != nil && acc.execs[path] && !slices.Contains(ancestors, path) {
				r.Exec = subdomain.ExecProfile
				r.Child = b.build(path, ancestors)
			}
		}
		p.Rules = append(p.Rules, r)
	}
	for k, e := range acc.net {
		n := subdomain.NetRule{Proto: k.proto, Op: k.op, Port: k.port, Evidence: evidenceLines(e)}
		if n.Proto == "udp" {
			n.Op = "" // "network udp": every port
		}
		p.Net = append(p.Net, n)
	}
	for s := range acc.syscalls {
		p.Syscalls = append(p.Syscalls, s)
	}
}

func evidenceLines(e *evidence) []string {
	out := slices.Clone(e.lines)
	if more := e.total - len(e.lines); more > 0 {
		out = append(out, fmt.Sprintf("(and %d more)", more))
	}
	return out
}
