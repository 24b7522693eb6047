package ccwrap

// This file decides what the user's own flags say about each protection: the
// explicit opposites immunix-cc must respect and record (-fno-stack-protector,
// -U_FORTIFY_SOURCE, -no-pie, -Wl,-z,norelro...) and the flags that already
// give a protection, which immunix-cc must not repeat.
//
// The traps, each handled here and tested in security_test.go:
//
//   - Comma tunnelling: "-Wl,-z,norelro" and "-Wp,-U_FORTIFY_SOURCE" hide a
//     linker or preprocessor option inside one argument, as does the two-word
//     "-Xlinker -z -Xlinker norelro" and the driver's own "-z norelro".
//   - Joined and separate forms: "-D_FORTIFY_SOURCE=1" and
//     "-D _FORTIFY_SOURCE=1"; "-zrelro" and "-z relro".
//   - @file: options inside response files count as much as those on the
//     command line (Parse expands them before it gets here). "-Wl,@file" is
//     read by the linker, not by us; what it says is not seen.
//   - Last one wins: "-fno-stack-protector -fstack-protector-strong" leaves
//     the canary on, as gcc does, so each protection keeps only the last
//     setting.
//   - Weaker is not stronger: -fstack-protector, -fstack-protector-explicit,
//     -fcf-protection=branch and -D_FORTIFY_SOURCE=1 are the user's choice
//     and are respected, but they are recorded as user-off, since the
//     protection the contract names is not in force.
//   - Clashes: gcc rejects -fcf-protection next to -mindirect-branch=thunk
//     (or -mfunction-return=thunk), and drops -fstack-check with a warning
//     next to -fstack-clash-protection. Those user flags exclude the
//     protection (Invocation.Clash) unless the user named it too.
//   - -Xclang passes options to clang's cc1 in its internal spelling; those
//     are not interpreted (documented limit).
//
// That's why the code is isolated in a file named security.go.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Choice is the user's last word on one protection.
type Choice struct {
	Set  bool   // the user said something
	On   bool   // ...and it turns the protection on (false: off or weakened)
	Flag string // the flag that said it, as written (after -Wl, splitting)
	// Level is the FORTIFY level a -D_FORTIFY_SOURCE=N chose.
	Level int
}

// compilerFlagChoice interprets one driver argument that needs no operand.
// It reports the protection it speaks about and whether it turns it on.
func compilerFlagChoice(arg string) (p Protection, on, ok bool) {
	switch arg {
	case "-fstack-protector-strong", "-fstack-protector-all":
		return Canary, true, true
	case "-fno-stack-protector", "-fstack-protector", "-fstack-protector-explicit":
		return Canary, false, true
	case "-fstack-clash-protection":
		return StackClash, true, true
	case "-fno-stack-clash-protection":
		return StackClash, false, true
	case "-fcf-protection", "-fcf-protection=full":
		return CET, true, true
	case "-fcf-protection=none", "-fcf-protection=branch", "-fcf-protection=return", "-fcf-protection=check", "-fno-cf-protection":
		return CET, false, true
	case "-fPIE", "-fpie", "-fPIC", "-fpic":
		return PIE, true, true
	case "-fno-PIE", "-fno-pie", "-fno-PIC", "-fno-pic":
		return PIE, false, true
	case "-pie", "-static-pie":
		return PIE, true, true
	case "-no-pie", "-nopie":
		return PIE, false, true
	}
	// dpkg's no-pie-compile.specs / no-pie-link.specs say -fno-PIE / -no-pie
	// through a specs file.
	for _, prefix := range []string{"-specs=", "--specs="} {
		if spec, ok := strings.CutPrefix(arg, prefix); ok && strings.Contains(filepath.Base(spec), "no-pie") {
			return PIE, false, true
		}
	}
	switch arg {
	case "-Wformat-security", "-Werror=format-security", "-Wformat=2":
		return FormatSec, true, true
	case "-Wno-format-security", "-Wno-format", "-Wformat=0":
		return FormatSec, false, true
	}
	return "", false, false
}

// formatBaseChoice interprets the flags that switch -Wformat itself, which
// -Wformat-security needs to have any effect.
func formatBaseChoice(arg string) (on, ok bool) {
	switch arg {
	case "-Wformat", "-Wformat=1", "-Wformat=2", "-Werror=format", "-Wall":
		return true, true
	case "-Wno-format", "-Wformat=0":
		return false, true
	}
	return false, false
}

// macroChoice interprets a -D (undef false) or -U (undef true) operand.
func macroChoice(def string, undef bool) (p Protection, c Choice, ok bool) {
	name, val, hasVal := strings.Cut(def, "=")
	if name == "_GLIBCXX_ASSERTIONS" {
		return cxxAssertChoice(def, undef)
	}
	if name != "_FORTIFY_SOURCE" {
		return "", Choice{}, false
	}
	flag := "-D" + def
	if undef {
		return Fortify, Choice{Set: true, Flag: "-U" + name}, true
	}
	level := 1 // "-D_FORTIFY_SOURCE" defines it as 1
	if hasVal {
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || n < 0 {
			// Not a level gcc or glibc understands: the user's, respected.
			return Fortify, Choice{Set: true, Flag: flag}, true
		}
		level = n
	}
	if level > 3 {
		level = 3 // glibc treats levels above 3 as 3
	}
	return Fortify, Choice{Set: true, On: level >= 2, Flag: flag, Level: level}, true
}

// clashChoice names the protection a user flag excludes ("" for none).
func clashChoice(arg string) Protection {
	switch {
	case (strings.HasPrefix(arg, "-mindirect-branch=") || strings.HasPrefix(arg, "-mfunction-return=")) && !strings.HasSuffix(arg, "=keep"):
		return CET
	case arg == "-fstack-check" || (strings.HasPrefix(arg, "-fstack-check=") && arg != "-fstack-check=no"):
		return StackClash
	}
	return ""
}

func setClash(inv *Invocation, p Protection, flag string) {
	if inv.Clash == nil {
		inv.Clash = map[Protection]string{}
	}
	inv.Clash[p] = flag
}

// clashes is the applies function (rules.go) of a protection that a user
// flag excludes (Invocation.Clash, clashChoice): it does not apply, unless
// the user also named the protection itself.
func clashes(p Protection, flag string) func(*decideCtx, *Record) (bool, string) {
	return func(c *decideCtx, _ *Record) (bool, string) {
		if cl := c.inv.Clash[p]; cl != "" && !c.inv.User[p].Set {
			return false, fmt.Sprintf("the user's %s excludes %s", cl, flag)
		}
		return true, ""
	}
}

// linkerChoices interprets the arguments the driver hands to the linker
// (from -Wl, -Xlinker and -z, in order) and calls set for each "-z KEYWORD".
func linkerChoices(linker []string, set func(p Protection, on bool, flag string)) {
	for i := 0; i < len(linker); i++ {
		a := linker[i]
		var kw string
		switch {
		case a == "-z" && i+1 < len(linker):
			i++
			kw = linker[i]
		case strings.HasPrefix(a, "-z") && len(a) > 2:
			kw = a[2:]
		default:
			continue
		}
		flag := "-Wl,-z," + kw
		switch kw {
		case "relro":
			set(RELRO, true, flag)
		case "norelro":
			set(RELRO, false, flag)
		case "now":
			set(Now, true, flag)
		case "lazy":
			set(Now, false, flag)
		case "noexecstack":
			set(NoExecStack, true, flag)
		case "execstack":
			set(NoExecStack, false, flag)
		}
	}
}
