package enforce

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The seccomp filter is built here rather than with a seccomp library:
// github.com/elastic/go-seccomp-bpf, used before, initialises name and
// number maps for every architecture it knows (165 KB, 0.12-0.16 ms of
// every immunix start, measured with GODEBUG=inittrace=1), while immunix
// needs the numbers of SubDomain's few dangerous calls on the running
// architecture. The tables below are plain data the linker lays out, so
// they cost nothing at start-up; TestSyscallTables checks them against
// the kernel headers (linux-libc-dev).

// sysnum is one system call's number on one architecture: name is the
// grant that allows it (subdomain.DangerousSyscalls), call the system
// call's own name when it differs (fchmodat is granted by "chmod").
type sysnum struct {
	name string
	nr   uint32
	call string
}

// archTable holds the numbers of the blockable system calls on one
// architecture, as the kernel reports it in seccomp_data.arch.
type archTable struct {
	name  string // as audit prints it: x86_64, i386, aarch64
	audit uint32 // AUDIT_ARCH_*
	// x32 marks x86_64, where a number with __X32_SYSCALL_BIT set is a
	// call of the x32 ABI, whose numbers differ for some calls (ptrace is
	// 521 there): every such call is refused.
	x32 bool
	// calls may name one grant several times: i386's umount and umount2
	// are both "umount2", fchmodat is "chmod".
	calls []sysnum
	// Calls whose arguments the filter checks (see checkKind).
	checks []check
}

// check is a system call whose arguments decide.
type check struct {
	nr   uint32
	kind checkKind
	call string
}

// What a checked call's arguments must not do.
type checkKind uint8

const (
	chkSocket  checkKind = iota + 1 // socket(): see checkBlock
	chkSendto                       // sendto, sendmmsg (flags in args[3]): MSG_FASTOPEN refused
	chkSendmsg                      // sendmsg (flags in args[2]): MSG_FASTOPEN refused
	chkListen                       // listen: refused, or passed to the supervisor
	chkMemfd                        // memfd_create without MFD_NOEXEC_SEAL: refused unless granted
	chkOpen                         // open (flags args[1], mode args[2]): O_CREAT or O_TMPFILE with set-uid/set-gid bits refused
	chkOpenat                       // openat (flags args[2], mode args[3])
	chkCreat                        // creat (mode args[1])
	chkOpenat2                      // openat2: its mode is in memory the filter cannot read: ENOSYS (callers fall back to openat)
	chkDeny                         // i386 socketcall: its arguments are in memory: refused
	chkPrlimit                      // prlimit64 on another process (args[0] != 0): refused (an RLIMIT_CPU of 0 kills it)
)

const x32SyscallBit = 0x40000000

