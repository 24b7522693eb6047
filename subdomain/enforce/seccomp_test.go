package enforce

import (
	"bufio"
	"encoding/binary"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/testenv"
	"github.com/immunix/immunix/subdomain"
)

// headerNumbers reads "#define __NR_name N" lines (and asm-generic's
// __NR3264_name) from a kernel header.
func headerNumbers(t *testing.T, path string) map[string]uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		testenv.Missing(t, "kernel headers: "+err.Error()+" (Debian package linux-libc-dev)")
	}
	defer f.Close()
	nums := map[string]uint32{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 || fs[0] != "#define" {
			continue
		}
		name, ok := strings.CutPrefix(fs[1], "__NR_")
		if !ok {
			name, ok = strings.CutPrefix(fs[1], "__NR3264_")
		}
		n, err := strconv.ParseUint(fs[2], 10, 32)
		if ok && err == nil {
			nums[name] = uint32(n)
		}
	}
	return nums
}

// newerThanHeaders are calls the kernel has (6.6+) that Debian 12's
// linux-libc-dev lacks, with their numbers (the same on every
// architecture since the unified numbering of 5.1).
var newerThanHeaders = map[string]uint32{"fchmodat2": 452, "setxattrat": 463, "removexattrat": 466}

// TestSyscallTables checks every number in the filter's tables (the
// blocked calls and the checked ones) against the kernel's own headers,
// and that each table covers every dangerous call the architecture has.
func TestSyscallTables(t *testing.T) {
	for _, tc := range []struct {
		table   *archTable
		header  string
		missing []string // grants with no call on the architecture (or checked, not tabled)
		checked map[checkKind][]string
	}{
		{&tableX8664, "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", []string{"memfd_create"},
			map[checkKind][]string{chkSocket: {"socket"}, chkSendto: {"sendto", "sendmmsg"}, chkSendmsg: {"sendmsg"},
				chkListen: {"listen"}, chkMemfd: {"memfd_create"}, chkOpen: {"open"}, chkOpenat: {"openat"}, chkCreat: {"creat"}, chkOpenat2: {"openat2"}, chkPrlimit: {"prlimit64"}}},
		{&tableI386, "/usr/include/x86_64-linux-gnu/asm/unistd_32.h", []string{"kexec_file_load", "memfd_create"},
			map[checkKind][]string{chkDeny: {"socketcall"}, chkSocket: {"socket"}, chkSendto: {"sendto", "sendmmsg"}, chkSendmsg: {"sendmsg"},
				chkListen: {"listen"}, chkMemfd: {"memfd_create"}, chkOpen: {"open"}, chkOpenat: {"openat"}, chkCreat: {"creat"}, chkOpenat2: {"openat2"}, chkPrlimit: {"prlimit64"}}},
		{&tableAArch64, "/usr/include/asm-generic/unistd.h", []string{"ioperm", "iopl", "mknod", "memfd_create"},
			map[checkKind][]string{chkSocket: {"socket"}, chkSendto: {"sendto", "sendmmsg"}, chkSendmsg: {"sendmsg"},
				chkListen: {"listen"}, chkMemfd: {"memfd_create"}, chkOpenat: {"openat"}, chkOpenat2: {"openat2"}, chkPrlimit: {"prlimit64"}}},
	} {
		t.Run(tc.table.name, func(t *testing.T) {
			hdr := headerNumbers(t, tc.header)
			for k, v := range newerThanHeaders {
				if _, ok := hdr[k]; !ok {
					hdr[k] = v
				}
			}
			have := map[string]bool{}
			for _, c := range tc.table.calls {
				call := c.call
				if call == "" {
					call = c.name
				}
				if n, ok := hdr[call]; !ok || n != c.nr {
					t.Errorf("%s: %s (grant %s) is %d, the header says %d (present %v)", tc.table.name, call, c.name, c.nr, n, ok)
				}
				if !subdomain.IsDangerous(c.name) {
					t.Errorf("%s: %s is not a grant", tc.table.name, c.name)
				}
				if g := subdomain.GrantOf(call); g != c.name {
					t.Errorf("%s: %s is granted by %q, the table says %q", tc.table.name, call, g, c.name)
				}
				have[c.name] = true
			}
			for _, name := range subdomain.DangerousSyscalls {
				if !have[name] && !slices.Contains(tc.missing, name) {
					t.Errorf("%s: no number for %s", tc.table.name, name)
				}
			}
			for _, c := range tc.table.checks {
				found := false
				for _, call := range tc.checked[c.kind] {
					if hdr[call] == c.nr && call == c.call {
						found = true
					}
				}
				if !found {
					t.Errorf("%s: checked call %d (kind %d) is none of %v", tc.table.name, c.nr, c.kind, tc.checked[c.kind])
				}
			}
			n := 0
			for _, calls := range tc.checked {
				n += len(calls)
			}
			if n != len(tc.table.checks) {
				t.Errorf("%s: %d checked calls, want %d", tc.table.name, len(tc.table.checks), n)
			}
		})
	}
}

