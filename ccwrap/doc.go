// Package ccwrap is immunix-cc, the hardening compiler wrapper: it finds the
// real compiler, classifies the command line, decides which protections to
// add, rewrites the command and runs it. docs/immunix-cc.md is the user
// guide; docs/contracts.md defines the protection names, the build stamp
// and the exit codes.
//
// The steps are separate, and all but the last are pure functions of their
// inputs, so they are tested as tables and golden files:
//
//	inv, err := ccwrap.Parse(args, os.ReadFile)        // classify (reads @files only)
//	plan := ccwrap.Decide(inv, policy, caps)            // protections and records
//	argv := ccwrap.Rewrite(&plan, []string{"/usr/bin/gcc"}, policy.Flags, args, assets)
//
// Parse returns an Invocation: the mode (-E, -S, -c, link...), the link
// kind, the inputs and their languages, the output, the ABI flags, the
// optimisation level and the user's own word on each protection
// (security.go), or a Reason to pass the command through untouched. Decide
// evaluates a table of rules (rules.go), one per protection and side: the
// user's word, then the policy (IMMUNIX_DISABLE, the config file, the
// level), then the compiler's capabilities (Caps, probed once and cached by
// CachedCaps), and returns a
// Plan: the flags to add and the Record of what is on, off by policy and off
// by the user. Rewrite builds the final argv from the plan and the Assets
// (the guard runtime and FormatGuard arguments from guardlib, the stamp
// header and link note object from the cache).
//
// WriteToolchainConfig (zeroproc.go) writes the same defaults into gcc's
// specs and a clang configuration file, the zero-process mode ("immunix
// toolchain-config"), from the same rules.
//
// Finder finds the real compiler (IMMUNIX_CC, masquerade by argv[0], the
// recursion guard) through an injected Lookup. Main ties it together with
// the process's side effects held in an Env.
package ccwrap
