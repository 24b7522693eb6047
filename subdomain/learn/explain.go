package learn

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/immunix/immunix/subdomain"
)

// WriteExplain writes p in SubDomain syntax with, under each rule, the
// trace lines that produced it as "#  LINE: TEXT" comments.
func WriteExplain(w io.Writer, p *subdomain.Profile) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# %s %s\n", subdomain.QuotePath(p.Program), p.Version)
	explainBody(bw, p, "")
	return bw.Flush()
}

func explainBody(w *bufio.Writer, p *subdomain.Profile, indent string) {
	for i := range p.Rules {
		r := &p.Rules[i]
		fmt.Fprintf(w, "%s%s %s", indent, subdomain.QuotePath(r.Path), r.ModeString())
		nested := r.Exec == subdomain.ExecProfile && r.Child != nil
		if nested {
			w.WriteString(" {")
		}
		w.WriteByte('\n')
		for _, e := range r.Evidence {
			fmt.Fprintf(w, "%s\t#  %s\n", indent, oneLine(e))
		}
		if nested {
			explainBody(w, r.Child, indent+"\t")
			w.WriteString(indent + "}\n")
		}
	}
	for _, n := range p.Net {
		fmt.Fprintf(w, "%s%s\n", indent, n)
		for _, e := range n.Evidence {
			fmt.Fprintf(w, "%s\t#  %s\n", indent, oneLine(e))
		}
	}
	for _, s := range p.Syscalls {
		fmt.Fprintf(w, "%ssyscall %s\n", indent, s)
	}
}

func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", "\\n")
}
