// Package canary holds the C sources of StackGuard's runtime: the
// __stack_chk_fail replacement that raises an intruder alert and halts, the
// canary renewal after fork, and the FORTIFY __*_chk entry points that alert
// before halting. guardlib compiles them into the runtime archive; nothing
// here runs in Go.
//
// Example (what guardlib does with them):
//
//	fs.WalkDir(canary.Sources, "runtime", func(p string, d fs.DirEntry, err error) error {
//		// write p next to guardlib's runtime/ and formatguard's, compile each .c
//		return err
//	})
//
// docs/stackguard.md describes what the code does and its bounds.
package canary

import "embed"

// Sources holds runtime/*.c and runtime/*.h.
//
//go:embed all:runtime
var Sources embed.FS
