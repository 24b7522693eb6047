package check

import (
	"bytes"
	"debug/elf"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/tools/txtar"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/version"
	"github.com/immunix/immunix/raceguard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// sampleFacts are hand-made facts covering every status of every property.
func sampleFacts() map[string]*elfacts.Facts {
	good := &elfacts.Facts{
		Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_X86_64, Type: elf.ET_DYN, Kind: elfacts.KindPIE,
		Interp: "/lib64/ld-linux-x86-64.so.2", Dynamic: true, GNURelro: true, BindNow: true, GNUStack: true,
		GNUProperty: true, IBT: true, SHSTK: true, Stripped: true,
		Imports:  []string{"__immunix_fg_printf", "__memcpy_chk", "__printf_chk", "memcpy", "printf"},
		Exported: append([]string{raceguard.Marker}, raceguard.Wrappers...),
		Stamps: []stamp.Stamp{
			{Type: stamp.Compile, Version: "0.1.0", On: []string{"canary", "fortify", "formatguard", "pie"}, Fortify: 3, Lang: "c"},
			{Type: stamp.Link, Version: "0.1.0", On: []string{"pie", "relro", "now"}},
		},
		Canary: elfacts.Canary{Analyzed: true, Source: "eh_frame", Protected: 2, NeedsNone: 1, Funcs: []elfacts.Func{
			{Addr: 0x1000, Size: 20, Class: elfacts.Protected}, {Addr: 0x1020, Size: 20, Class: elfacts.Protected}, {Addr: 0x1040, Size: 8, Class: elfacts.NeedsNone},
		}},
		Calls: elfacts.Calls{Analyzed: true, Sites: []elfacts.CallSite{
			{Callee: "__immunix_fg_printf", Addr: 0x1008, Func: 0},
			{Callee: "__printf_chk", Addr: 0x1010, Func: 0, Format: elfacts.FormatChecked},
			{Callee: "__printf_chk", Addr: 0x1018, Func: 0, Format: elfacts.FormatLiteral},
			{Callee: "__memcpy_chk", Addr: 0x1028, Func: 1},
			{Callee: "memcpy", Addr: 0x1030, Func: 1},
		}},
	}
	bad := &elfacts.Facts{
		Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_X86_64, Type: elf.ET_EXEC, Kind: elfacts.KindExec,
		Interp: "/lib64/ld-linux-x86-64.so.2", Dynamic: true, GNUStack: true, ExecStack: true,
		WXSegments: []elfacts.Segment{{Index: 2, Vaddr: 0x401000, Flags: "RWX"}},
		RPath:      []string{"/opt/x/lib"},
		Imports:    []string{"printf", "strcpy", "vsnprintf"},
		Stamps:     []stamp.Stamp{{Type: stamp.Compile, Version: "0.1.0", On: []string{"pie"}, UserOff: []string{"canary"}, Lang: "c"}},
		Canary: elfacts.Canary{Analyzed: true, Source: "symtab", Protected: 1, Missing: 1, Funcs: []elfacts.Func{
			{Name: "main", Addr: 0x401100, Size: 40, Class: elfacts.Protected},
			{Name: "parse", Addr: 0x401200, Size: 90, Class: elfacts.Missing, Why: "address of a stack slot at +0x12"},
		}},
		Calls: elfacts.Calls{Analyzed: true, Sites: []elfacts.CallSite{
			{Callee: "printf", Addr: 0x401120, Func: 0, Format: elfacts.FormatUnchecked},
			{Callee: "strcpy", Addr: 0x401210, Func: 1},
			{Callee: "vsnprintf", Addr: 0x401220, Func: 1},
		}},
	}
	// A package member whose name tries to forge report lines: a newline,
	// a fake summary, ANSI colour and clear-line escapes.
	spoof := &elfacts.Facts{
		Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_X86_64, Type: elf.ET_EXEC, Kind: elfacts.KindExec,
		Interp: "/lib64/ld-linux-x86-64.so.2", Dynamic: true, GNUStack: true, RPath: []string{"/tmp\n\x1b[2K"},
		Canary: elfacts.Canary{Analyzed: true, Source: "symtab", Missing: 1, Funcs: []elfacts.Func{
			{Name: "f\n1 ELF files: 1 passed", Addr: 0x401100, Size: 40, Class: elfacts.Missing, Why: "address of a stack slot at +0x4"},
		}},
		Calls: elfacts.Calls{Analyzed: true},
	}
	lib := &elfacts.Facts{
		Class: elf.ELFCLASS64, Data: elf.ELFDATA2LSB, Machine: elf.EM_X86_64, Type: elf.ET_DYN, Kind: elfacts.KindShared,
		Dynamic: true, GNURelro: true, GNUStack: true,
		Canary: elfacts.Canary{Why: "function analysis turned off"},
	}
	arm := &elfacts.Facts{
		Class: elf.ELFCLASS32, Data: elf.ELFDATA2MSB, Machine: elf.EM_ARM, Type: elf.ET_EXEC, Kind: elfacts.KindExec,
		GNUStack: true, Static: true, GNURelro: true, GotPltInRelro: true,
		Canary: elfacts.Canary{Why: "code analysis supports x86-64 only, this is EM_ARM ELFCLASS32"},
	}
	return map[string]*elfacts.Facts{"build/good": good, "build/bad": bad, "lib/libx.so.1": lib, "fw/arm-static": arm, spoofPath: spoof}
}

const spoofPath = "dist/y.deb!./usr/bin/y\n1 ELF files: 1 passed, 0 failed\x1b[32m\x1b[2K"

func sampleReport(t *testing.T, level Level) *Report {
	t.Helper()
	pol, err := NewPolicy(level)
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{Level: string(level), Policy: pol.String(), Required: pol.Required(), want: map[string]string{}}
	for _, p := range rep.Required {
		rep.want[p] = pol.Want(p)
	}
	facts := sampleFacts()
	for _, path := range []string{"build/good", "build/bad", "lib/libx.so.1", "fw/arm-static", spoofPath} {
		f := facts[path]
		fr := FileReport{Path: path, Kind: string(f.Kind), Arch: arch(f), Results: Evaluate(f, nil)}
		fr.Failed = pol.Failures(fr.Results)
		rep.Files = append(rep.Files, fr)
	}
	rep.Files = append(rep.Files,
		FileReport{Path: "dist/broken", Error: "read ELF header: unexpected EOF"},
		FileReport{Path: "dist/x.deb!./usr/bin/x", Package: "dist/x.deb", Member: "./usr/bin/x", Error: "section .text is 99999 bytes, larger than the file (100 bytes): truncated or corrupted"},
	)
	for _, f := range rep.Files {
		rep.Summary.Files++
		switch {
		case f.Error != "":
			rep.Summary.Errors++
		case len(f.Failed) > 0:
			rep.Summary.Failed++
		default:
			rep.Summary.Passed++
		}
	}
	return rep
}

func TestGoldenReports(t *testing.T) {
	for _, level := range Levels {
		t.Run(string(level), func(t *testing.T) {
			rep := sampleReport(t, level)
			var text, color, js, sarif, junit bytes.Buffer
			for _, w := range []struct {
				buf *bytes.Buffer
				err error
			}{
				{&text, WriteText(&text, rep, TextOptions{})},
				{&color, WriteText(&color, rep, TextOptions{Color: true, Quiet: true})},
				{&js, WriteJSON(&js, rep)},
				{&sarif, WriteSARIF(&sarif, rep)},
				{&junit, WriteJUnit(&junit, rep)},
			} {
				if w.err != nil {
					t.Fatal(w.err)
				}
			}
			fix := func(b []byte) []byte {
				return bytes.ReplaceAll(b, []byte(`"`+version.Version+`"`), []byte(`"VERSION"`))
			}
			got := &txtar.Archive{
				Comment: []byte("Golden reports of the sample facts in report_test.go, policy " + string(level) + ".\nRegenerate: go test ./check -run TestGoldenReports -update\n"),
				Files: []txtar.File{
					{Name: "text", Data: text.Bytes()},
					{Name: "text-color-quiet", Data: color.Bytes()},
					{Name: "json", Data: fix(js.Bytes())},
					{Name: "sarif", Data: fix(sarif.Bytes())},
					{Name: "junit", Data: junit.Bytes()},
				},
			}
			path := filepath.Join("testdata", "golden", "report-"+string(level)+".txtar")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, txtar.Format(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if len(want.Files) != len(got.Files) {
				t.Fatalf("%s has %d files, want %d", path, len(want.Files), len(got.Files))
			}
			for i, f := range got.Files {
				if !bytes.Equal(f.Data, want.Files[i].Data) {
					t.Errorf("%s: section %s differs:\n--- got\n%s\n--- want\n%s", path, f.Name, f.Data, want.Files[i].Data)
				}
			}
		})
	}
}

func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("file:///schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("file:///schema.json")
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	return s.Validate(inst)
}

// TestSARIFSchema validates SARIF reports against the SARIF 2.1.0 schema,
// and checks that the schema does catch a broken report.
func TestSARIFSchema(t *testing.T) {
	s := compileSchema(t, filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	for _, level := range Levels {
		var b bytes.Buffer
		if err := WriteSARIF(&b, sampleReport(t, level)); err != nil {
			t.Fatal(err)
		}
		if err := validate(t, s, b.Bytes()); err != nil {
			t.Errorf("%s: SARIF report does not validate: %v", level, err)
		}
		broken := strings.Replace(b.String(), `"level": "error"`, `"level": "fatal"`, 1)
		if validate(t, s, []byte(broken)) == nil {
			t.Errorf("%s: the schema accepted an invalid level: the validation test cannot fail", level)
		}
	}
}

// TestJSONSchema validates JSON reports against the published schema.
func TestJSONSchema(t *testing.T) {
	s := compileSchema(t, filepath.Join("..", "docs", "check.schema.json"))
	for _, level := range Levels {
		var b bytes.Buffer
		if err := WriteJSON(&b, sampleReport(t, level)); err != nil {
			t.Fatal(err)
		}
		if err := validate(t, s, b.Bytes()); err != nil {
			t.Errorf("%s: JSON report does not validate: %v", level, err)
		}
		broken := strings.Replace(b.String(), `"status": "pass"`, `"status": "ok"`, 1)
		if validate(t, s, []byte(broken)) == nil {
			t.Errorf("%s: the schema accepted an invalid status", level)
		}
	}
}

// TestTextQuotesNames: a member name, a symbol and an RPATH carrying a
// newline, a fake summary and ANSI escapes are quoted in the text report:
// one summary line, no escape byte, the spoofing file listed as failed.
func TestTextQuotesNames(t *testing.T) {
	rep := sampleReport(t, Strong)
	for _, quiet := range []bool{false, true} {
		var b bytes.Buffer
		if err := WriteText(&b, rep, TextOptions{Quiet: quiet}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.ContainsRune(out, '\x1b') {
			t.Errorf("quiet=%v: raw escape in the text report:\n%q", quiet, out)
		}
		summaries := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, " ELF files: ") && l[0] >= '0' && l[0] <= '9' {
				summaries++
			}
		}
		if summaries != 1 {
			t.Errorf("quiet=%v: %d summary lines (a name forged one):\n%s", quiet, summaries, out)
		}
		if !strings.Contains(out, Quote(spoofPath)+": failed canary") {
			t.Errorf("quiet=%v: the spoofing file's failure is not reported under its quoted name:\n%s", quiet, out)
		}
	}
	for in, want := range map[string]string{
		"./usr/bin/hello":      "./usr/bin/hello",
		"a b":                  "a b",
		"ünïcode":              "ünïcode",
		"a\nb":                 `"a\nb"`,
		"\x1b[2K":              `"\x1b[2K"`,
		"\"x\"":                `"\"x\""`,
		"rtl\u202eexe.txt":     `"rtl\u202eexe.txt"`,
		string([]byte{0xff}):   `"\xff"`,
		"tab\there":            `"tab\there"`,
		"del\x7f":              `"del\x7f"`,
		"c1\u0085next":         `"c1\u0085next"`,
		"zero\u200bwidth":      `"zero\u200bwidth"`,
		"bom\ufeff":            `"bom\ufeff"`,
		"isolate\u2066x\u2069": `"isolate\u2066x\u2069"`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}
