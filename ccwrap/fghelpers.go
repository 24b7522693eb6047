package ccwrap

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/immunix/immunix/formatguard/helpers"
)

// FormatGuard helpers (issue 15 item 1, docs/formatguard.md "The program's
// own printf helpers"): a C or C++ unit is preprocessed first; when it calls or
// defines a printf helper, the preprocessed text with the helper calls
// rewritten (formatguard/helpers) is what is compiled, and the stamp says
// fgh=N (N helper calls and v*printf calls rewritten). When that compile
// fails, the unit is compiled as usual, with fgh=failed in the stamp.

const fghPending = "fgh=pending"

// helperSource returns the unit's one C source when the helper pass
// applies to this invocation, or "". At the default level it applies only
// to a unit whose source text may define or declare a helper
// (helpers.MayDefineHelper). It does not apply to a compile that keeps
// temporaries (they would name the rewritten text), reads standard input,
// writes dependencies in a form the pass does not carry over (depArgs),
// or writes dependencies in a form the pass does not carry over. Under a
// launcher (ccache, distcc) the preprocessing step runs the compiler
// directly and the launcher gets the compile of the rewritten text: ccache
// caches it by its content, distcc sends it as it is. Response files are
// read (expandedArgv).
func (j *job) helperSource(argv []string) string {
	if (j.inv.Mode != ModeCompile && j.inv.Mode != ModeLink) || (j.caps.Kind != "gcc" && j.caps.Kind != "clang") {
		return ""
	}
	src := ""
	for _, in := range j.inv.Inputs {
		if in.Lang == "" {
			continue
		}
		if (in.Lang != "c" && in.Lang != "c++") || in.Name == "-" || src != "" {
			return ""
		}
		src = in.Name
	}
	if src == "" {
		return ""
	}
	argv, ok := j.expandedArgv(argv)
	if !ok {
		return ""
	}
	for _, a := range argv {
		switch {
		case strings.HasPrefix(a, "-save-temps"), strings.HasPrefix(a, "--save-temps"), a == "-no-integrated-cpp",
			a == "-E", a == "-fdirectives-only", a == "-traditional-cpp":
			return ""
		}
	}
	rest, dep, ok := depArgs(argv)
	if !ok || (len(dep) > 0 && j.inv.Mode != ModeCompile) {
		return ""
	}
	n := 0
	for _, a := range rest {
		if a == src {
			n++
		}
	}
	if n != 1 {
		return ""
	}
	if j.pol.Level < LevelMax {
		// The default level preprocesses a second time only units whose
		// own text may define or declare a helper (cost, issue 20).
		text, err := os.ReadFile(src)
		if err != nil || !helpers.MayDefineHelper(text) {
			return ""
		}
	}
	return src
}

