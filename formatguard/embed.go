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
