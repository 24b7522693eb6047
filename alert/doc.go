// Package alert reads and writes immunix alerts, the one-line format every
// immunix protection (stackguard, fortify, formatguard, subdomain, ...)
// reports in (docs/contracts.md, "The alert format").
//
// A body looks like
//
//	immunix alert: kind=subdomain exe=/usr/bin/cgi pid=42 uid=33 op=exec path=/bin/sh msg=denied by profile
//
// and travels in syslog (RFC 3164 or RFC 5424), syslog files, the journal
// or on stderr. Parser.ParseLine accepts any of those framings:
//
//	var p alert.Parser
//	a, err := p.ParseLine(`<81>immunix[42]: immunix alert: kind=stackguard exe=/bin/x pid=42 uid=0 msg=smashed`)
//	if errors.Is(err, alert.ErrNotAlert) {
//		// some other log line
//	}
//	fmt.Println(a.Kind, a.Exe, a.PID) // stackguard /bin/x 42
//
// Writer sends alerts from Go code (immunix run) in the same format as the
// C writer in guardlib/runtime/alert.h.
package alert
