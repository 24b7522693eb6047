package learn

import (
	"bytes"
	"path"
	"strings"
)

// fsState is the part of a process that CLONE_FS shares: the cwd.
type fsState struct{ cwd string }

type proc struct {
	fs      *fsState
	exe     string
	cloning bool   // has an unfinished clone/fork/vfork
	pending []byte // the text of an unfinished call
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