var tableX8664 = archTable{name: "x86_64", audit: unix.AUDIT_ARCH_X86_64, x32: true, calls: []sysnum{
	{"acct", 163, ""}, {"add_key", 248, ""}, {"bpf", 321, ""}, {"clock_adjtime", 305, ""},
	{"clock_settime", 227, ""}, {"delete_module", 176, ""}, {"finit_module", 313, ""},
	{"fsconfig", 431, ""}, {"fsmount", 432, ""}, {"fsopen", 430, ""}, {"init_module", 175, ""},
	{"ioperm", 173, ""}, {"iopl", 172, ""}, {"kexec_file_load", 320, ""}, {"kexec_load", 246, ""},
	{"keyctl", 250, ""}, {"mknod", 133, ""}, {"mknodat", 259, ""}, {"mount", 165, ""},
	{"mount_setattr", 442, ""}, {"move_mount", 429, ""}, {"open_by_handle_at", 304, ""},
	{"open_tree", 428, ""}, {"pivot_root", 155, ""}, {"process_vm_readv", 310, ""},
	{"process_vm_writev", 311, ""}, {"ptrace", 101, ""}, {"reboot", 169, ""},
	{"request_key", 249, ""}, {"setdomainname", 171, ""}, {"sethostname", 170, ""},
	{"settimeofday", 164, ""}, {"swapoff", 168, ""}, {"swapon", 167, ""}, {"umount2", 166, ""},
	{"userfaultfd", 323, ""},
	{"adjtimex", 159, ""}, {"io_uring_setup", 425, ""},
	{"chmod", 90, ""}, {"chmod", 91, "fchmod"}, {"chmod", 268, "fchmodat"}, {"chmod", 452, "fchmodat2"},
	{"chown", 92, ""}, {"chown", 93, "fchown"}, {"chown", 94, "lchown"}, {"chown", 260, "fchownat"},
	{"utimes", 132, "utime"}, {"utimes", 235, ""}, {"utimes", 261, "futimesat"}, {"utimes", 280, "utimensat"},
	{"setxattr", 188, ""}, {"setxattr", 189, "lsetxattr"}, {"setxattr", 190, "fsetxattr"},
	{"setxattr", 197, "removexattr"}, {"setxattr", 198, "lremovexattr"}, {"setxattr", 199, "fremovexattr"},
	{"setxattr", 463, "setxattrat"}, {"setxattr", 466, "removexattrat"},
}, checks: []check{
	{41, chkSocket, "socket"}, {44, chkSendto, "sendto"}, {307, chkSendto, "sendmmsg"}, {46, chkSendmsg, "sendmsg"},
	{50, chkListen, "listen"}, {319, chkMemfd, "memfd_create"}, {2, chkOpen, "open"}, {257, chkOpenat, "openat"},
	{85, chkCreat, "creat"}, {437, chkOpenat2, "openat2"}, {302, chkPrlimit, "prlimit64"},
}}

// tableI386 is what a 32-bit program (int $0x80) on an x86_64 kernel
// calls; i386 has no kexec_file_load.
var tableI386 = archTable{name: "i386", audit: unix.AUDIT_ARCH_I386, calls: []sysnum{
	{"acct", 51, ""}, {"add_key", 286, ""}, {"bpf", 357, ""}, {"clock_adjtime", 343, ""},
	{"clock_adjtime", 405, "clock_adjtime64"},
	{"clock_settime", 264, ""},
	{"clock_settime", 404, "clock_settime64"},
	{"delete_module", 129, ""}, {"finit_module", 350, ""}, {"fsconfig", 431, ""},
	{"fsmount", 432, ""}, {"fsopen", 430, ""}, {"init_module", 128, ""}, {"ioperm", 101, ""},
	{"iopl", 110, ""}, {"kexec_load", 283, ""}, {"keyctl", 288, ""}, {"mknod", 14, ""},
	{"mknodat", 297, ""}, {"mount", 21, ""}, {"mount_setattr", 442, ""}, {"move_mount", 429, ""},
	{"open_by_handle_at", 342, ""}, {"open_tree", 428, ""}, {"pivot_root", 217, ""},
	{"process_vm_readv", 347, ""}, {"process_vm_writev", 348, ""}, {"ptrace", 26, ""},
	{"reboot", 88, ""}, {"request_key", 287, ""}, {"setdomainname", 121, ""},
	{"sethostname", 74, ""}, {"settimeofday", 79, ""}, {"swapoff", 115, ""}, {"swapon", 87, ""},
	{"umount2", 52, ""},
	{"umount2", 22, "umount"},
	{"userfaultfd", 374, ""},
	{"adjtimex", 124, ""}, {"io_uring_setup", 425, ""},
	{"chmod", 15, ""}, {"chmod", 94, "fchmod"}, {"chmod", 306, "fchmodat"}, {"chmod", 452, "fchmodat2"},
	{"chown", 182, ""}, {"chown", 95, "fchown"}, {"chown", 16, "lchown"}, {"chown", 298, "fchownat"},
	{"chown", 212, "chown32"}, {"chown", 207, "fchown32"}, {"chown", 198, "lchown32"},
	{"utimes", 30, "utime"}, {"utimes", 271, ""}, {"utimes", 299, "futimesat"}, {"utimes", 320, "utimensat"},
	{"utimes", 412, "utimensat_time64"},
	{"setxattr", 226, ""}, {"setxattr", 227, "lsetxattr"}, {"setxattr", 228, "fsetxattr"},
	{"setxattr", 235, "removexattr"}, {"setxattr", 236, "lremovexattr"}, {"setxattr", 237, "fremovexattr"},
	{"setxattr", 463, "setxattrat"}, {"setxattr", 466, "removexattrat"},
}, checks: []check{
	{102, chkDeny, "socketcall"}, {359, chkSocket, "socket"}, {369, chkSendto, "sendto"}, {345, chkSendto, "sendmmsg"}, {370, chkSendmsg, "sendmsg"}, {363, chkListen, "listen"},
	{356, chkMemfd, "memfd_create"}, {5, chkOpen, "open"}, {295, chkOpenat, "openat"}, {8, chkCreat, "creat"}, {437, chkOpenat2, "openat2"}, {340, chkPrlimit, "prlimit64"},
}}

