package distro

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// CanaryView is what each checker says about one ELF file's stack canary.
type CanaryView struct {
	Path string
	// Immunix is immunix check's canary status: pass, fail, n/a, unknown.
	Immunix string
	// Hardening is hardening-check's "Stack protected" verdict: yes or no
	// (devscripts: yes when the file imports __stack_chk_fail, i.e. a
	// "readelf -sW" line with UND).
	Hardening string
	// Checksec is checksec's verdict: yes when "readelf -s" names
	// __stack_chk_fail (imported or defined) anywhere, else no.
	Checksec string
	// Exec: an executable (ET_EXEC, or ET_DYN with a PT_INTERP).
	Exec bool
	// DefinesChkFail: the file's .dynsym defines __stack_chk_fail (no
	// file immunix builds does: Disagreement).
	DefinesChkFail bool
}

var hardeningStack = regexp.MustCompile(`(?m)^ Stack protected: (yes|no)`)

// CanaryViews runs immunix check (JSON), hardening-check and checksec on
// every file and returns their canary verdicts side by side.
func CanaryViews(im Image, files []string) ([]CanaryView, error) {
	args := append([]string{"check", "--policy", "immunix", "--format", "json", "--progress", "never", "--color", "never"}, files...)
	cmd := exec.Command(im.Immunix(), args...)
	cmd.Env = im.ToolEnv(CleanEnv())
	out, err := cmd.Output()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		return nil, fmt.Errorf("immunix check: %w", err)
	}
	var rep struct {
		Files []struct {
			Path    string
			Error   string
			Results []struct{ Property, Status string }
		}
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("immunix check --format json: %w", err)
	}
	status := map[string]string{}
	for _, f := range rep.Files {
		if f.Error != "" {
			return nil, fmt.Errorf("immunix check: %s: %s", f.Path, f.Error)
		}
		for _, r := range f.Results {
			if r.Property == "canary" {
				status[f.Path] = r.Status
			}
		}
	}
	var views []CanaryView
	for _, p := range files {
		v := CanaryView{Path: p, Immunix: status[p]}
		if v.Immunix == "" {
			return nil, fmt.Errorf("immunix check reported no canary result for %s", p)
		}
		hc, _ := exec.Command("hardening-check", p).Output() // exit 1 when it finds a problem
		m := hardeningStack.FindSubmatch(hc)
		if m == nil {
			return nil, fmt.Errorf("hardening-check %s: no \"Stack protected\" line in:\n%s", p, hc)
		}
		v.Hardening = string(m[1])
		cs, err := exec.Command("checksec", "--output=csv", "--file="+p).Output()
		if err != nil {
			return nil, fmt.Errorf("checksec --file=%s: %w", p, err)
		}
		switch fields := strings.Split(string(cs), ","); {
		case len(fields) > 1 && fields[1] == "Canary found":
			v.Checksec = "yes"
		case len(fields) > 1 && fields[1] == "No Canary found":
			v.Checksec = "no"
		default:
			return nil, fmt.Errorf("checksec --file=%s: unexpected output %q", p, cs)
		}
		f, err := elf.Open(p)
		if err != nil {
			return nil, err
		}
		for _, ph := range f.Progs {
			if ph.Type == elf.PT_INTERP {
				v.Exec = true
			}
		}
		v.Exec = v.Exec || f.Type == elf.ET_EXEC
		syms, _ := f.DynamicSymbols()
		for _, s := range syms {
			if s.Name == "__stack_chk_fail" && s.Section != elf.SHN_UNDEF {
				v.DefinesChkFail = true
			}
		}
		f.Close()
		views = append(views, v)
	}
	return views, nil
}

// Disagreement says how the checkers' verdicts on v contradict each other,
// or "" when they agree. immunix check decides from the code; the other two
// from symbols, so they can only be held to this:
//   - pass (every function that needs a canary has one): both say yes;
//   - n/a (no function needs one): the file calls no __stack_chk_fail, and
//     both say no;
//   - fail: a protected function exists only if the tools say yes, so
//     nothing is asserted; unknown: nothing to compare with;
//   - and never a __stack_chk_fail defined in .dynsym: a file immunix
//     built imports glibc's, as its plain build does, and wraps its own
//     calls into the runtime's hidden copy (docs/stackguard.md, "What the
//     checkers see").
func Disagreement(v CanaryView) string {
	if v.DefinesChkFail {
		return "exports its own __stack_chk_fail: it should import glibc's, as its plain build does"
	}
	switch v.Immunix {
	case "pass":
		if v.Checksec != "yes" {
			return "immunix check: pass, checksec: no canary"
		}
		if v.Hardening != "yes" {
			return "immunix check: pass, hardening-check: not stack protected"
		}
	case "n/a":
		if v.Checksec != "no" || v.Hardening != "no" {
			return fmt.Sprintf("immunix check: n/a (no function needs a canary), checksec: %s, hardening-check: %s", v.Checksec, v.Hardening)
		}
	}
	return ""
}

// SymbolsFiles counts the .debs that carry a "symbols" control file (which
// dpkg-gensymbols writes for a library package).
func SymbolsFiles(debs []string) int {
	n := 0
	for _, d := range debs {
		if out, err := exec.Command("dpkg-deb", "--info", d, "symbols").Output(); err == nil && len(out) > 0 {
			n++
		}
	}
	return n
}
