// Package compare runs Debian's hardening-check (devscripts) and checksec
// over the same files as immunix check and lines up their verdicts on the
// properties they share. The benchmark (bench/check) and the agreement test
// (tests/check) both use it.
//
// Example:
//
//	files, _ := compare.ELFFiles([]string{"/usr/bin"})
//	hc, _ := compare.HardeningCheck(files)
//	ours, _ := compare.Immunix("immunix", files)
//	for _, d := range compare.Diff(ours, hc) {
//		fmt.Println(d.File, d.Property, d.Ours, d.Theirs)
//	}
package compare

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Verdict is one tool's normalised verdict for one property of one file:
// "yes", "no", "n/a", "unknown", or a level ("full", "partial", "none").
type Verdict string

// Verdicts maps file -> property -> verdict.
type Verdicts map[string]map[string]Verdict

func (v Verdicts) set(file, prop string, x Verdict) {
	if v[file] == nil {
		v[file] = map[string]Verdict{}
	}
	v[file][prop] = x
}

// ELFFiles lists the regular files under roots (recursively, no symbolic
// links followed) that start with the ELF magic, sorted.
func ELFFiles(roots []string) ([]string, error) {
	var out []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return nil
			}
			var m [4]byte
			n, _ := f.Read(m[:])
			f.Close()
			if n == 4 && string(m[:]) == "\x7fELF" {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// Immunix runs "immunix check -f json -" over files (paths on stdin) with
// extra arguments and returns its verdicts on the shared properties.
func Immunix(bin string, files []string, extra ...string) (Verdicts, error) {
	args := append(append([]string{"check", "-f", "json", "--progress", "never"}, extra...), "-")
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(strings.Join(files, "\n"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() <= 2 {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("immunix check: %v\n%s", err, errb.String())
	}
	var rep struct {
		Files []struct {
			Path, Kind, Error string
			Results           []struct {
				Property, Status, Value string
				Lists                   map[string][]string
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("immunix check: bad JSON: %w", err)
	}
	v := Verdicts{}
	for _, f := range rep.Files {
		if f.Error != "" {
			v.set(f.Path, "error", Verdict(f.Error))
			continue
		}
		for _, r := range f.Results {
			switch r.Property {
			case "canary", "fortify", "now", "pie", "noexecstack":
				v.set(f.Path, r.Property, status(r.Status))
			case "relro":
				x := Verdict(r.Value)
				if r.Status == "n/a" {
					x = "n/a"
				}
				v.set(f.Path, "relro", x)
			case "rpath":
				v.set(f.Path, "rpath", yesNo(len(r.Lists["rpath"]) > 0))
				v.set(f.Path, "runpath", yesNo(len(r.Lists["runpath"]) > 0))
			}
		}
		v.set(f.Path, "kind", Verdict(f.Kind))
	}
	return v, nil
}

func status(s string) Verdict {
	switch s {
	case "pass":
		return "yes"
	case "fail":
		return "no"
	}
	return Verdict(s)
}

func yesNo(b bool) Verdict {
	if b {
		return "yes"
	}
	return "no"
}

// HardeningCheck runs devscripts' hardening-check over files (in batches)
// and returns its verdicts: pie, canary, fortify, relro (yes = some RELRO)
// and now.
func HardeningCheck(files []string) (Verdicts, error) {
	v := Verdicts{}
	for i := 0; i < len(files); i += 200 {
		batch := files[i:min(i+200, len(files))]
		out, _ := exec.Command("hardening-check", batch...).Output() // exits 1 when something fails
		if err := parseHardeningCheck(out, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func parseHardeningCheck(out []byte, v Verdicts) error {
	var file string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, " ") && strings.HasSuffix(line, ":") {
			file = strings.TrimSuffix(line, ":")
			continue
		}
		key, val, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok || file == "" {
			continue
		}
		x := Verdict("unknown")
		switch {
		case strings.HasPrefix(val, "yes"):
			x = "yes"
		case strings.HasPrefix(val, "no, regular shared library"), strings.HasPrefix(val, "unknown, no protectable"):
			x = "n/a"
		case strings.HasPrefix(val, "no"):
			x = "no"
		}
		switch key {
		case "Position Independent Executable":
			v.set(file, "pie", x)
		case "Stack protected":
			v.set(file, "canary", x)
		case "Fortify Source functions":
			v.set(file, "fortify", x)
		case "Read-only relocations":
			v.set(file, "relro", x)
		case "Immediate binding":
			v.set(file, "now", x)
		}
	}
	return sc.Err()
}

// Checksec runs "checksec --output=csv --dir=DIR" for each root and returns
// its verdicts: relro (full/partial/none), canary, noexecstack, pie,
// rpath, runpath, fortify.
func Checksec(roots []string) (Verdicts, error) {
	v := Verdicts{}
	for _, root := range roots {
		out, err := exec.Command("checksec", "--output=csv", "--dir="+root).Output()
		if err != nil && len(out) == 0 {
			return nil, fmt.Errorf("checksec --dir=%s: %w", root, err)
		}
		if err := parseChecksec(out, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// ChecksecFiles runs checksec --file on each file (for a sample).
func ChecksecFiles(files []string) (Verdicts, error) {
	v := Verdicts{}
	for _, f := range files {
		out, _ := exec.Command("checksec", "--output=csv", "--file="+f).Output()
		if err := parseChecksec(out, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func parseChecksec(out []byte, v Verdicts) error {
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if err != nil {
			break
		}
		if len(rec) < 11 {
			continue
		}
		file := rec[len(rec)-1]
		relro := map[string]Verdict{"Full RELRO": "full", "Partial RELRO": "partial", "No RELRO": "none"}[rec[0]]
		if relro == "" {
			relro = "unknown"
		}
		v.set(file, "relro", relro)
		v.set(file, "canary", yesNo(rec[1] == "Canary found"))
		v.set(file, "noexecstack", yesNo(rec[2] == "NX enabled"))
		switch rec[3] {
		case "PIE enabled":
			v.set(file, "pie", "yes")
		case "No PIE":
			v.set(file, "pie", "no")
		default: // "DSO", "REL"
			v.set(file, "pie", "n/a")
		}
		v.set(file, "rpath", yesNo(rec[4] != "No RPATH"))
		v.set(file, "runpath", yesNo(rec[5] != "No RUNPATH"))
		v.set(file, "fortify", yesNo(rec[7] == "Yes"))
	}
	return nil
}

// Disagreement is one file and property on which two tools differ.
type Disagreement struct {
	File, Property string
	Ours, Theirs   Verdict
}

// Same reports whether our verdict and theirs agree, allowing for the
// vocabularies: their "yes" for RELRO means any RELRO; "n/a" matches their
// "unknown"/"n/a".
func Same(prop string, ours, theirs Verdict) bool {
	if ours == theirs {
		return true
	}
	switch prop {
	case "relro":
		if theirs == "yes" {
			return ours == "full" || ours == "partial"
		}
		if theirs == "no" {
			return ours == "none"
		}
	case "pie":
		// hardening-check calls a shared library "no, regular shared
		// library (ignored)", checksec "DSO": ours is n/a for both.
		return false
	}
	return false
}

// Diff lists the disagreements on the properties both have, file by file.
func Diff(ours, theirs Verdicts) []Disagreement {
	var out []Disagreement
	files := make([]string, 0, len(theirs))
	for f := range theirs {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		o, ok := ours[f]
		if !ok {
			continue
		}
		props := make([]string, 0, len(theirs[f]))
		for p := range theirs[f] {
			props = append(props, p)
		}
		sort.Strings(props)
		for _, p := range props {
			ov, ok := o[p]
			if !ok {
				continue
			}
			if !Same(p, ov, theirs[f][p]) {
				out = append(out, Disagreement{File: f, Property: p, Ours: ov, Theirs: theirs[f][p]})
			}
		}
	}
	return out
}

// Compared counts the (file, property) pairs both tools judged.
func Compared(ours, theirs Verdicts) int {
	n := 0
	for f, props := range theirs {
		for p := range props {
			if _, ok := ours[f][p]; ok {
				n++
			}
		}
	}
	return n
}

// Group counts disagreements by property and verdict pair, e.g.
// "canary ours=no theirs=yes".
func Group(ds []Disagreement) map[string][]string {
	g := map[string][]string{}
	for _, d := range ds {
		k := fmt.Sprintf("%s ours=%s theirs=%s", d.Property, d.Ours, d.Theirs)
		g[k] = append(g[k], d.File)
	}
	return g
}