// tableAArch64 follows asm-generic/unistd.h; arm64 has no mknod, ioperm
// or iopl.
var tableAArch64 = archTable{name: "aarch64", audit: unix.AUDIT_ARCH_AARCH64, calls: []sysnum{
	{"acct", 89, ""}, {"add_key", 217, ""}, {"bpf", 280, ""}, {"clock_adjtime", 266, ""},
	{"clock_settime", 112, ""}, {"delete_module", 106, ""}, {"finit_module", 273, ""},
	{"fsconfig", 431, ""}, {"fsmount", 432, ""}, {"fsopen", 430, ""}, {"init_module", 105, ""},
	{"kexec_file_load", 294, ""}, {"kexec_load", 104, ""}, {"keyctl", 219, ""},
	{"mknodat", 33, ""}, {"mount", 40, ""}, {"mount_setattr", 442, ""}, {"move_mount", 429, ""},
	{"open_by_handle_at", 265, ""}, {"open_tree", 428, ""}, {"pivot_root", 41, ""},
	{"process_vm_readv", 270, ""}, {"process_vm_writev", 271, ""}, {"ptrace", 117, ""},
	{"reboot", 142, ""}, {"request_key", 218, ""}, {"setdomainname", 162, ""},
	{"sethostname", 161, ""}, {"settimeofday", 170, ""}, {"swapoff", 225, ""},
	{"swapon", 224, ""}, {"umount2", 39, ""}, {"userfaultfd", 282, ""},
	{"adjtimex", 171, ""}, {"io_uring_setup", 425, ""},
	{"chmod", 52, "fchmod"}, {"chmod", 53, "fchmodat"}, {"chmod", 452, "fchmodat2"},
	{"chown", 55, "fchown"}, {"chown", 54, "fchownat"}, {"utimes", 88, "utimensat"},
	{"setxattr", 5, ""}, {"setxattr", 6, "lsetxattr"}, {"setxattr", 7, "fsetxattr"},
	{"setxattr", 14, "removexattr"}, {"setxattr", 15, "lremovexattr"}, {"setxattr", 16, "fremovexattr"},
	{"setxattr", 463, "setxattrat"}, {"setxattr", 466, "removexattrat"},
}, checks: []check{
	{198, chkSocket, "socket"}, {206, chkSendto, "sendto"}, {269, chkSendto, "sendmmsg"}, {211, chkSendmsg, "sendmsg"}, {201, chkListen, "listen"},
	{279, chkMemfd, "memfd_create"}, {56, chkOpenat, "openat"}, {437, chkOpenat2, "openat2"}, {261, chkPrlimit, "prlimit64"},
}}

// hostTables returns the running architecture's table and those of the
// other ABIs its kernel runs programs in (i386 on x86_64). A call made in
// any other ABI (32-bit ARM on arm64) kills the process: the filter
// cannot tell which of its calls are dangerous.
func hostTables() (native archTable, compat []archTable, err error) {
	switch runtime.GOARCH {
	case "amd64":
		return tableX8664, []archTable{tableI386}, nil
	case "arm64":
		return tableAArch64, nil, nil
	}
	return archTable{}, nil, fmt.Errorf("no system call table for %s: build immunix for amd64 or arm64", runtime.GOARCH)
}

