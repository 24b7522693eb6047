package ccwrap

// This file decides BoundsGuard (array-bounds instrumentation that calls the
// guard runtime) and the measured candidate protections, and the protection
// levels that gate them. docs/boundsguard.md describes them and
// BENCHMARKS.md has the numbers behind each level.
//
// The traps, each handled here and tested in bounds_test.go:
//
//   - libubsan: gcc links libubsan whenever -fsanitize=bounds is on the
//     link command line (also with -shared and -static), clang links its
//     ubsan runtime. The handlers come from the guard runtime instead: clang
//     gets -fno-sanitize-link-runtime; gcc has no such option, so a link
//     that carries our -fsanitize=bounds also gets -L to a directory whose
//     only file is an empty libubsan.a (Plan.NoUBSan), which the driver's
//     -lubsan then finds first and takes nothing from.
//   - The user's own sanitizers: -fsanitize=undefined (or bounds,
//     array-bounds) gives bounds checks with the user's runtime: recorded as
//     the user's, nothing added. Any other -fsanitize= (address, thread...)
//     brings its own runtime: BoundsGuard is not added next to it. The
//     guard runtime defines only the non-recovering handler names, which a
//     user's -fno-sanitize-recover code calls too; gcc appends -lubsan after
//     the objects, where the guard archive (among the objects) would come
//     first, so a dynamic gcc link with the user's undefined-behaviour
//     sanitizer gets -lubsan ahead of everything (UserUBSanLinkFlags): the
//     user's libubsan defines the handlers before the archive is searched.
//   - -fno-sanitize=bounds / array-bounds / undefined / all,
//     -ftrivial-auto-var-init=uninitialized, -U_GLIBCXX_ASSERTIONS and
//     -fzero-call-used-regs=skip are the user's opposites: respected and
//     recorded as user-off. Last one wins, as for every other flag.
//   - clang 14 accepts -ftrivial-auto-var-init=zero only with its
//     -enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang
//     (dropped in clang 16, where =zero is plain); clang before 15 has no
//     -fzero-call-used-regs; object-size checks do nothing at -O0.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/immunix/immunix/internal/cachedir"
	"github.com/immunix/immunix/internal/contract"
)

// Level is a protection level: which protections immunix-cc adds
// (contract.Level).
type Level = contract.Level

// The levels. Each protection belongs to the lowest level that adds it.
const (
	LevelDefault = contract.LevelDefault
	LevelMax     = contract.LevelMax
)

// ParseLevel parses IMMUNIX_LEVEL ("" is the default level).
func ParseLevel(s string) (Level, error) { return contract.ParseLevel(s) }

// ProtectionLevel is the level from which each protection is added
// (contract.Table's Level column); the ones not named are in the default
// level.
var ProtectionLevel = func() map[Protection]Level {
	m := map[Protection]Level{}
	for _, r := range contract.Table {
		if r.Level != LevelDefault {
			m[r.Protection] = r.Level
		}
	}
	return m
}()

// boundsSanitizers are the -fsanitize= names that include the array-bounds
// checks.
func coversBounds(name string) bool {
	return name == "bounds" || name == "array-bounds" || name == "undefined"
}

