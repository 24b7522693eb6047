// Package check is immunix's CI gate: it turns the facts of each ELF file
// (package check/elfacts) into a verdict per property (Evaluate), applies a
// policy (Policy: the levels basic, strong and immunix, plus per-property
// requirements), and reports as text, JSON, SARIF 2.1.0 or JUnit XML. The
// Scanner walks files, directories, .deb and .rpm packages (package
// check/pkg) with a bounded pool of workers and keeps the input order.
//
// Facts, then verdicts, then presentation: nothing here reads a file twice,
// and nothing but the Write* functions formats.
//
// Example:
//
//	pol, _ := check.NewPolicy(check.Strong)
//	pol, _ = pol.WithRequire("cet")
//	s := &check.Scanner{Policy: pol, Code: true}
//	rep := s.Scan([]string{"build/", "dist/hello_1.0_amd64.deb"})
//	check.WriteText(os.Stdout, rep, check.TextOptions{})
//	os.Exit(rep.ExitCode()) // 0 pass, 1 policy failed, 2 unreadable input
package check
