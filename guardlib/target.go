package guardlib

import "errors"

// Target identifies one build of the guard runtime: the real compiler that
// will link it and the flags that change the ABI of what it produces.
type Target struct {
	// Compiler is the real compiler command (after IMMUNIX_CC splitting,
	// without ccache or distcc in front), e.g. ["gcc"] or ["/usr/bin/clang-14"].
	Compiler []string
	// ID identifies the compiler's build (resolved path, size, mtime,
	// version); two compilers with the same ID produce the same runtime.
	// guardlib keys its archives by CompilerID(Compiler), which both
	// immunix-cc and "immunix guardlib --prebuild" can compute, so prebuilt
	// system copies are found; ID is used only when Compiler cannot be found
	// on PATH.
	ID string
	// ABIFlags are the user's flags that change the target ABI:
	// -m32, -mx32, -m64, --target=..., -target X, -mabi=...
	ABIFlags []string
	// Exe says the link makes a dynamically linked executable, so LinkArgs
	// adds RaceGuard (its archive and exports). It does not change the
	// archives, only the arguments.
	Exe bool
	// Shared: the link makes a shared library (-shared): LinkArgs links
	// SharedArchiveName, hidden, so the library's exports and imports stay
	// those of its plain build. Not part of the runtime's key.
	Shared bool
	// Static: the link is -static or -static-pie (LinkArgs then forces the
	// _Fork wrapper in: the static libc's own fork calls _Fork). Not part
	// of the runtime's key.
	Static bool
}

// ErrNotBuilt is returned while the runtime cannot be built for a target.
var ErrNotBuilt = errors.New("guard runtime not available")