// syscallName names system call nr (decimal, as audit writes it) of the
// architecture audit names in hex (c000003e); nr itself when unknown.
func syscallName(archHex, nr string) string {
	a, err := strconv.ParseUint(archHex, 16, 32)
	if err != nil {
		return nr
	}
	n, err := strconv.ParseUint(nr, 10, 32)
	if err != nil {
		return nr
	}
	for _, t := range []*archTable{&tableX8664, &tableI386, &tableAArch64} {
		if t.audit != uint32(a) {
			continue
		}
		if t.x32 && n&x32SyscallBit != 0 {
			return "x32:" + nr
		}
		for _, c := range t.calls {
			if c.nr == uint32(n) {
				if c.call != "" {
					return c.call
				}
				return c.name
			}
		}
		for _, c := range t.checks {
			if c.nr == uint32(n) {
				return c.call
			}
		}
	}
	return nr
}

// Seccomp return values and the offsets in struct seccomp_data.
const (
	retAllow   = unix.SECCOMP_RET_ALLOW
	retEPERM   = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retKill    = unix.SECCOMP_RET_KILL_PROCESS
	retNotify  = unix.SECCOMP_RET_USER_NOTIF
	retNoProto = unix.SECCOMP_RET_ERRNO | uint32(unix.EPROTONOSUPPORT)
	retNoSys   = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	offsetNr   = 0
	offsetArch = 4
	offsetArgs = 16 // args[i] at 16+8i; the filter loads the low 32 bits (little-endian), all the kernel uses of these int arguments
)

// Argument values the checks test.
const (
	ipprotoMPTCP = 262
	msgFastopen  = 0x20000000
	mfdExec      = 0x10
	mfdNoexec    = 0x8 // MFD_NOEXEC_SEAL
	oCreat       = 0x40
	oTmpfile     = 0x400000 // __O_TMPFILE
	setIDBits    = 0o6000   // S_ISUID | S_ISGID
)

// filterOpts are the decisions of the checked calls that depend on the
// profile and the kernel.
type filterOpts struct {
	// listen is the return for listen(): retEPERM when the profile binds
	// no TCP port, retNotify when the supervisor checks that the socket
	// is bound (listen on an unbound socket would open an ephemeral port
	// Landlock never sees), retAllow only in tests.
	listen uint32
	// memfdExec: memfd_create is granted (anonymous files that can be
	// executed); else only MFD_NOEXEC_SEAL memfds (or, when the kernel's
	// vm.memfd_noexec makes that the default, ones without MFD_EXEC).
	memfdExec          bool
	memfdNoexecDefault bool
	// udp: UDP sockets are granted.
	udp bool
	// meta are the metadata families (subdomain.MetadataFamilies) that
	// are not granted: on the native ABI their calls go to the
	// supervisor (retNotify), which performs them where the profile
	// lets the program write the file; on compat ABIs they are refused.
	meta []string
}