// seccompData is struct seccomp_data as the x/net/bpf VM loads it
// (big-endian; the kernel loads native order, which the filter does not
// depend on).
func seccompData(arch, nr uint32) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], nr)
	binary.BigEndian.PutUint32(b[4:], arch)
	return b
}

// TestFilterProgram runs the filter in x/net/bpf's VM: blocked calls of
// each ABI get EPERM, others are allowed, x32 calls are refused, an ABI
// without a table is killed.
func TestFilterProgram(t *testing.T) {
	const (
		x8664 = unix.AUDIT_ARCH_X86_64
		i386  = unix.AUDIT_ARCH_I386
		arm   = unix.AUDIT_ARCH_ARM
	)
	all := subdomain.DangerousSyscalls
	noKeyctl := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == "keyctl" })
	for _, tc := range []struct {
		name    string
		blocked []string
		arch    uint32
		nr      uint32
		want    uint32
	}{
		{"x86_64 mount", all, x8664, 165, retEPERM},
		{"x86_64 getpid", all, x8664, 39, retAllow},
		{"x86_64 keyctl", all, x8664, 250, retEPERM},
		{"x86_64 keyctl granted", noKeyctl, x8664, 250, retAllow},
		{"x86_64 userfaultfd (last)", all, x8664, 323, retEPERM},
		{"x86_64 acct (first)", all, x8664, 163, retEPERM},
		{"x32 getpid", all, x8664, 39 | x32SyscallBit, retEPERM},
		{"x32 ptrace", noKeyctl, x8664, 521 | x32SyscallBit, retEPERM},
		{"i386 mount", all, i386, 21, retEPERM},
		{"i386 umount", all, i386, 22, retEPERM},
		{"i386 clock_settime64", all, i386, 404, retEPERM},
		{"i386 getpid", all, i386, 20, retAllow},
		{"i386 keyctl granted", noKeyctl, i386, 288, retAllow},
		{"i386 number of x86_64 mount", all, i386, 165, retAllow},
		{"arm", all, arm, 21, retKill},
		{"nothing blocked", nil, x8664, 165, retAllow},
	} {
		raw, err := buildFilter(tc.blocked, tableX8664, []archTable{tableI386}, filterOpts{listen: retAllow})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		prog, ok := bpf.Disassemble(raw)
		if !ok {
			t.Fatalf("%s: filter does not disassemble", tc.name)
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := vm.Run(seccompData(tc.arch, tc.nr))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if uint32(got) != tc.want {
			t.Errorf("%s: filter returns %#x, want %#x", tc.name, uint32(got), tc.want)
		}
	}
}