// extraFlagChoice records what one argument says about the protections of
// this file: the user's sanitizers, -ftrivial-auto-var-init= and
// -fzero-call-used-regs=.
func extraFlagChoice(inv *Invocation, arg string) {
	switch {
	case strings.HasPrefix(arg, "-fsanitize="):
		for _, s := range strings.Split(arg[len("-fsanitize="):], ",") {
			if s == "" {
				continue
			}
			if coversBounds(s) {
				inv.User[Bounds] = Choice{Set: true, On: true, Flag: arg}
			}
			if s == "object-size" || s == "undefined" {
				inv.User[ObjSize] = Choice{Set: true, On: true, Flag: arg}
			}
			if !containsString(inv.Sanitizers, s) {
				inv.Sanitizers = append(inv.Sanitizers, s)
			}
		}
	case strings.HasPrefix(arg, "-fno-sanitize="):
		for _, s := range strings.Split(arg[len("-fno-sanitize="):], ",") {
			if coversBounds(s) || s == "all" {
				inv.User[Bounds] = Choice{Set: true, Flag: arg}
			}
			if s == "object-size" || s == "undefined" || s == "all" {
				inv.User[ObjSize] = Choice{Set: true, Flag: arg}
			}
			out := inv.Sanitizers[:0]
			for _, q := range inv.Sanitizers {
				if q != s && s != "all" {
					out = append(out, q)
				}
			}
			inv.Sanitizers = out
		}
	case strings.HasPrefix(arg, "-ftrivial-auto-var-init="):
		v := arg[len("-ftrivial-auto-var-init="):]
		inv.User[AutoInit] = Choice{Set: true, On: v == "zero" || v == "pattern", Flag: arg}
	case strings.HasPrefix(arg, "-fzero-call-used-regs="):
		v := arg[len("-fzero-call-used-regs="):]
		inv.User[ZeroRegs] = Choice{Set: true, On: v != "skip", Flag: arg}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cxxAssertChoice interprets -D/-U _GLIBCXX_ASSERTIONS: libstdc++ tests it
// with #ifdef, so any -D turns the assertions on.
func cxxAssertChoice(def string, undef bool) (Protection, Choice, bool) {
	if undef {
		return CXXAssert, Choice{Set: true, Flag: "-U_GLIBCXX_ASSERTIONS"}, true
	}
	return CXXAssert, Choice{Set: true, On: true, Flag: "-D" + def}, true
}

// clangMajor returns the major version of a clang Caps (0 if unknown).
func clangMajor(caps Caps) int {
	if caps.Kind != "clang" {
		return 0
	}
	n, _ := strconv.Atoi(strings.SplitN(caps.Version, ".", 2)[0])
	return n
}

// The level protections are rows of Decide's table (rules.go): the user's
// word first, then the policy (IMMUNIX_DISABLE and the level), then what
// the compiler can do. Protections above the policy's level are neither
// added nor recorded as off: "off" means turned off by IMMUNIX_DISABLE.

// boundsWhy says why the guard runtime's handlers are not available to
// this compile ("" when they are): the bounds and object-size checks need
// them.
func boundsWhy(c *decideCtx) string {
	// A link in this same command that has no guard runtime (-nostdlib,
	// -nostartfiles, a linker script) could not resolve the handlers.
	if c.libcLess || c.bareLink {
		return "freestanding, libc-less or bare link: no guard runtime for the bounds handlers"
	}
	for _, s := range c.inv.Sanitizers {
		if !coversBounds(s) {
			return "the user's -fsanitize=" + s + " brings its own runtime: it stays in charge"
		}
	}
	return ""
}

// boundsFlags are BoundsGuard's flags for each compiler.
func boundsFlags(caps Caps) []string {
	switch caps.Kind {
	case "gcc":
		return []string{"-fsanitize=bounds", "-fno-sanitize-recover=bounds"}
	case "clang":
		return []string{"-fsanitize=array-bounds", "-fno-sanitize-recover=array-bounds", "-fno-sanitize-link-runtime"}
	}
	return nil
}

// autoInitFlags zero-initialise automatic variables.
func autoInitFlags(caps Caps) []string {
	f := []string{"-ftrivial-auto-var-init=zero"}
	if m := clangMajor(caps); m > 0 && m < 16 {
		f = append(f, "-enable-trivial-auto-var-init-zero-knowing-it-will-be-removed-from-clang")
	}
	return f
}

func versionAtLeast(v string, major int) bool {
	n, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return err == nil && n >= major
}

// ubsanGroup reports whether a -fsanitize= name is one of the
// undefined-behaviour checks, whose handlers live in libubsan.
func ubsanGroup(name string) bool {
	switch {
	case name == "address", name == "hwaddress", name == "thread", name == "memory", name == "leak",
		name == "pointer-compare", name == "pointer-subtract", name == "shadow-call-stack", name == "safe-stack",
		name == "dataflow", name == "cfi", strings.HasPrefix(name, "cfi-"), strings.HasPrefix(name, "kernel-"),
		name == "scudo", name == "fuzzer", name == "fuzzer-no-link", name == "memtag":
		return false
	}
	return true
}

// UserUBSanLinkFlags returns the flags a link needs so that the user's own
// undefined-behaviour sanitizer keeps its libubsan in charge of the bounds
// handlers: gcc, dynamic links only (a static libubsan.a cannot be
// searched ahead of the objects that need it).
func UserUBSanLinkFlags(inv Invocation, caps Caps) []string {
	if caps.Kind != "gcc" || inv.Link == LinkStatic || inv.Link == LinkStaticPIE || inv.Link == LinkReloc {
		return nil
	}
	for _, s := range inv.Sanitizers {
		if ubsanGroup(s) {
			return []string{"-lubsan"}
		}
	}
	return nil
}

// noUBSanFormat names the layout of the empty-libubsan directory in the
// cache.
const noUBSanFormat = "noubsan-1"

// NoUBSanDir returns a directory holding only an empty libubsan.a, which a
// gcc link that carries -fsanitize=bounds finds for its -lubsan (the
// handlers come from the guard runtime).
func NoUBSanDir() (string, error) {
	dir, err := cachedir.Materialize(noUBSanFormat, func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, "libubsan.a"), []byte("!<arch>\n"), 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("empty libubsan for the bounds checks: %w", err)
	}
	return dir, nil
}
