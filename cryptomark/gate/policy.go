package gate

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"strings"
)

// DefaultPolicyFile is where markd reads its policy.
const DefaultPolicyFile = "/etc/immunix/cryptomark.conf"

// Action is what a rule does with a program it matches.
type Action int

// The actions of a rule.
const (
	// Allow lets the program run without reading it, provided the file
	// is owned by root and writable by nobody else (otherwise the rule
	// counts as RequireSigned: a path is not trusted alone).
	Allow Action = iota
	// RequireSigned lets it run only with a valid signature by a trusted
	// key.
	RequireSigned
	// Audit lets it run and raises an alert when it is not validly signed
	// by a trusted key.
	Audit
)

var actionNames = map[string]Action{"allow": Allow, "require-signed": RequireSigned, "audit": Audit}

func (a Action) String() string {
	for n, v := range actionNames {
		if v == a {
			return n
		}
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Rule is one line of the policy.
type Rule struct {
	Prefix string // absolute, cleaned, no trailing slash except "/"
	Action Action
	Line   int
}

// Policy is an ordered rule list; the first matching rule wins.
type Policy struct {
	Rules []Rule
	// Default applies when no rule matches: RequireSigned, so a policy
	// that forgets a directory fails closed.
	Default Action
}

// maxPolicy bounds the policy file (a policy is a few dozen lines).
const maxPolicy = 1 << 20

// ParsePolicy reads policy text; name prefixes errors ("FILE:LINE: ...").
// Each line is "PATH-PREFIX ACTION", "#" starts a comment.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	if len(data) > maxPolicy {
		return nil, fmt.Errorf("%s: larger than %d bytes: not a policy file", name, maxPolicy)
	}
	p := &Policy{Default: RequireSigned}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), maxPolicy)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"PATH-PREFIX require-signed|allow|audit\", got %d words", name, n, len(f))
		}
		if !strings.HasPrefix(f[0], "/") {
			return nil, fmt.Errorf("%s:%d: path prefix %q is not absolute", name, n, f[0])
		}
		if strings.ContainsRune(f[0], 0) || strings.Contains("/"+f[0]+"/", "/../") || strings.Contains("/"+f[0]+"/", "/./") {
			return nil, fmt.Errorf("%s:%d: path prefix %q is not a clean path", name, n, f[0])
		}
		a, ok := actionNames[f[1]]
		if !ok {
			return nil, fmt.Errorf("%s:%d: unknown action %q (want require-signed, allow or audit)", name, n, f[1])
		}
		p.Rules = append(p.Rules, Rule{Prefix: path.Clean(f[0]), Action: a, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return p, nil
}

// LoadPolicy reads and parses a policy file.
func LoadPolicy(file string) (*Policy, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return ParsePolicy(file, data)
}

// Match returns the first rule whose prefix contains p (by whole path
// components: /usr/local does not match /usr/localx), or nil.
func (p *Policy) Match(file string) *Rule {
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Prefix == "/" || file == r.Prefix || strings.HasPrefix(file, r.Prefix+"/") {
			return r
		}
	}
	return nil
}
