package checktest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/bench/check/compare"
	"github.com/immunix/immunix/internal/testenv"
)

// sample picks every n-th ELF file under /usr/bin and
// /usr/lib/x86_64-linux-gnu below maxSize bytes, so the agreement test runs
// in seconds; bench/check runs the whole set (docs/check.md has its result).
func sample(t *testing.T, want int, maxSize int64) []string {
	t.Helper()
	all, err := compare.ELFFiles([]string{"/usr/bin", "/usr/lib/x86_64-linux-gnu"})
	if err != nil || len(all) == 0 {
		t.Skipf("no system ELF files: %v", err)
	}
	var small []string
	for _, f := range all {
		if st, err := os.Stat(f); err == nil && st.Size() <= maxSize {
			small = append(small, f)
		}
	}
	step := max(1, len(small)/want)
	var out []string
	for i := 0; i < len(small); i += step {
		out = append(out, small[i])
	}
	return out
}

// explain returns why our verdict rightly differs from the other tool's,
// with the evidence from our report, or "" when nothing explains it.
func explain(d compare.Disagreement, r result) string {
	switch {
	case d.Property == "canary" && d.Ours == "no" && d.Theirs == "yes" && len(r.lists["missing"]) > 0:
		// They see __stack_chk_fail referenced somewhere; the code shows
		// functions that take a frame address and read no canary.
		return "missing canary in " + strings.Join(r.lists["missing"][:min(3, len(r.lists["missing"]))], " ")
	case d.Property == "canary" && d.Ours == "n/a" && (strings.HasPrefix(r.value, "no function needs one") || strings.HasPrefix(r.value, "no functions of its own")):
		// They see no __stack_chk_fail (or one stray reference, gcrt1.o);
		// the code has nothing a canary would protect.
		return "nothing to protect: " + r.value
	case d.Ours == "n/a" && r.kind == "relocatable" && (d.Property == "pie" || d.Property == "relro" || d.Property == "now" || d.Property == "noexecstack"):
		return "a relocatable object: linking decides " + d.Property
	case d.Property == "fortify" && d.Ours == "yes" && contains(r.lists["fortified"], "__explicit_bzero_chk"):
		// hardening-check's built-in list of fortifiable functions predates
		// glibc 2.25's __explicit_bzero_chk.
		return "fortified calls " + strings.Join(r.lists["fortified"], " ")
	case d.Property == "fortify" && d.Ours == "n/a" && d.Theirs == "yes" && len(r.lists["fortified"]) == 0 && len(r.lists["unfortified"]) == 0:
		return "defines the __*_chk functions (libc itself) but calls none"
	case d.Property == "pie" && d.Ours == "yes" && d.Theirs == "n/a" && r.kind == "pie-executable":
		return "PT_INTERP and no DT_SONAME: an executable (checksec calls it a DSO)"
	case d.Property == "canary" && d.Ours == "yes" && d.Theirs == "no" && !strings.HasPrefix(r.value, "0/"):
		// The file defines __stack_chk_fail itself (libc) or was linked
		// statically: no import, yet the code reads the canary.
		return "functions read %fs:0x28: " + r.value
	case d.Property == "canary" && d.Ours == "unknown":
		return "cannot tell: " + r.value
	case d.Property == "fortify" && d.Ours == "n/a" && d.Theirs == "no" && len(r.lists["unfortified"]) == 0:
		return "no fortifiable libc call: checksec says No for nothing to fortify"
	case d.Property == "pie" && d.Ours == "n/a" && r.kind == "shared-library":
		return "a shared library (DT_SONAME): PIE does not apply"
	}
	return ""
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

type result struct {
	kind, value string
	lists       map[string][]string
}

// ourResults indexes our JSON report by file and property.
func ourResults(t *testing.T, files []string) map[string]map[string]result {
	t.Helper()
	out, _, _ := run(t, strings.Join(files, "\n"), "check", "-f", "json", "-")
	rep := decodeFull(t, out)
	m := map[string]map[string]result{}
	for _, f := range rep.Files {
		m[f.Path] = map[string]result{}
		for _, r := range f.Results {
			m[f.Path][r.Property] = result{kind: f.Kind, value: r.Value, lists: r.Lists}
		}
	}
	return m
}

func TestAgreementWithHardeningCheck(t *testing.T) {
	testenv.NeedsTool(t, "hardening-check")
	files := sample(t, 30, 8<<20)
	bin := filepath.Join(testenv.Binaries(t), "immunix")
	ours, err := compare.Immunix(bin, files)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := compare.HardeningCheck(files)
	if err != nil {
		t.Fatal(err)
	}
	agree(t, "hardening-check", files, ours, theirs)
}

func TestAgreementWithChecksec(t *testing.T) {
	testenv.NeedsTool(t, "checksec")
	files := sample(t, 30, 8<<20)
	bin := filepath.Join(testenv.Binaries(t), "immunix")
	ours, err := compare.Immunix(bin, files)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := compare.ChecksecFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	agree(t, "checksec", files, ours, theirs)
}

func agree(t *testing.T, tool string, files []string, ours, theirs compare.Verdicts) {
	t.Helper()
	n := compare.Compared(ours, theirs)
	if n < len(files) {
		t.Fatalf("only %d verdicts compared over %d files: %s output not understood", n, len(files), tool)
	}
	details := ourResults(t, files)
	ds := compare.Diff(ours, theirs)
	explained := 0
	for _, d := range ds {
		if why := explain(d, details[d.File][d.Property]); why != "" {
			explained++
			t.Logf("%s %s: ours %s, %s %s: %s", d.File, d.Property, d.Ours, tool, d.Theirs, why)
			continue
		}
		t.Errorf("%s %s: ours %s, %s %s, unexplained (our value %q)", d.File, d.Property, d.Ours, tool, d.Theirs, details[d.File][d.Property].value)
	}
	t.Logf("%d files, %d verdicts compared with %s, %d differ, %d explained", len(files), n, tool, len(ds), explained)
}

type fullReport struct {
	Files []struct {
		Path, Kind, Error string
		Results           []struct {
			Property, Status, Value string
			Lists                   map[string][]string
		}
	}
}

func decodeFull(t *testing.T, out string) fullReport {
	t.Helper()
	var rep fullReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return rep
}