// buildFilter returns the classic BPF program that refuses the blocked
// system calls with EPERM, checks the arguments of a few others (see
// checkKind) and allows everything else:
//
//	ld arch
//	jeq NATIVE, 0, next_arch
//	ld nr
//	jge X32_BIT, eperm        (x86_64 only)
//	jeq CHECKED_NR, check_block   (one per checked call)
//	a binary search over the blocked numbers, as ranges of consecutive
//	numbers: jge/jgt/jeq leading to eperm or to "ret ALLOW"
//	check blocks: load an argument, test it, return
//	next_arch: (the same for each compat ABI)
//	ret KILL_PROCESS           (an ABI without a table)
//	eperm: ret ERRNO(EPERM)
//
// The search is a tree, not a chain of compares, because loading a filter
// costs time in proportion to the paths through it: the kernel runs the
// filter once per system call number and ABI when it is loaded (to cache
// the calls it always allows), and a chain of 36 compares made loading
// take 0.12-0.16 ms of every immunix run (measured; BENCHMARKS.md).
func buildFilter(blocked []string, native archTable, compat []archTable, o filterOpts) ([]bpf.RawInstruction, error) {
	p := &asm{}
	next := p.label()
	p.emit(bpf.LoadAbsolute{Off: offsetArch, Size: 4})
	for _, t := range append([]archTable{native}, compat...) {
		// Each ABI's block ends with its own returns: jumps reach 255
		// instructions at most.
		eperm, allow, notify0 := p.label(), p.label(), p.label()
		p.bind(next)
		next = p.label()
		body := p.label()
		p.jump(bpf.JumpEqual, t.audit, body, next)
		p.bind(body)
		p.emit(bpf.LoadAbsolute{Off: offsetNr, Size: 4})
		if t.x32 {
			search := p.label()
			p.jump(bpf.JumpGreaterOrEqual, x32SyscallBit, eperm, search)
			p.bind(search)
		}
		blocks := make([]int, len(t.checks))
		for i, c := range t.checks {
			blocks[i] = p.label()
			cont := p.label()
			p.jump(bpf.JumpEqual, c.nr, blocks[i], cont)
			p.bind(cont)
		}
		var notify []span
		if t.name == native.name && o.listen == retNotify {
			notify = ranges(o.meta, t)
		}
		p.search(mergeSpans(ranges(blocked, t), notify, eperm, notify0), eperm)
		for i, c := range t.checks {
			p.bind(blocks[i])
			p.checkBlock(c.kind, o, eperm, allow)
		}
		p.bind(allow)
		p.emit(bpf.RetConstant{Val: retAllow})
		p.bind(notify0)
		p.emit(bpf.RetConstant{Val: retNotify})
		p.bind(eperm)
		p.emit(bpf.RetConstant{Val: retEPERM})
	}
	p.bind(next)
	p.emit(bpf.RetConstant{Val: retKill})
	prog, err := p.resolve()
	if err != nil {
		return nil, fmt.Errorf("seccomp filter: %w", err)
	}
	return bpf.Assemble(prog)
}

func loadArg(i int) bpf.Instruction { return bpf.LoadAbsolute{Off: uint32(offsetArgs + 8*i), Size: 4} }

// checkBlock emits the test of one checked call; the accumulator holds
// the call number on entry.
func (p *asm) checkBlock(k checkKind, o filterOpts, eperm, allow int) {
	// jset: a bit of mask set goes to t, else to f.
	jset := func(mask uint32, t, f int) { p.jump(bpf.JumpBitsSet, mask, t, f) }
	here := func() int { l := p.label(); return l }
	switch k {
	case chkDeny:
		p.emit(bpf.RetConstant{Val: retEPERM})
	case chkSocket:
		// AF_INET and AF_INET6: TCP (protocol 0 or IPPROTO_TCP), whose
		// ports Landlock restricts; MPTCP gets EPROTONOSUPPORT (Landlock
		// does not see its ports; callers fall back to TCP); UDP only
		// when granted (protocol 0 or IPPROTO_UDP); every other type or
		// protocol (raw, SCTP, ICMP) is refused. AF_PACKET is refused.
		inet, l1, l2, stream, dgram := here(), here(), here(), here(), here()
		p.emit(loadArg(0))
		p.jump(bpf.JumpEqual, unix.AF_INET, inet, l1)
		p.bind(l1)
		p.jump(bpf.JumpEqual, unix.AF_INET6, inet, l2)
		p.bind(l2)
		p.jump(bpf.JumpEqual, unix.AF_PACKET, eperm, allow)
		p.bind(inet)
		p.emit(loadArg(1))
		p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf}) // SOCK_TYPE_MASK
		l3 := here()
		p.jump(bpf.JumpEqual, unix.SOCK_STREAM, stream, l3)
		p.bind(l3)
		p.jump(bpf.JumpEqual, unix.SOCK_DGRAM, dgram, eperm)
		p.bind(stream)
		p.emit(loadArg(2))
		l4, l5, mptcp := here(), here(), here()
		p.jump(bpf.JumpEqual, 0, allow, l4)
		p.bind(l4)
		p.jump(bpf.JumpEqual, unix.IPPROTO_TCP, allow, l5)
		p.bind(l5)
		p.jump(bpf.JumpEqual, ipprotoMPTCP, mptcp, eperm)
		p.bind(mptcp)
		p.emit(bpf.RetConstant{Val: retNoProto})
		p.bind(dgram)
		if !o.udp {
			p.emit(bpf.RetConstant{Val: retEPERM})
			return
		}
		p.emit(loadArg(2))
		l6 := here()
		p.jump(bpf.JumpEqual, 0, allow, l6)
		p.bind(l6)
		p.jump(bpf.JumpEqual, unix.IPPROTO_UDP, allow, eperm)
	case chkPrlimit:
		p.emit(loadArg(0))
		p.jump(bpf.JumpEqual, 0, allow, eperm)
	case chkSendto, chkSendmsg:
		arg := 3
		if k == chkSendmsg {
			arg = 2
		}
		p.emit(loadArg(arg))
		jset(msgFastopen, eperm, allow)
	case chkListen:
		p.emit(bpf.RetConstant{Val: o.listen})
	case chkMemfd:
		if o.memfdExec {
			p.emit(bpf.RetConstant{Val: retAllow})
			return
		}
		p.emit(loadArg(1))
		if o.memfdNoexecDefault {
			// MFD_EXEC asks for an executable memfd; anything else is
			// sealed noexec by the kernel.
			jset(mfdExec, eperm, allow)
			return
		}
		jset(mfdNoexec, allow, eperm)
	case chkOpen, chkOpenat:
		flags, mode := 1, 2
		if k == chkOpenat {
			flags, mode = 2, 3
		}
		creating := here()
		p.emit(loadArg(flags))
		jset(oCreat|oTmpfile, creating, allow)
		p.bind(creating)
		p.emit(loadArg(mode))
		jset(setIDBits, eperm, allow)
	case chkCreat:
		p.emit(loadArg(1))
		jset(setIDBits, eperm, allow)
	case chkOpenat2:
		p.emit(bpf.RetConstant{Val: retNoSys})
	}
}

