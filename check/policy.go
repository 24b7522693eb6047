package check

import (
	"fmt"
	"sort"
	"strings"
)

// Level is a named policy level.
type Level string

// The policy levels, each a superset of the one before.
const (
	// Basic: what every current distribution links by default.
	Basic Level = "basic"
	// Strong: Debian's hardening=+all, what hardening-check checks.
	Strong Level = "strong"
	// Immunix: everything immunix-cc provides, proved from the code and the
	// build stamp. CET is not in it: Debian 12's start files carry no CET
	// notes, so no program linked there has them.
	Immunix Level = "immunix"
)

// Levels lists the levels in increasing strictness.
var Levels = []Level{Basic, Strong, Immunix}

// A Rule accepts or refuses one property's result.
type Rule struct {
	Property string
	// Accept reports whether the result satisfies the rule, and if not,
	// why not in a few words.
	Accept func(Result) bool
	// Want describes what the rule asks for, for reports ("full", "pass").
	Want string
}

func passOrNA(r Result) bool { return r.Status == Pass || r.Status == NA }

func relroAtLeastPartial(r Result) bool {
	return r.Status == NA || r.Value == "partial" || r.Value == "full"
}

// Policy is an immutable set of rules; the With* methods return copies.
type Policy struct {
	level Level
	rules map[string]Rule
	// strict: an "unknown" status fails a rule instead of passing it.
	strict bool
}

// NewPolicy returns the policy of a named level.
func NewPolicy(l Level) (Policy, error) {
	p := Policy{level: l, rules: map[string]Rule{}}
	add := func(prop, want string, accept func(Result) bool) {
		p.rules[prop] = Rule{Property: prop, Accept: accept, Want: want}
	}
	switch l {
	case Basic, Strong, Immunix:
	default:
		return Policy{}, fmt.Errorf("unknown policy level %q (want basic, strong or immunix)", string(l))
	}
	add(PNoExecStack, "pass", passOrNA)
	add(PWX, "pass", passOrNA)
	add(PPIE, "pass", passOrNA)
	add(PRelro, "partial or full", relroAtLeastPartial)
	if l == Strong || l == Immunix {
		add(PRelro, "full", passOrNA)
		add(PNow, "pass", passOrNA)
		add(PCanary, "pass", passOrNA)
		add(PFortify, "pass", passOrNA)
	}
	if l == Immunix {
		add(PFormatGuard, "pass", passOrNA)
		add(PRaceGuard, "pass", passOrNA)
		add(PStamp, "pass", passOrNA)
	}
	return p, nil
}

// Level returns the policy's level.
func (p Policy) Level() Level { return p.level }

func (p Policy) clone() Policy {
	q := p
	q.rules = make(map[string]Rule, len(p.rules))
	for k, v := range p.rules {
		q.rules[k] = v
	}
	return q
}

// WithRequire returns a copy that also requires prop to pass (or not apply).
func (p Policy) WithRequire(prop string) (Policy, error) {
	prop = canonical(prop)
	if !knownProperty(prop) {
		return p, fmt.Errorf("unknown property %q (known: %s)", prop, strings.Join(Properties, ", "))
	}
	q := p.clone()
	q.rules[prop] = Rule{Property: prop, Accept: passOrNA, Want: "pass"}
	return q, nil
}

// WithAllow returns a copy that no longer checks prop.
func (p Policy) WithAllow(prop string) (Policy, error) {
	prop = canonical(prop)
	if !knownProperty(prop) {
		return p, fmt.Errorf("unknown property %q (known: %s)", prop, strings.Join(Properties, ", "))
	}
	q := p.clone()
	delete(q.rules, prop)
	return q, nil
}

// WithStrict returns a copy in which an "unknown" result fails its rule.
func (p Policy) WithStrict(strict bool) Policy {
	q := p.clone()
	q.strict = strict
	return q
}

func knownProperty(prop string) bool {
	for _, x := range Properties {
		if x == prop {
			return true
		}
	}
	return false
}

// Required returns the checked properties in report order.
func (p Policy) Required() []string {
	var out []string
	for _, x := range Properties {
		if _, ok := p.rules[x]; ok {
			out = append(out, x)
		}
	}
	return out
}

// Want returns what the policy asks of prop, or "" when it does not check it.
func (p Policy) Want(prop string) string { return p.rules[prop].Want }

// String renders the policy, e.g. "strong: canary fortify relro=full ...".
func (p Policy) String() string {
	var parts []string
	for _, prop := range p.Required() {
		r := p.rules[prop]
		if r.Want == "pass" {
			parts = append(parts, prop)
		} else {
			parts = append(parts, prop+"="+strings.ReplaceAll(r.Want, " ", "-"))
		}
	}
	s := string(p.level) + ": " + strings.Join(parts, " ")
	if p.strict {
		s += " (unknown fails)"
	}
	return s
}

// Failures returns the properties of results that the policy refuses,
// sorted in report order.
func (p Policy) Failures(results []Result) []string {
	var out []string
	for _, r := range results {
		rule, ok := p.rules[r.Property]
		if !ok {
			continue
		}
		if r.Status == Unknown {
			if p.strict {
				out = append(out, r.Property)
			}
			continue
		}
		if !rule.Accept(r) {
			out = append(out, r.Property)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return order(out[i]) < order(out[j]) })
	return out
}

func order(prop string) int {
	for i, x := range Properties {
		if x == prop {
			return i
		}
	}
	return len(Properties)
}