// helperPass runs the helper pass for src. handled: the unit was compiled
// (code is the compiler's); otherwise the caller compiles as usual, with
// extra added to the stamp (fgh=failed when the rewritten unit did not
// compile).
func (j *job) helperPass(src string, color []string) (handled bool, code int, extra map[string]string, err error) {
	tmp, err := os.MkdirTemp("", "immunix-cc-fgh-")
	if err != nil {
		return false, 0, nil, fmt.Errorf("helper pass: %w", err)
	}
	defer os.RemoveAll(tmp)
	base := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	cxx := false
	for _, in := range j.inv.Inputs {
		cxx = cxx || in.Lang == "c++"
	}
	suffix, lang, rewrite := ".i", "cpp-output", helpers.Rewrite
	if cxx {
		suffix, lang, rewrite = ".ii", "c++-cpp-output", helpers.RewriteCXX
	}
	ifile := filepath.Join(tmp, base+suffix)

	assets := j.assets
	assets.Extra = withExtra(j.assets.Extra, "fgh", "pending")
	argv, ok := j.expandedArgv(Rewrite(&j.plan, j.comp.Argv(nil), j.pol.Flags, j.user, assets))
	if !ok {
		return false, 0, nil, nil
	}
	// The dependencies come from the preprocessing step, which reads the
	// real source and headers: the final compile reads the rewritten text
	// and writes none (gcc and clang alike). The step writes them where,
	// and for the target, the usual compile would.
	argv, dep, ok := depArgs(argv)
	if !ok {
		return false, 0, nil, nil
	}
	// The preprocessing step gets no linker input: gcc warns of each file
	// "linker input file unused because linking not done".
	noLink := assets
	noLink.LinkNote, noLink.RuntimeArgs = "", nil
	direct := j.comp
	direct.Launcher, direct.LauncherFinds = nil, false
	preArgv, ok := j.expandedArgv(Rewrite(&j.plan, direct.Argv(nil), j.pol.Flags, j.user, noLink))
	if !ok {
		return false, 0, nil, nil
	}
	preArgv, _, _ = depArgs(preArgv)
	linkInput := map[string]bool{}
	for _, in := range j.inv.Inputs {
		if in.Lang == "" {
			linkInput[in.Name] = true
		}
	}
	pre := make([]string, 0, len(preArgv)+len(dep)+8)
	out := ""
	for i := 0; i < len(preArgv); i++ {
		a := preArgv[i]
		switch {
		case a == "-o" && i+1 < len(preArgv):
			out = preArgv[i+1]
			i++
			continue
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			out = a[2:]
			continue
		case a == "-c", linkInput[a]:
			continue
		}
		pre = append(pre, a)
	}
	if out == "" {
		out = base + ".o"
	}
	if len(dep) > 0 {
		pre = append(pre, depDefaults(j.caps.Kind, dep, j.inv.Output, src, out)...)
	}
	pre = append(pre, "-E", "-o", ifile)
	if j.caps.Kind == "clang" {
		pre = append(pre, "-Qunused-arguments") // -l, -Wl, -pie
	}
	pre = append(pre, color...)
	// The preprocessor's own diagnostics (#warning, -Wdate-time) are
	// written only here: the rewritten text has no directives left. It runs
	// the compiler itself: a launcher would not cache a preprocessing or
	// would send it nowhere.
	c, _, preErr, err := j.e.Spawn(Child{Path: direct.Exec(), Argv: pre, Env: j.environ()})
	if err != nil || c != 0 {
		// The unit does not preprocess: the usual compile reports why.
		return false, 0, nil, err
	}
	text, err := os.ReadFile(ifile)
	if err != nil {
		return false, 0, nil, fmt.Errorf("helper pass: %w", err)
	}
	rewritten, st, rerr := rewrite(text)
	if rerr != nil || !st.Changed() {
		return false, 0, nil, nil
	}
	n := strconv.Itoa(st.Calls + st.VCalls)
	rewritten = bytes.ReplaceAll(rewritten, []byte(fghPending), []byte("fgh="+n))
	if err := os.WriteFile(ifile, rewritten, 0o600); err != nil {
		return false, 0, nil, fmt.Errorf("helper pass: %w", err)
	}
	// The .i (.ii) suffix says preprocessed C (C++) to gcc and clang. Where
	// the command names a language (-x c), the file needs its own; distcc
	// compiles a command with -x locally, so it is given only where needed.
	input := []string{ifile}
	for _, a := range argv {
		if strings.HasPrefix(a, "-x") {
			input = []string{"-x", lang, ifile, "-x", "none"}
			break
		}
	}
	final := make([]string, 0, len(argv)+6)
	for _, a := range argv {
		if a == src {
			final = append(final, input...)
			continue
		}
		final = append(final, a)
	}
	if j.inv.Output == "" && j.inv.Mode == ModeCompile {
		// The object is named after the source, not after the text read.
		final = append(final, "-o", out)
	}
	if j.caps.Kind == "clang" {
		// The preprocessor's options are unused on preprocessed text.
		final = append(final, "-Qunused-arguments")
	}
	final = append(final, color...)
	code, stdout, stderr, err := j.child(final, nil)
	if err != nil {
		return false, 0, nil, err
	}
	if code != 0 {
		if j.pol.Debug {
			fmt.Fprintf(j.e.Stderr, "immunix-cc: the unit with its printf helper calls rewritten did not compile; compiled as usual (fgh=failed): %s\n%s", shellJoin(final), stderr)
		}
		return false, 0, map[string]string{"fgh": "failed"}, nil
	}
	j.e.Stdout.Write(stdout)
	j.e.Stderr.Write(preErr)
	j.e.Stderr.Write(stderr)
	j.assets.Extra = withExtra(j.assets.Extra, "fgh", n)
	if j.pol.Debug {
		fmt.Fprintf(j.e.Stderr, "immunix-cc: printf helpers %v, forwarders %v: %d calls and %d v*printf calls rewritten\n", st.Helpers, st.Forwarders, st.Calls, st.VCalls)
	}
	return true, 0, nil, nil
}

