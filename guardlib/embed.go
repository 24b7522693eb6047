package guardlib

import "embed"

// runtimeSources holds runtime/: the shared alert writer.
//
//go:embed all:runtime
var runtimeSources embed.FS