// span is a range of consecutive blocked system call numbers; to is
// the label a number in it jumps to.
type span struct {
	lo, hi uint32
	to     int
}

// mergeSpans labels the blocked spans with eperm and the notify spans
// with notify (a number in both is notified: the supervisor decides)
// and returns them sorted, adjacent spans of one label joined.
func mergeSpans(blocked, notify []span, eperm, notifyLabel int) []span {
	in := func(n uint32) bool {
		for _, s := range notify {
			if n >= s.lo && n <= s.hi {
				return true
			}
		}
		return false
	}
	var all []span
	for _, b := range blocked {
		for n := b.lo; n <= b.hi; n++ {
			if !in(n) {
				all = append(all, span{n, n, eperm})
			}
		}
	}
	for _, s := range notify {
		for n := s.lo; n <= s.hi; n++ {
			all = append(all, span{n, n, notifyLabel})
		}
	}
	slices.SortFunc(all, func(a, b span) int { return int(a.lo) - int(b.lo) })
	var out []span
	for _, s := range all {
		if k := len(out); k > 0 && out[k-1].hi+1 == s.lo && out[k-1].to == s.to {
			out[k-1].hi = s.hi
			continue
		}
		out = append(out, s)
	}
	return out
}

// ranges returns the numbers of the blocked calls on t, sorted, as spans.
func ranges(blocked []string, t archTable) []span {
	var nrs []uint32
	for _, name := range blocked {
		for _, c := range t.calls {
			if c.name == name {
				nrs = append(nrs, c.nr)
			}
		}
	}
	slices.Sort(nrs)
	nrs = slices.Compact(nrs)
	var out []span
	for _, n := range nrs {
		if k := len(out); k > 0 && out[k-1].hi+1 == n {
			out[k-1].hi = n
			continue
		}
		out = append(out, span{n, n, 0})
	}
	return out
}

// asm assembles a classic BPF program with forward jumps to labels.
type asm struct {
	ins    []bpf.Instruction
	jumps  []pendingJump
	labels []int // label -> instruction index, -1 until bound
}

type pendingJump struct {
	at          int
	cond        bpf.JumpTest
	val         uint32
	true, false int // labels
}

func (p *asm) label() int {
	p.labels = append(p.labels, -1)
	return len(p.labels) - 1
}

