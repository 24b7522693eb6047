package ccwrap

import (
	"strings"

	"github.com/immunix/immunix/internal/contract"
)

// helpText is --immunix-help's text; the protection names come from
// contract.Table.
var helpText = strings.Replace(helpTemplate, "PROTECTIONS\n", wrapList(append(contract.Names(), "all"), 27, 46), 1)

// wrapList writes names comma-separated, in lines of at most width
// characters each indented by indent spaces.
func wrapList(names []string, indent, width int) string {
	var b, line strings.Builder
	for i, n := range names {
		item := n
		if i < len(names)-1 {
			item += ","
		}
		if line.Len() > 0 && line.Len()+len(item) > width {
			b.WriteString(strings.Repeat(" ", indent) + line.String() + "\n")
			line.Reset()
		}
		line.WriteString(item)
	}
	b.WriteString(strings.Repeat(" ", indent) + line.String() + "\n")
	return b.String()
}

const helpTemplate = `Usage: immunix-cc [COMPILER ARGUMENTS...]
       immunix-c++ [COMPILER ARGUMENTS...]
       immunix-cc --immunix-explain [COMPILER ARGUMENTS...]

immunix-cc runs the real C compiler with hardening flags added, a build stamp
(ELF note .note.immunix) and the guard runtime linked in. Every argument
belongs to the compiler: --help and --version are the compiler's.

Own options (only as the first argument):
  --immunix-help       print this help
  --immunix-version    print immunix-cc's version
  --immunix-explain    print the compiler found, the classification, the
                       protections and the final command; run nothing

Environment (also KEY=VALUE lines in /etc/immunix/immunix.conf, or the file
named by IMMUNIX_CONFIG; the environment wins):
  IMMUNIX_CC, IMMUNIX_CXX  real compiler command, may have a launcher:
                           "ccache gcc", "distcc gcc", "clang-14"
  IMMUNIX_DISABLE          protections to leave out, comma-separated:
PROTECTIONS
  IMMUNIX_LEVEL            default or max: max adds the opt-in protections
                           (docs/boundsguard.md)
  IMMUNIX_FLAGS            extra compiler flags (shell-quoted)
  IMMUNIX_DEBUG=1          print the final command on stderr
  IMMUNIX_LOG=FILE         append one line per invocation to FILE
  IMMUNIX_STRICT=1         refuse (exit 106) instead of failing open
  IMMUNIX_CACHE_DIR        cache directory (default ~/.cache/immunix; never one
                           another user owns or can write)
  IMMUNIX_RACEGUARD        refuse, kill or off: read by the programs at run
                           time (RaceGuard, docs/raceguard.md); checked here
  IMMUNIX_SIGN_KEY=KEYFILE sign what is linked with this CryptoMark key
                           (environment only; see docs/cryptomark.md)

Called by another name (a symlink gcc, cc, clang++...), immunix-cc runs the
next program of that name in PATH that is not itself.

Exit codes of immunix-cc's own errors: 100 usage, 101 compiler not found,
102 recursion, 103 unreadable @file, 104 guard runtime, 105 exec failed,
106 refused by IMMUNIX_STRICT, 107 IMMUNIX_SIGN_KEY could not sign, 108 immunix-cc's
own work failed (a temporary file, a write). Otherwise the exit code is the compiler's.
See docs/immunix-cc.md.
`
