package checktest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// run runs the immunix binary and returns stdout, stderr and the exit code.
func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	bin := filepath.Join(testenv.Binaries(t), "immunix")
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errb.String(), "goroutine ") || strings.Contains(errb.String(), "panic:") {
		t.Fatalf("immunix %s panicked:\n%s", strings.Join(args, " "), errb.String())
	}
	return out.String(), errb.String(), code
}

// corpusFile returns the first corpus program whose name has every one of
// the dash-separated words, and none of execstack and rpath unless asked.
func corpusFile(t *testing.T, patterns ...string) string {
	t.Helper()
	for _, words := range patterns {
		if p := findCorpus(t, words); p != "" {
			return p
		}
	}
	t.Fatalf("no corpus program with %s", strings.Join(patterns, " or "))
	return ""
}

func findCorpus(t *testing.T, words string) string {
	c := buildCorpus(t)
	for _, v := range c.vs {
		parts := map[string]bool{}
		for _, p := range strings.Split(v.name, "-") {
			parts[p] = true
		}
		ok := true
		for _, w := range strings.Split(words, "-") {
			ok = ok && parts[w]
		}
		for _, x := range []string{"execstack", "rpath"} {
			if parts[x] && !strings.Contains(words, x) {
				ok = false
			}
		}
		if ok {
			return c.built[v.name]
		}
	}
	return ""
}

var (
	goodStrong = []string{"gcc-fortify2-sspstrong-dynamic-relrofull-stripped", "gcc-fortify3-sspstrong-dynamic-relrofull-stripped", "gcc-fortify1-sspstrong-dynamic-relrofull-stripped"}
	partial    = []string{"clang-fortify2-sspstrong-dynamic-relropartial-unstripped", "clang-fortify3-sspstrong-dynamic-relropartial-unstripped", "clang-fortify1-sspstrong-dynamic-relropartial-unstripped"}
	noSSP      = []string{"gcc-fortify0-nossp-dynamic-unstripped"}
)

