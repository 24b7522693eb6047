// Package learn builds SubDomain profiles from what a program does: it
// runs the program under strace (Runner), parses the trace into access
// events (Parser), and folds the events into a generalised profile
// (Builder).
//
//	b := learn.NewBuilder(learn.Options{ResolveExec: true})
//	p := &learn.Parser{Emit: b.Add}
//	var trace bytes.Buffer
//	code, err := (&learn.Runner{Stdout: os.Stdout, Stderr: os.Stderr}).Run(
//		[]string{"/usr/bin/cat", "/etc/hostname"}, p, &trace)
//	prof, err := b.Profile()
//	subdomain.Format(os.Stdout, prof)
//
// The parser follows each process's current directory (chdir, fchdir,
// inherited over fork, shared under CLONE_FS), joins "<unfinished ...>"
// and "<... resumed>" halves across processes, decodes strace's escapes
// (octal, hex, \n...) and uses the -y fd annotations for *at() calls and
// for the real path of an opened file. Failed calls are recorded as
// what the program asked for; failed lookups of names that do not exist
// (ENOENT) need no permission and make no rule.
package learn
