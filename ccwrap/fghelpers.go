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
// own printf helpers"): a C unit is preprocessed first; when it calls or
// defines a printf helper, the preprocessed text with the helper calls
// rewritten (formatguard/helpers) is what is compiled, and the stamp says
// fgh=N (N helper calls and v*printf calls rewritten). When that compile
// fails, the unit is compiled as usual, with fgh=failed in the stamp.

const fghPending = "fgh=pending"

// helperSource returns the unit's one C source when the helper pass
// applies to this invocation, or "". At the default level it applies only
// to a unit whose source text may define or declare a helper
// (helpers.MayDefineHelper). It does not apply to a compile that
// writes dependencies or keeps temporaries (they would name the rewritten
// text), reads a response file or standard input, or runs under a launcher.
func (j *job) helperSource(argv []string) string {
	if (j.inv.Mode != ModeCompile && j.inv.Mode != ModeLink) || len(j.comp.Launcher) > 0 || (j.caps.Kind != "gcc" && j.caps.Kind != "clang") {
		return ""
	}
	src := ""
	for _, in := range j.inv.Inputs {
		if in.Lang == "" {
			continue
		}
		if in.Lang != "c" || in.Name == "-" || src != "" {
			return ""
		}
		src = in.Name
	}
	if src == "" {
		return ""
	}
	for _, a := range append(append([]string{}, j.pol.Flags...), j.user...) {
		switch {
		case strings.HasPrefix(a, "-M"), strings.HasPrefix(a, "-Wp,"), strings.HasPrefix(a, "@"),
			strings.HasPrefix(a, "-save-temps"), strings.HasPrefix(a, "--save-temps"), a == "-no-integrated-cpp",
			a == "-E", a == "-fdirectives-only", a == "-traditional-cpp":
			return ""
		}
	}
	n := 0
	for _, a := range argv {
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
	ifile := filepath.Join(tmp, base+".i")

	assets := j.assets
	assets.Extra = withExtra(j.assets.Extra, "fgh", "pending")
	argv := Rewrite(&j.plan, j.comp.Argv(nil), j.pol.Flags, j.user, assets)
	pre := make([]string, 0, len(argv)+3)
	out := ""
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-o" && i+1 < len(argv):
			out = argv[i+1]
			i++
			continue
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			out = a[2:]
			continue
		case a == "-c":
			continue
		}
		pre = append(pre, a)
	}
	if out == "" {
		out = base + ".o"
	}
	pre = append(pre, "-E", "-o", ifile)
	c, _, _, err := j.child(pre, nil)
	if err != nil || c != 0 {
		// The unit does not preprocess: the usual compile reports why.
		return false, 0, nil, err
	}
	text, err := os.ReadFile(ifile)
	if err != nil {
		return false, 0, nil, fmt.Errorf("helper pass: %w", err)
	}
	rewritten, st, rerr := helpers.Rewrite(text)
	if rerr != nil || !st.Changed() {
		return false, 0, nil, nil
	}
	n := strconv.Itoa(st.Calls + st.VCalls)
	rewritten = bytes.ReplaceAll(rewritten, []byte(fghPending), []byte("fgh="+n))
	if err := os.WriteFile(ifile, rewritten, 0o600); err != nil {
		return false, 0, nil, fmt.Errorf("helper pass: %w", err)
	}
	final := make([]string, 0, len(argv)+6)
	for _, a := range argv {
		if a == src {
			final = append(final, "-x", "cpp-output", ifile, "-x", "none")
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
	j.e.Stderr.Write(stderr)
	j.assets.Extra = withExtra(j.assets.Extra, "fgh", n)
	if j.pol.Debug {
		fmt.Fprintf(j.e.Stderr, "immunix-cc: printf helpers %v, forwarders %v: %d calls and %d v*printf calls rewritten\n", st.Helpers, st.Forwarders, st.Calls, st.VCalls)
	}
	return true, 0, nil, nil
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
