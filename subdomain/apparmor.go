package subdomain

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// syscallAppArmor maps a granted dangerous system call to the AppArmor
// rule that allows it.
var syscallAppArmor = map[string]string{
	"acct": "capability sys_pacct", "add_key": "capability sys_admin", "bpf": "capability bpf",
	"clock_adjtime": "capability sys_time", "clock_settime": "capability sys_time",
	"delete_module": "capability sys_module", "finit_module": "capability sys_module",
	"fsconfig": "mount", "fsmount": "mount", "fsopen": "mount", "init_module": "capability sys_module",
	"ioperm": "capability sys_rawio", "iopl": "capability sys_rawio",
	"kexec_file_load": "capability sys_boot", "kexec_load": "capability sys_boot",
	"keyctl": "capability sys_admin", "mknod": "capability mknod", "mknodat": "capability mknod",
	"mount": "mount", "mount_setattr": "mount", "move_mount": "mount",
	"open_by_handle_at": "capability dac_read_search", "open_tree": "mount",
	"pivot_root": "pivot_root", "process_vm_readv": "ptrace", "process_vm_writev": "ptrace",
	"ptrace": "ptrace", "reboot": "capability sys_boot", "request_key": "capability sys_admin",
	"setdomainname": "capability sys_admin", "sethostname": "capability sys_admin",
	"settimeofday": "capability sys_time", "swapoff": "capability sys_admin",
	"swapon": "capability sys_admin", "umount2": "umount", "userfaultfd": "userns",
	"adjtimex": "capability sys_time", "chmod": "capability fowner", "chown": "capability chown",
	"utimes": "capability fowner", "setxattr": "capability fowner",
	// Not mediated by AppArmor 3: written as a comment.
	"io_uring_setup": "# io_uring_setup granted (AppArmor 3 does not mediate it)",
	"memfd_create":   "# executable memfd_create granted (AppArmor 3 does not mediate it)",
}

// FormatAppArmor writes p as an AppArmor profile (AppArmor 3 syntax) that
// apparmor_parser accepts. Each nested px profile becomes a profile of its
// own in the same file, entered with "px -> NAME"; c maps to w (AppArmor's w includes create and
// delete); TCP port rules become "network inet stream," with the ports in
// a comment, as AppArmor 3 has no port rules.
func FormatAppArmor(w io.Writer, p *Profile) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# AppArmor profile for %s, written by immunix learn (SubDomain syntax %s).\n", p.Program, p.Version)
	bw.WriteString("@{pid}={[1-9],[1-9][0-9],[1-9][0-9][0-9],[1-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9][0-9],[1-9][0-9][0-9][0-9][0-9][0-9][0-9]}\n")
	bw.WriteString("@{HOME}=/home/*/ /root/\n\n")
	// Every nested profile becomes a top-level profile of its own, entered
	// with "px -> NAME": AppArmor child profiles do not nest.
	names := map[*Profile]string{}
	used := map[string]int{}
	var order []*Profile
	p.Walk(func(q *Profile) {
		n := aaName(q.Program)
		used[n]++
		if used[n] > 1 {
			n = fmt.Sprintf("%s_%d", n, used[n])
		}
		names[q] = n
		order = append(order, q)
	})
	for i, q := range order {
		if i > 0 {
			bw.WriteString("\n")
		}
		fmt.Fprintf(bw, "profile %s %s {\n", names[q], aaPath(q.Program))
		aaBody(bw, q, "  ", names)
		bw.WriteString("}\n")
	}
	return bw.Flush()
}

func aaName(program string) string {
	var b strings.Builder
	b.WriteString("immunix")
	for i := 0; i < len(program); i++ {
		c := program[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// aaPath quotes a path for AppArmor: quoted when it has blanks or odd
// bytes, with octal escapes for non-printable bytes.
func aaPath(path string) string {
	plain := true
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c <= 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '#' || c == ',' && !strings.Contains(path, "{") {
			plain = false
		}
	}
	if plain {
		return path
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func aaBody(w *bufio.Writer, p *Profile, indent string, names map[*Profile]string) {
	for i := range p.Rules {
		r := &p.Rules[i]
		var perms strings.Builder
		if r.Mode&Mmap != 0 {
			perms.WriteByte('m')
		}
		if r.Mode&Read != 0 {
			perms.WriteByte('r')
		}
		if r.Mode&(Write|Create) != 0 {
			perms.WriteByte('w')
		}
		if r.Mode&Exec != 0 {
			if r.Exec == ExecProfile && r.Child != nil {
				fmt.Fprintf(w, "%s%s %spx -> %s,\n", indent, aaPath(r.Path), perms.String(), names[r.Child])
				continue
			}
			perms.WriteString("ix")
		}
		fmt.Fprintf(w, "%s%s %s,\n", indent, aaPath(r.Path), perms.String())
	}
	var ports []string
	for _, n := range p.Net {
		switch n.Proto {
		case "tcp":
			ports = append(ports, n.Op+" "+fmt.Sprint(n.Port))
		case "udp":
			fmt.Fprintf(w, "%snetwork inet dgram,\n%snetwork inet6 dgram,\n", indent, indent)
		default:
			// AppArmor 3 mediates unix sockets and signals with peer
			// labels, which a profile of one program cannot name.
			fmt.Fprintf(w, "%s# %s\n", indent, n)
		}
	}
	if len(ports) > 0 {
		fmt.Fprintf(w, "%s# tcp: %s\n", indent, strings.Join(ports, ", "))
		fmt.Fprintf(w, "%snetwork inet stream,\n%snetwork inet6 stream,\n", indent, indent)
	}
	seen := map[string]bool{}
	for _, s := range p.Syscalls {
		rule := syscallAppArmor[s]
		if rule == "" || seen[rule] {
			continue
		}
		seen[rule] = true
		if strings.HasPrefix(rule, "#") {
			fmt.Fprintf(w, "%s%s\n", indent, rule)
			continue
		}
		fmt.Fprintf(w, "%s%s,\n", indent, rule)
	}
}
