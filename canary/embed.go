// Package canary holds the C sources of StackGuard's runtime: the
// __stack_chk_fail replacement that raises an intruder alert and halts, and
// the canary renewal after fork. guardlib compiles them into the runtime.
package canary

import "embed"

// Sources holds runtime/*.c and runtime/*.h.
//
//go:embed all:runtime
var Sources embed.FS
