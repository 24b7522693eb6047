package gate

import "github.com/immunix/immunix/cryptomark"

// Decision is the gate's answer for one program.
type Decision struct {
	Allow bool
	Alert bool   // raise a kind=cryptomark alert
	Rule  string // the policy rule that applied ("PREFIX ACTION" or "default")
	Why   string // the alert's message
}

// FileInfo is what the kernel reports about the file about to run.
type FileInfo struct {
	Path string
	UID  uint32
	Mode uint32 // st_mode
	// Script: the file starts with "#!". The kernel execs its interpreter
	// next, and that exec is gated on its own; a script cannot carry a
	// signature, and "sh FILE" would run it ungated anyway, so a script
	// is allowed (docs/cryptomark.md, what is not gated).
	Script bool
}

// trustedOwner reports a file that only root can have put there: owned
// by root and writable by nobody else. An allow rule applies only to
// such files, because the path of a file can be made to say anything
// (a bind mount in a user namespace, a hard link).
func trustedOwner(fi FileInfo) bool { return fi.UID == 0 && fi.Mode&0o022 == 0 }

// Needs reports whether the decision for this file under p needs the
// file's signature verdict (an allow rule on a root-owned file does not).
func Needs(p *Policy, fi FileInfo) (rule *Rule, verify bool) {
	rule = p.Match(fi.Path)
	if rule != nil && rule.Action == Allow && trustedOwner(fi) {
		return rule, false
	}
	return rule, true
}

// Decide applies the policy to a file and its signature verdict (v is
// ignored when Needs said no verification was needed). audit turns every
// deny into an allow with an alert.
func Decide(p *Policy, fi FileInfo, v cryptomark.Verdict, audit bool) Decision {
	rule, verify := Needs(p, fi)
	d := Decision{Rule: "default require-signed"}
	if fi.Script {
		d.Allow, d.Rule = true, "script: its interpreter is gated"
		return d
	}
	action := p.Default
	if rule != nil {
		d.Rule = rule.Prefix + " " + rule.Action.String()
		action = rule.Action
	}
	if !verify {
		d.Allow = true
		return d
	}
	if v.OK() {
		d.Allow = true
		return d
	}
	why := "not signed by a trusted key"
	if v.Err != nil {
		why = v.Err.Error()
	}
	if action == Allow {
		// An allow rule on a file that is not root's: require a signature.
		why += " (allow rule ignored: the file is not owned by root or is writable by others)"
	}
	switch {
	case action == Audit:
		d.Allow, d.Alert, d.Why = true, true, "audit: "+why
	case audit:
		d.Allow, d.Alert, d.Why = true, true, "audit mode, would deny: "+why
	default:
		d.Allow, d.Alert, d.Why = false, true, "denied: "+why
	}
	return d
}