func (p *asm) bind(l int) { p.labels[l] = len(p.ins) }

func (p *asm) emit(i bpf.Instruction) { p.ins = append(p.ins, i) }

func (p *asm) jump(cond bpf.JumpTest, val uint32, t, f int) {
	p.jumps = append(p.jumps, pendingJump{len(p.ins), cond, val, t, f})
	p.ins = append(p.ins, nil)
}

// search emits a binary search of the accumulator (the call number) over
// rs: a number in one of them jumps to its label, any other returns ALLOW.
func (p *asm) search(rs []span, eperm int) {
	if len(rs) <= 2 {
		for _, r := range rs {
			next := p.label()
			if r.lo == r.hi {
				p.jump(bpf.JumpEqual, r.lo, r.to, next)
			} else {
				in := p.label()
				p.jump(bpf.JumpGreaterOrEqual, r.lo, in, next)
				p.bind(in)
				p.jump(bpf.JumpGreaterThan, r.hi, next, r.to)
			}
			p.bind(next)
		}
		p.emit(bpf.RetConstant{Val: retAllow})
		return
	}
	mid := len(rs) / 2
	left, right := p.label(), p.label()
	p.jump(bpf.JumpGreaterOrEqual, rs[mid].lo, right, left)
	p.bind(left)
	p.search(rs[:mid], eperm)
	p.bind(right)
	p.search(rs[mid:], eperm)
}

func (p *asm) resolve() ([]bpf.Instruction, error) {
	skip := func(at, l int) (uint8, error) {
		d := p.labels[l] - at - 1
		if p.labels[l] < 0 || d < 0 || d > 255 {
			return 0, fmt.Errorf("jump from %d to label %d (at %d) out of range", at, l, p.labels[l])
		}
		return uint8(d), nil
	}
	for _, j := range p.jumps {
		t, err := skip(j.at, j.true)
		if err != nil {
			return nil, err
		}
		f, err := skip(j.at, j.false)
		if err != nil {
			return nil, err
		}
		p.ins[j.at] = bpf.JumpIf{Cond: j.cond, Val: j.val, SkipTrue: t, SkipFalse: f}
	}
	return p.ins, nil
}

// loadFilter installs the filter on the calling thread (no TSYNC: the
// confined program inherits it from the thread that execs it), with
// SECCOMP_FILTER_FLAG_LOG so the refusals reach the audit log, and, with
// listener, SECCOMP_FILTER_FLAG_NEW_LISTENER: it returns the listener
// fd, else -1. The thread must have no_new_privs set.
//
// With the listener, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux
// 5.19): once the supervisor has received a call, the calling thread
// waits for the answer in a killable sleep, so a signal cannot interrupt
// the call while the supervisor performs it on the program's behalf;
// interrupted, the kernel would restart the call and the supervisor
// perform it a second time (a setxattr with XATTR_CREATE would then
// report EEXIST). Older kernels refuse the flag (EINVAL): the filter is
// loaded without it (Compile notes the gap from the Landlock ABI).
func loadFilter(raw []bpf.RawInstruction, listener bool) (int, error) {
	prog := unix.SockFprog{Len: uint16(len(raw)), Filter: (*unix.SockFilter)(unsafe.Pointer(&raw[0]))}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_LOG)
	if listener {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		if !heldCallsInterruptible() {
			flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		}
	}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	if errno == unix.EINVAL && flags&unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 {
		flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		r, _, errno = unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	}
	runtime.KeepAlive(raw)
	if errno != 0 {
		return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
	}
	if !listener {
		return -1, nil
	}
	return int(r), nil
}

// blockSyscalls refuses the named system calls on the calling thread
// and checks the arguments of the others as o says.
func blockSyscalls(names []string, o filterOpts) (int, error) {
	native, compat, err := hostTables()
	if err != nil {
		return -1, fmt.Errorf("seccomp: %w", err)
	}
	raw, err := buildFilter(names, native, compat, o)
	if err != nil {
		return -1, err
	}
	return loadFilter(raw, o.listen == retNotify)
}