func TestExitCodes(t *testing.T) {
	good, part, bad := corpusFile(t, goodStrong...), corpusFile(t, partial...), corpusFile(t, noSSP...)
	script := filepath.Join(t.TempDir(), "script.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755)
	tests := []struct {
		name string
		args []string
		code int
		out  string // expected in stdout
		err  string // expected in stderr
	}{
		{"pass", []string{"check", good}, 0, "1 passed", ""},
		{"quiet pass prints only the summary", []string{"check", "-q", good}, 0, "1 ELF files: 1 passed", ""},
		{"policy failure", []string{"check", bad}, 1, "failed canary", ""},
		{"basic accepts partial relro", []string{"check", "--policy", "basic", part}, 0, "1 passed", ""},
		{"strong refuses partial relro", []string{"check", part}, 1, "relro (partial)", ""},
		{"allow", []string{"check", "--allow", "relro,now", part}, 0, "1 passed", ""},
		{"require cet", []string{"check", "--require", "cet", good}, 1, "failed cet", ""},
		{"missing file still scans the rest", []string{"check", "/nonexistent/file", good}, 2, "error: stat: no such file", ""},
		{"explicit non-ELF", []string{"check", script}, 2, "not an ELF file", ""},
		{"bad level", []string{"check", "--policy", "paranoid", good}, 2, "", "unknown policy level"},
		{"bad property", []string{"check", "--require", "aslr", good}, 2, "", "unknown property"},
		{"bad format", []string{"check", "--format", "xml", good}, 2, "", "unknown format"},
		{"no path", []string{"check"}, 2, "", "no PATH"},
		{"bad flag", []string{"check", "--frobnicate", good}, 2, "", "unknown flag"},
		{"help", []string{"check", "--help"}, 0, "Exit status: 0", ""},
		{"help via top level", []string{"help", "check"}, 0, "Policy levels", ""},
	}
	for _, tt := range tests {
		out, errOut, code := run(t, "", tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
			t.Errorf("%s: immunix %s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", tt.name, strings.Join(tt.args, " "), code, tt.code, out, errOut)
		}
	}
}

func TestStdinList(t *testing.T) {
	good, bad := corpusFile(t, goodStrong...), corpusFile(t, noSSP...)
	out, _, code := run(t, good+"\n\n"+bad+"\n", "check", "--format", "json", "-")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	var rep struct {
		Files []struct {
			Path   string
			Failed []string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Files) != 2 || rep.Files[0].Path != good || rep.Files[1].Path != bad || len(rep.Files[1].Failed) == 0 {
		t.Errorf("got %+v", rep.Files)
	}
}

func TestFormats(t *testing.T) {
	good, bad := corpusFile(t, goodStrong...), corpusFile(t, noSSP...)
	out, _, code := run(t, "", "check", "--format", "junit", good, bad, "/nonexistent")
	if code != 2 {
		t.Errorf("junit: exit %d, want 2", code)
	}
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Errors   int `xml:"errors,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(out), &suites); err != nil || len(suites.Suites) != 1 {
		t.Fatalf("junit: %v\n%s", err, out)
	}
	if s := suites.Suites[0]; s.Tests != 3 || s.Failures != 1 || s.Errors != 1 {
		t.Errorf("junit counts: %+v", s)
	}
	out, errOut, _ := run(t, "", "check", "--format", "sarif", bad, "/nonexistent")
	var sarif struct {
		Version string
		Runs    []struct {
			Results []struct{ RuleID string }
		}
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs[0].Results) == 0 {
		t.Errorf("sarif: %v\n%s", err, out)
	}
	if !strings.Contains(errOut, "/nonexistent") {
		t.Errorf("machine format: unreadable input not named on stderr: %q", errOut)
	}
	// --output writes the report to a file.
	p := filepath.Join(t.TempDir(), "r.json")
	if _, _, code := run(t, "", "check", "-f", "json", "-o", p, good); code != 0 {
		t.Errorf("-o: exit %d", code)
	}
	if b, err := os.ReadFile(p); err != nil || !json.Valid(b) {
		t.Errorf("-o: %v %q", err, b)
	}
}

// TestDirectoryWalk: recursion, non-ELF files skipped, symbolic links not
// followed (out of the tree, or in a loop).
func TestDirectoryWalk(t *testing.T) {
	good := corpusFile(t, goodStrong...)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	data, _ := os.ReadFile(good)
	os.WriteFile(filepath.Join(dir, "a", "b", "prog"), data, 0o755)
	os.WriteFile(filepath.Join(dir, "a", "README"), []byte("text"), 0o644)
	os.Symlink("/usr/bin", filepath.Join(dir, "a", "usrbin"))  // out of the tree
	os.Symlink("/bin/true", filepath.Join(dir, "a", "true"))   // out of the tree
	os.Symlink("..", filepath.Join(dir, "a", "b", "loop"))     // a loop
	os.Symlink("b/prog", filepath.Join(dir, "a", "prog-link")) // inside: already scanned
	out, errOut, code := run(t, "", "check", "-f", "json", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		Files   []struct{ Path string }
		Summary struct {
			Files, Skipped int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Files != 1 || rep.Summary.Skipped != 1 || rep.Files[0].Path != filepath.Join(dir, "a", "b", "prog") {
		t.Errorf("got %+v", rep)
	}
}

// TestBadInputs: one clear error line per bad file, the scan goes on, no
// panic, exit 2.
func TestBadInputs(t *testing.T) {
	good := corpusFile(t, goodStrong...)
	data, _ := os.ReadFile(good)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := append([]byte{}, data...)
	for i := 64; i < len(corrupt); i += 7 {
		corrupt[i] ^= 0x5a
	}
	shdr := append([]byte{}, data...)
	for i := 0x28; i < 0x30; i++ { // e_shoff: section headers beyond the end
		shdr[i] = 0x7f
	}
	inputs := map[string]string{
		"truncated-header": write("truncated-header", data[:20]),
		"truncated-half":   write("truncated-half", data[:len(data)/2]),
		"corrupted":        write("corrupted", corrupt),
		"bad-shoff":        write("bad-shoff", shdr),
		"empty-elf-magic":  write("magic-only", []byte("\x7fELF")),
	}
	// A huge file: a valid program followed by 6 GiB of hole. It must be
	// read through its headers, not loaded.
	huge := filepath.Join(dir, "huge")
	f, _ := os.Create(huge)
	f.Write(data)
	f.Truncate(6 << 30)
	f.Close()
	args := []string{"check", "-f", "json"}
	for _, p := range inputs {
		args = append(args, p)
	}
	args = append(args, huge, good)
	out, errOut, code := run(t, "", args...)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	var rep struct {
		Files []struct {
			Path, Error string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	byPath := map[string]string{}
	for _, f := range rep.Files {
		byPath[f.Path] = f.Error
	}
	for name, p := range inputs {
		e, ok := byPath[p]
		if !ok {
			t.Errorf("%s: not reported", name)
		} else if name != "corrupted" && e == "" {
			t.Errorf("%s: no error", name)
		}
	}
	if byPath[good] != "" || byPath[huge] != "" {
		t.Errorf("good or huge file got an error: %q %q", byPath[good], byPath[huge])
	}
	// stderr: one line per unreadable file.
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	errs := 0
	for _, e := range byPath {
		if e != "" {
			errs++
		}
	}
	if len(lines) != errs {
		t.Errorf("%d stderr lines for %d errors:\n%s", len(lines), errs, errOut)
	}
}

// TestForeignELF: 32-bit and big-endian files from Go's debug/elf test data
// are read (code analysis: unknown) or refused with one line, never a panic.
func TestForeignELF(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(goroot(), "src", "debug", "elf", "testdata", "go-relocation-test-gcc*"))
	if len(files) == 0 {
		testenv.Missing(t, "no debug/elf testdata in GOROOT (the Go toolchain's source tree)")
	}
	out, _, _ := run(t, "", append([]string{"check", "-f", "json"}, files...)...)
	var rep struct {
		Files []struct {
			Path, Arch, Error string
			Results           []struct{ Property, Status string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	arches := map[string]bool{}
	for _, f := range rep.Files {
		arches[f.Arch] = true
		if f.Arch != "" && !strings.HasPrefix(f.Arch, "x86_64") {
			for _, r := range f.Results {
				if r.Property == "canary" && r.Status != "unknown" {
					t.Errorf("%s (%s): canary %s, want unknown", f.Path, f.Arch, r.Status)
				}
			}
		}
	}
	for _, want := range []string{"386/32le", "s390/64be"} {
		if !arches[want] {
			t.Errorf("no %s file read; got %v", want, arches)
		}
	}
}

// TestProgressAndColor: forced on, the progress bar goes to stderr and the
// colours to stdout; by default (not a terminal) neither appears.
func TestProgressAndColor(t *testing.T) {
	good := corpusFile(t, goodStrong...)
	out, errOut, _ := run(t, "", "check", "--progress", "always", "--color", "always", good, good)
	if !strings.Contains(errOut, "\r[") || !strings.Contains(errOut, "2/2") {
		t.Errorf("no progress bar on stderr: %q", errOut)
	}
	if !strings.Contains(out, "\x1b[32m") {
		t.Errorf("no colour on stdout: %q", out)
	}
	out, errOut, _ = run(t, "", "check", good, good)
	if strings.Contains(out+errOut, "\x1b[") || strings.Contains(errOut, "\r[") {
		t.Errorf("colour or progress without a terminal: %q %q", out, errOut)
	}
}

// goroot is the Go installation's root, from "go env GOROOT".
func goroot() string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