func TestSyscallName(t *testing.T) {
	for _, tc := range []struct{ arch, nr, want string }{
		{"c000003e", "165", "mount"},
		{"40000003", "21", "mount"},
		{"40000003", "22", "umount"},
		{"c000003e", "268", "fchmodat"},
		{"c000003e", "44", "sendto"},
		{"c00000b7", "40", "mount"},
		{"c000003e", "1073741863", "x32:1073741863"},
		{"c000003e", "39", "39"},
		{"zz", "165", "165"},
	} {
		if got := syscallName(tc.arch, tc.nr); got != tc.want {
			t.Errorf("syscallName(%s, %s) = %q, want %q", tc.arch, tc.nr, got, tc.want)
		}
	}
}

// probeC makes system calls in each ABI, each in a child of its own (an
// i386 call where the kernel has no ia32 emulation is a SIGSEGV), and
// prints NAME RESULT lines: ok, an errno name, or sigN.
const probeC = `
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long i386call(long nr, long a) {
	long r;
	__asm__ volatile ("int $0x80" : "=a"(r) : "a"(nr), "b"(a) : "memory");
	return r;
}
static const char *res(long r) {
	if (r >= 0) return "ok";
	return strerrorname_np(-r);
}
static long native_getpid(void) { long r = syscall(SYS_getpid); return r < 0 ? -errno : r; }
static long native_keyctl(void) { long r = syscall(SYS_keyctl, 9999); return r < 0 ? -errno : r; }
static long x32_getpid(void) { long r = syscall(39 | 0x40000000); return r < 0 ? -errno : r; }
static long i386_getpid(void) { return i386call(20, 0); }
static long i386_keyctl(void) { return i386call(288, 9999); }

static void probe(const char *name, long (*f)(void)) {
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		printf("%s %s\n", name, res(f()));
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
	if (WIFSIGNALED(st))
		printf("%s sig%d\n", name, WTERMSIG(st));
}
int main(void) {
	probe("native_getpid", native_getpid);
	probe("native_keyctl", native_keyctl);
	probe("x32_getpid", x32_getpid);
	probe("i386_getpid", i386_getpid);
	probe("i386_keyctl", i386_keyctl);
	return 0;
}
`

const seccompChildEnv = "IMMUNIX_TEST_SECCOMP_CHILD"

// TestSeccompKernel loads the filter for real, in a child process (it is
// irreversible), and execs a probe that makes system calls in the
// native, x32 and i386 ABIs.
func TestSeccompKernel(t *testing.T) {
	if spec := os.Getenv(seccompChildEnv); spec != "" {
		seccompChild(spec)
		return
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the probe makes x86 system calls")
	}
	testenv.NeedsTool(t, "gcc")
	probe := cbuild.Build(t, "gcc", probeC, "-O2")
	run := func(spec string) map[string]string {
		t.Helper()
		var cmd *exec.Cmd
		if spec == "" {
			cmd = exec.Command(probe)
		} else {
			cmd = exec.Command(os.Args[0], "-test.run=^TestSeccompKernel$")
			cmd.Env = append(os.Environ(), seccompChildEnv+"="+spec+":"+probe)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", spec, err, out)
		}
		got := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if k, v, ok := strings.Cut(l, " "); ok {
				got[k] = v
			}
		}
		return got
	}
	plain := run("")
	if plain["native_getpid"] != "ok" || plain["native_keyctl"] != "EOPNOTSUPP" {
		t.Fatalf("unfiltered probe: %v", plain)
	}
	if plain["x32_getpid"] == "EPERM" || plain["i386_keyctl"] == "EPERM" {
		t.Fatalf("unfiltered probe already gets EPERM: %v", plain)
	}
	t.Logf("unfiltered: %v", plain)
	ia32 := plain["i386_getpid"] == "ok"
	if !ia32 {
		t.Logf("kernel without ia32 emulation (i386 getpid: %s): the i386 part is checked by TestFilterProgram only", plain["i386_getpid"])
	}

	blocked := run(strings.Join(subdomain.DangerousSyscalls, ","))
	t.Logf("filtered: %v", blocked)
	want := map[string]string{"native_getpid": "ok", "native_keyctl": "EPERM", "x32_getpid": "EPERM"}
	if ia32 {
		want["i386_getpid"] = "ok"
		want["i386_keyctl"] = "EPERM"
	}
	for k, v := range want {
		if blocked[k] != v {
			t.Errorf("filtered %s: %s, want %s (all: %v)", k, blocked[k], v, blocked)
		}
	}

	noKeyctl := slices.DeleteFunc(slices.Clone(subdomain.DangerousSyscalls), func(s string) bool { return s == "keyctl" })
	granted := run(strings.Join(noKeyctl, ","))
	want = map[string]string{"native_getpid": "ok", "native_keyctl": "EOPNOTSUPP", "x32_getpid": "EPERM"}
	if ia32 {
		want["i386_keyctl"] = "EOPNOTSUPP"
	}
	for k, v := range want {
		if granted[k] != v {
			t.Errorf("keyctl granted, %s: %s, want %s (all: %v)", k, granted[k], v, granted)
		}
	}
}

