package learn

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/immunix/immunix/subdomain"
)

// generalise rewrites p's rules the way a person would write them, then
// canonicalises:
//
//  1. names: /proc/1234 → /proc/@{pid}, /home/ann and /root → @{HOME},
//     libfoo.so.1.2 → libfoo.so.*, /dev/pts/3 → /dev/pts/*, and random
//     names below temporary directories (tmpk3j_8x2a → tmpk*);
//  2. siblings: GlobMin or more files with the same mode in one directory
//     at depth GlobMinDepth or deeper become DIR/* (one level, never **).
//
// Exec rules keep their exact names.
func (b *Builder) generalise(p *subdomain.Profile) {
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Mode&subdomain.Exec != 0 {
			continue
		}
		r.Path = b.GeneraliseName(r.Path)
	}
	p.Canonicalize()
	b.collapseSiblings(p)
	p.Canonicalize()
}

// GeneraliseName applies the name rules (step 1 of generalise) to one path.
func (b *Builder) GeneraliseName(path string) string {
	dir := strings.HasSuffix(path, "/") && path != "/"
	if dir {
		path = path[:len(path)-1]
	}
	comps := strings.Split(path, "/") // comps[0] == ""
	if len(comps) > 2 && comps[1] == "proc" {
		if isDigits(comps[2]) {
			comps[2] = "@{pid}"
			if len(comps) > 4 && comps[3] == "task" && isDigits(comps[4]) {
				comps[4] = "@{pid}"
			}
		}
	}
	if len(comps) > 2 && comps[1] == "home" && comps[2] != "" {
		comps = append([]string{"", "@{HOME}"}, comps[3:]...)
		comps[0] = ""
	} else if len(comps) > 1 && comps[1] == "root" {
		comps = append([]string{"", "@{HOME}"}, comps[2:]...)
	}
	if len(comps) == 4 && comps[1] == "dev" && comps[2] == "pts" && isDigits(comps[3]) {
		comps[3] = "*"
	}
	for _, t := range b.Opts.TempDirs {
		tc := strings.Split(t, "/")
		if len(comps) <= len(tc) || !slices.Equal(comps[:len(tc)], tc) {
			continue
		}
		for i := len(tc); i < len(comps); i++ {
			if g, ok := randomName(comps[i]); ok {
				comps[i] = g
			}
		}
	}
	last := comps[len(comps)-1]
	if g, ok := versionedLib(last); ok {
		comps[len(comps)-1] = g
	}
	out := strings.Join(comps, "/")
	if strings.HasPrefix(out, "/@{HOME}") {
		out = out[1:]
	}
	if dir {
		out += "/"
	}
	return out
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// versionedLib turns libfoo.so.1.2.3 into libfoo.so.* and
// libfoo-2.31.so into libfoo-*.so.
func versionedLib(name string) (string, bool) {
	if i := strings.Index(name, ".so."); i > 0 {
		ver := name[i+4:]
		if ver != "" && strings.Trim(ver, "0123456789.") == "" {
			return name[:i] + ".so.*", true
		}
	}
	if base, ok := strings.CutSuffix(name, ".so"); ok {
		if i := strings.LastIndexByte(base, '-'); i > 0 {
			ver := base[i+1:]
			if ver != "" && ver[0] >= '0' && ver[0] <= '9' && strings.Trim(ver, "0123456789.") == "" {
				return base[:i] + "-*.so", true
			}
		}
	}
	return "", false
}

func randomChar(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// looksRandom: six or more of [A-Za-z0-9_], with letters and digits
// mixed, or all digits, or (eight or more) upper and lower case mixed.
func looksRandom(s string) bool {
	if len(s) < 6 {
		return false
	}
	var digit, lower, upper bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !randomChar(c) {
			return false
		}
		switch {
		case '0' <= c && c <= '9':
			digit = true
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	letters := lower || upper
	return digit && letters || digit && !letters || len(s) >= 8 && lower && upper
}

// randomName generalises a temporary name into PREFIX*: the prefix is
// the longest one ending in '.', '-' or '_' before a random-looking tail
// (mktemp's tmp.XXXXXXXXXX), else the letters before a run of six or more
// digits (TestName123456), else the shortest letters-only prefix of three
// or more letters before a random tail (Python's tmpk3j_8x2a → tmp*).
func randomName(c string) (string, bool) {
	for i := len(c) - 6; i >= 1; i-- {
		if p := c[i-1]; (p == '.' || p == '-' || p == '_') && looksRandom(c[i:]) {
			return c[:i] + "*", true
		}
	}
	letters := 0
	for letters < len(c) && ('a' <= c[letters] && c[letters] <= 'z' || 'A' <= c[letters] && c[letters] <= 'Z') {
		letters++
	}
	if letters > 0 && len(c)-letters >= 6 && isDigits(c[letters:]) {
		return c[:letters] + "*", true
	}
	for i := min(3, letters); i <= letters && i <= len(c)-6; i++ {
		if looksRandom(c[i:]) {
			return c[:i] + "*", true
		}
	}
	return "", false
}

// collapseSiblings replaces GlobMin or more plain files of one directory
// that share a mode by DIR/*.
func (b *Builder) collapseSiblings(p *subdomain.Profile) {
	type group struct {
		dir  string
		mode subdomain.Mode
		isD  bool
	}
	groups := map[group][]int{}
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Mode&subdomain.Exec != 0 {
			continue
		}
		path := r.Path
		isDir := strings.HasSuffix(path, "/")
		path = strings.TrimSuffix(path, "/")
		j := strings.LastIndexByte(path, '/')
		if j <= 0 {
			continue
		}
		dir, name := path[:j], path[j+1:]
		if name == "*" || strings.Count(dir, "/") < b.Opts.GlobMinDepth {
			continue
		}
		g := group{dir, r.Mode, isDir}
		groups[g] = append(groups[g], i)
	}
	drop := map[int]bool{}
	var keys []group
	for g, idx := range groups {
		if len(idx) >= b.Opts.GlobMin {
			keys = append(keys, g)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].dir < keys[j].dir })
	for _, g := range keys {
		idx := groups[g]
		glob := subdomain.Rule{Path: g.dir + "/*", Mode: g.mode}
		if g.isD {
			glob.Path += "/"
		}
		for n, i := range idx {
			drop[i] = true
			r := &p.Rules[i]
			if n >= b.Opts.Evidence {
				continue
			}
			for _, e := range r.Evidence[:min(1, len(r.Evidence))] {
				glob.Evidence = append(glob.Evidence, r.Path+" ← "+e)
			}
		}
		if more := len(idx) - b.Opts.Evidence; more > 0 {
			glob.Evidence = append(glob.Evidence, fmt.Sprintf("(and %d more siblings)", more))
		}
		p.Rules = append(p.Rules, glob)
	}
	if len(drop) == 0 {
		return
	}
	out := p.Rules[:0]
	for i, r := range p.Rules {
		if !drop[i] {
			out = append(out, r)
		}
	}
	p.Rules = out
}
