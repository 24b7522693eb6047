// Package formatguard holds FormatGuard: the wrapper headers that count the
// arguments of printf-family calls at compile time, and the C runtime that
// checks a non-literal format against that count.
package formatguard

import "embed"

// RuntimeSources holds runtime/*.c and runtime/*.h, compiled by guardlib
// into the guard runtime archive.
//
//go:embed all:runtime
var RuntimeSources embed.FS

// Headers holds include/: the wrapper headers immunix-cc puts first on the
// system include path.
//
//go:embed all:include
var Headers embed.FS