// maxExpandedArgs bounds the command line the helper pass builds from
// response files: well inside the kernel's 128 KiB for one argument and
// its ARG_MAX, so an expansion never makes the compile fail with E2BIG;
// a larger one is compiled as usual.
const maxExpandedArgs = 96 << 10

// expandedArgv returns argv with its @files replaced by what they hold;
// false when one cannot be read or the expansion is too long.
func (j *job) expandedArgv(argv []string) ([]string, bool) {
	x, err := ExpandResponseFiles(argv, j.e.ReadFile)
	if err != nil {
		return nil, false
	}
	n := 0
	for _, a := range x {
		n += len(a) + 1
	}
	return x, n <= maxExpandedArgs
}

// depArgs splits argv into the compile's own arguments and its
// dependency-output options: -MD, -MMD, -MP, -MG, -MF/-MT/-MQ with their
// values, and -Wp,-MD,FILE or -Wp,-MMD,FILE. ok is false for the forms the
// helper pass does not carry over: -M and -MM (dependencies only), clang's
// -MJ, the long --write-dependencies spellings and other -Wp,-M options.
func depArgs(argv []string) (rest, dep []string, ok bool) {
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-MD" || a == "-MMD" || a == "-MP" || a == "-MG":
			dep = append(dep, a)
		case a == "-MF" || a == "-MT" || a == "-MQ":
			if i+1 >= len(argv) {
				return nil, nil, false
			}
			dep = append(dep, a, argv[i+1])
			i++
		case strings.HasPrefix(a, "-MF") || strings.HasPrefix(a, "-MT") || strings.HasPrefix(a, "-MQ"):
			dep = append(dep, a)
		case strings.HasPrefix(a, "-Wp,-MD,") || strings.HasPrefix(a, "-Wp,-MMD,"):
			if strings.Count(a, ",") != 2 {
				return nil, nil, false
			}
			dep = append(dep, a)
		case strings.HasPrefix(a, "-M"), strings.HasPrefix(a, "-Wp,-M"), strings.HasPrefix(a, "--write-"),
			strings.HasPrefix(a, "--dependencies"), strings.HasPrefix(a, "--user-dependencies"), strings.HasPrefix(a, "--print-missing-file-dependencies"):
			return nil, nil, false
		default:
			rest = append(rest, a)
		}
	}
	return rest, dep, true
}

// depDefaults returns the options that make a preprocessing step (-E -o
// FILE) write the dependencies the compile of src into out would write:
// the compile's own dep, with -MF as the driver derives it (the output's
// name with its suffix replaced by .d, or the source's base name in the
// working directory when there is no -o) and -MQ out as the driver adds
// it, unless the user named them. -Wp,-MD,FILE names its file; gcc keeps
// the preprocessor's default target (the same in both steps), clang's
// driver names the -o output as it does for -MD.
func depDefaults(kind string, dep []string, output, src, out string) []string {
	driverMD, wpMD, hasF, hasT := false, false, false, false
	for _, a := range dep {
		switch {
		case a == "-MD" || a == "-MMD":
			driverMD = true
		case strings.HasPrefix(a, "-Wp,"):
			wpMD = true
		case strings.HasPrefix(a, "-MF"):
			hasF = true
		case strings.HasPrefix(a, "-MT") || strings.HasPrefix(a, "-MQ"):
			hasT = true
		}
	}
	res := append([]string{}, dep...)
	if wpMD && !driverMD && kind == "clang" && !hasT {
		return append(res, "-MQ", out)
	}
	if !driverMD {
		return res
	}
	if !hasF {
		name := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)) + ".d"
		if output != "" {
			name = strings.TrimSuffix(output, filepath.Ext(output)) + ".d"
		}
		res = append(res, "-MF", name)
	}
	if !hasT {
		res = append(res, "-MQ", out)
	}
	return res
}

// withExtra returns a copy of m with k=v.
func withExtra(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		if a != k {
			out[a] = b
		}
	}
	return out
}