// seccompChild loads the filter blocking the comma-separated calls
// before the colon and execs the probe after it.
func seccompChild(spec string) {
	calls, probe, _ := strings.Cut(spec, ":")
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	if _, err := blockSyscalls(strings.Split(calls, ","), filterOpts{listen: retAllow}); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	err := syscall.Exec(probe, []string{probe}, os.Environ())
	os.Stderr.WriteString("exec probe: " + err.Error() + "\n")
	os.Exit(1)
}

// TestFilterExhaustive runs every call number of each ABI through the
// filter, for several granted sets (one splitting a range of consecutive
// numbers), against the table.
func TestFilterExhaustive(t *testing.T) {
	all := subdomain.DangerousSyscalls
	without := func(names ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return slices.Contains(names, s) })
	}
	for _, blocked := range [][]string{all, without("keyctl"), without("reboot", "mount"), without("fsopen", "open_tree"), {"ptrace"}, nil} {
		raw, err := buildFilter(blocked, tableX8664, []archTable{tableI386}, filterOpts{listen: retAllow, memfdExec: true})
		if err != nil {
			t.Fatal(err)
		}
		prog, _ := bpf.Disassemble(raw)
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatal(err)
		}
		for _, tab := range []archTable{tableX8664, tableI386} {
			want := map[uint32]bool{}
			for _, c := range tab.calls {
				if slices.Contains(blocked, c.name) {
					want[c.nr] = true
				}
			}
			checked := map[uint32]bool{}
			for _, c := range tab.checks {
				checked[c.nr] = true
			}
			for nr := uint32(0); nr < 1024; nr++ {
				if checked[nr] {
					continue // decided by the arguments: TestFilterChecks
				}
				exp := uint32(retAllow)
				if want[nr] {
					exp = retEPERM
				}
				got, err := vm.Run(seccompData(tab.audit, nr))
				if err != nil {
					t.Fatal(err)
				}
				if uint32(got) != exp {
					t.Fatalf("blocking %v: %s call %d gets %#x, want %#x", blocked, tab.name, nr, uint32(got), exp)
				}
			}
		}
		if got, _ := vm.Run(seccompData(unix.AUDIT_ARCH_X86_64, 0|x32SyscallBit)); uint32(got) != retEPERM {
			t.Errorf("blocking %v: x32 read gets %#x", blocked, uint32(got))
		}
	}
	raw, _ := buildFilter(all, tableX8664, []archTable{tableI386}, filterOpts{listen: retAllow})
	t.Logf("filter for every dangerous call: %d instructions", len(raw))
	// The metadata calls passed to the supervisor: every native one is
	// notified, every i386 one refused, nothing else changes.
	raw, err := buildFilter(all, tableX8664, []archTable{tableI386}, filterOpts{listen: retNotify, memfdExec: true, meta: subdomain.MetadataFamilies})
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := bpf.Disassemble(raw)
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, tab := range []archTable{tableX8664, tableI386} {
		want := map[uint32]uint32{}
		for _, c := range tab.calls {
			want[c.nr] = retEPERM
			if tab.name == "x86_64" && subdomain.IsMetadata(c.name) {
				want[c.nr] = retNotify
			}
		}
		checked := map[uint32]bool{}
		for _, c := range tab.checks {
			checked[c.nr] = true
		}
		for nr := uint32(0); nr < 1024; nr++ {
			if checked[nr] {
				continue
			}
			exp, ok := want[nr]
			if !ok {
				exp = retAllow
			}
			if got, _ := vm.Run(seccompData(tab.audit, nr)); uint32(got) != exp {
				t.Fatalf("metadata notified: %s call %d gets %#x, want %#x", tab.name, nr, uint32(got), exp)
			}
		}
	}
}

