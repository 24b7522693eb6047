package ccwrap

import (
	"bytes"
	"strings"
)

// fgMarkers appear in a diagnostic whenever the FormatGuard headers take
// part in it: the headers' file names (an error inside them, or gcc's "in
// expansion of macro" and clang's "expanded from macro" notes, which name
// the macro's definition) and the macros' own names.
var fgMarkers = [][]byte{
	[]byte("immunix-fg-"),
	[]byte("immunix-formatguard.h"),
	[]byte("__IMMUNIX_FG"),
	[]byte("__immunix_fg"),
}

// crashMarkers: a compiler crash is retried too, whatever it names.
var crashMarkers = [][]byte{
	[]byte("internal compiler error"),
	[]byte("PLEASE submit a bug report"),
}

// formatGuardImplicated reports whether a failed compile's diagnostics may
// have been caused by the FormatGuard headers, so that compiling again
// without them could succeed. It errs towards yes: no diagnostics at all
// (they went to a file, or the compiler died quietly), a crash, a
// diagnostic naming the headers' directory or a marker, or user flags that
// hide where macro expansions come from (gcc's -ftrack-macro-expansion=0
// reports an error in an expanded macro at the call only, and so does a
// compile of preprocessed text: -save-temps, -no-integrated-cpp). The
// caller retries regardless when a launcher runs the compiler (distcc and
// icecc compile preprocessed text elsewhere).
func formatGuardImplicated(stderr []byte, fgArgs, userArgs []string) bool {
	if len(bytes.TrimSpace(stderr)) == 0 {
		return true
	}
	for _, a := range userArgs {
		switch {
		case a == "-ftrack-macro-expansion=0", a == "-fno-track-macro-expansion",
			// The compile proper then reads preprocessed text, where a
			// macro's expansion is attributed to its call.
			a == "-save-temps", a == "--save-temps", strings.HasPrefix(a, "-save-temps="), a == "-no-integrated-cpp":
			return true
		}
	}
	for _, m := range fgMarkers {
		if bytes.Contains(stderr, m) {
			return true
		}
	}
	for _, m := range crashMarkers {
		if bytes.Contains(stderr, m) {
			return true
		}
	}
	for i, a := range fgArgs {
		dir := ""
		if a == "-isystem" && i+1 < len(fgArgs) {
			dir = fgArgs[i+1]
		} else if d, ok := strings.CutPrefix(a, "-isystem"); ok && d != "" {
			dir = d
		}
		if dir != "" && bytes.Contains(stderr, []byte(dir)) {
			return true
		}
	}
	return false
}