// seccompArgs is seccompData with arguments (low 32 bits, as the filter
// loads them; the VM reads big-endian words at the same offsets).
func seccompArgs(arch, nr uint32, args ...uint32) []byte {
	b := seccompData(arch, nr)
	for i, a := range args {
		binary.BigEndian.PutUint32(b[offsetArgs+8*i:], a)
	}
	return b
}

// TestFilterChecks runs the argument checks in x/net/bpf's VM.
func TestFilterChecks(t *testing.T) {
	const x8664, i386 = unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_I386
	all := subdomain.DangerousSyscalls
	noMemfd := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == "memfd_create" })
	notify := filterOpts{listen: retNotify}
	meta := filterOpts{listen: retNotify, meta: subdomain.MetadataFamilies}
	for _, tc := range []struct {
		name    string
		blocked []string
		o       filterOpts
		arch    uint32
		nr      uint32
		args    []uint32
		want    uint32
	}{
		{"tcp socket", all, notify, x8664, 41, []uint32{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0}, retAllow},
		{"tcp6 socket IPPROTO_TCP", all, notify, x8664, 41, []uint32{unix.AF_INET6, unix.SOCK_STREAM, unix.IPPROTO_TCP}, retAllow},
		{"mptcp socket", all, notify, x8664, 41, []uint32{unix.AF_INET, unix.SOCK_STREAM, ipprotoMPTCP}, retNoProto},
		{"sctp socket", all, notify, x8664, 41, []uint32{unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_SCTP}, retEPERM},
		{"udp socket", all, notify, x8664, 41, []uint32{unix.AF_INET, unix.SOCK_DGRAM | unix.SOCK_NONBLOCK, 0}, retEPERM},
		{"udp socket granted", all, filterOpts{listen: retNotify, udp: true}, x8664, 41, []uint32{unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_UDP}, retAllow},
		{"icmp socket, udp granted", all, filterOpts{listen: retNotify, udp: true}, x8664, 41, []uint32{unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP}, retEPERM},
		{"raw socket", all, notify, x8664, 41, []uint32{unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_TCP}, retEPERM},
		{"packet socket", all, notify, x8664, 41, []uint32{unix.AF_PACKET, unix.SOCK_RAW, 0}, retEPERM},
		{"unix socket", all, notify, x8664, 41, []uint32{unix.AF_UNIX, unix.SOCK_STREAM, 0}, retAllow},
		{"sendto", all, notify, x8664, 44, []uint32{3, 0, 10, unix.MSG_NOSIGNAL}, retAllow},
		{"sendto fastopen", all, notify, x8664, 44, []uint32{3, 0, 10, unix.MSG_FASTOPEN}, retEPERM},
		{"sendmsg fastopen", all, notify, x8664, 46, []uint32{3, 0, unix.MSG_FASTOPEN}, retEPERM},
		{"sendmmsg fastopen", all, notify, x8664, 307, []uint32{3, 0, 1, unix.MSG_FASTOPEN}, retEPERM},
		{"i386 sendto fastopen", all, notify, i386, 369, []uint32{3, 0, 10, unix.MSG_FASTOPEN}, retEPERM},
		{"i386 socketcall", all, notify, i386, 102, nil, retEPERM},
		{"listen", all, notify, x8664, 50, []uint32{3, 5}, retNotify},
		{"memfd", all, notify, x8664, 319, []uint32{0, unix.MFD_CLOEXEC}, retEPERM},
		{"memfd noexec", all, notify, x8664, 319, []uint32{0, unix.MFD_CLOEXEC | mfdNoexec}, retAllow},
		{"memfd, noexec default", all, filterOpts{listen: retNotify, memfdNoexecDefault: true}, x8664, 319, []uint32{0, 0}, retAllow},
		{"memfd exec, noexec default", all, filterOpts{listen: retNotify, memfdNoexecDefault: true}, x8664, 319, []uint32{0, mfdExec}, retEPERM},
		{"memfd granted", noMemfd, filterOpts{listen: retNotify, memfdExec: true}, x8664, 319, []uint32{0, 0}, retAllow},
		{"openat", all, notify, x8664, 257, []uint32{0, 0, unix.O_RDONLY, 0}, retAllow},
		{"openat create 0644", all, notify, x8664, 257, []uint32{0, 0, unix.O_CREAT | unix.O_WRONLY, 0o644}, retAllow},
		{"openat create 04755", all, notify, x8664, 257, []uint32{0, 0, unix.O_CREAT | unix.O_WRONLY, 0o4755}, retEPERM},
		{"openat tmpfile 02755", all, notify, x8664, 257, []uint32{0, 0, unix.O_TMPFILE | unix.O_RDWR, 0o2755}, retEPERM},
		{"openat no create, mode bits ignored", all, notify, x8664, 257, []uint32{0, 0, unix.O_RDONLY, 0o4755}, retAllow},
		{"open create 04755", all, notify, x8664, 2, []uint32{0, unix.O_CREAT, 0o4755}, retEPERM},
		{"creat 06755", all, notify, x8664, 85, []uint32{0, 0o6755}, retEPERM},
		{"creat 0644", all, notify, x8664, 85, []uint32{0, 0o644}, retAllow},
		{"openat2", all, notify, x8664, 437, nil, retNoSys},
		{"prlimit self", all, notify, x8664, 302, []uint32{0}, retAllow},
		{"prlimit other", all, notify, x8664, 302, []uint32{1234}, retEPERM},
		{"fchmodat, no supervisor", all, notify, x8664, 268, nil, retEPERM},
		{"fchmodat to the supervisor", all, meta, x8664, 268, nil, retNotify},
		{"utimensat to the supervisor", all, meta, x8664, 280, nil, retNotify},
		{"fsetxattr to the supervisor", all, meta, x8664, 190, nil, retNotify},
		{"removexattrat to the supervisor", all, meta, x8664, 466, nil, retNotify},
		{"lchown to the supervisor", all, meta, x8664, 94, nil, retNotify},
		{"i386 fchmodat refused", all, meta, i386, 306, nil, retEPERM},
		{"i386 chown32 refused", all, meta, i386, 212, nil, retEPERM},
		{"fchmodat, listen refused (no supervisor)", all, filterOpts{listen: retEPERM, meta: subdomain.MetadataFamilies}, x8664, 268, nil, retEPERM},
		{"mknodat beside the notified calls", all, meta, x8664, 259, nil, retEPERM},
		{"fchownat, only chmod notified", all, filterOpts{listen: retNotify, meta: []string{"chmod"}}, x8664, 260, nil, retEPERM},
		{"fchmodat granted", slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == "chmod" }), notify, x8664, 268, nil, retAllow},
		{"adjtimex", all, notify, x8664, 159, nil, retEPERM},
	} {
		raw, err := buildFilter(tc.blocked, tableX8664, []archTable{tableI386}, tc.o)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		prog, _ := bpf.Disassemble(raw)
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := vm.Run(seccompArgs(tc.arch, tc.nr, tc.args...))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if uint32(got) != tc.want {
			t.Errorf("%s: filter returns %#x, want %#x", tc.name, uint32(got), tc.want)
		}
	}
}
