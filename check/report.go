package check

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/immunix/immunix/internal/stamp"
	"github.com/immunix/immunix/internal/version"
)

// Formats lists the report formats.
var Formats = []string{"text", "json", "sarif", "junit"}

// TextOptions control the text report.
type TextOptions struct {
	Color bool // ANSI colours (the caller decides: only on a terminal)
	// Quiet prints only files the policy refuses or could not read.
	Quiet bool
}

const (
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
	ansiBold   = "\x1b[1m"
	ansiReset  = "\x1b[0m"
)

// tableProps are the columns of the text table and their headings, in
// property order (propertyTable's heads).
var tableProps = func() []struct{ prop, head string } {
	var out []struct{ prop, head string }
	for _, p := range propertyTable {
		if p.head != "" {
			out = append(out, struct{ prop, head string }{p.name, p.head})
		}
	}
	return out
}()

// cell is the short text of one result in the table.
func cell(r Result) string {
	if r.Status == NA {
		return "n/a"
	}
	if r.Status == Unknown {
		if r.Measure == boundsPartial {
			return boundsPartial + "?"
		}
		return "?"
	}
	if r.Measure != "" {
		return r.Measure
	}
	switch r.Property {
	case PStatic:
		return r.Value
	case PStamp:
		switch {
		case r.Status == Pass && len(r.Lists["mode"]) > 1:
			return "mixed"
		case r.Status == Pass && len(r.Lists["mode"]) == 1 && r.Lists["mode"][0] != stamp.ModeWrapper:
			// Built in the zero-process mode: "specs" or "config".
			return r.Lists["mode"][0]
		case r.Status == Pass:
			return "yes"
		case len(r.Lists["on"]) > 0:
			return "off"
		}
		return "none"
	case PRPath:
		if r.Status == Pass {
			return "none"
		}
		return "set"
	case PWX:
		if r.Status == Pass {
			return "none"
		}
		return "W+X"
	case PSignature:
		switch {
		case r.Status == Pass:
			return "yes"
		case r.Value == "unsigned":
			return "no"
		}
		return "bad"
	}
	if r.Status == Pass {
		return "yes"
	}
	return "no"
}

// Quote renders a name from a file or a package (a path, a member name, a
// symbol, an RPATH) for a text report: unchanged when it is printable, else
// in Go's double-quoted form, so that a newline, an ANSI escape or a
// Unicode direction override in a name cannot forge report lines (a
// "1 passed" summary) or hide others on a terminal.
func Quote(s string) string {
	// A name that starts with a quote is quoted too, so that no printable
	// name can pass for the quoted form of another.
	if !utf8.ValidString(s) || strings.HasPrefix(s, `"`) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x200b && r <= 0x200f) ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0xfeff || (!unicode.IsPrint(r) && r != ' ') {
			return strconv.Quote(s)
		}
	}
	return s
}

// WriteText writes the report as a table, then one line per refused or
// unreadable file naming what failed, then a summary line.
func WriteText(w io.Writer, rep *Report, opt TextOptions) error {
	paint := func(s, color string) string {
		if !opt.Color || color == "" {
			return s
		}
		return color + s + ansiReset
	}
	var rows []FileReport
	for _, f := range rep.Files {
		if !opt.Quiet || f.Error != "" || len(f.Failed) > 0 {
			rows = append(rows, f)
		}
	}
	var b strings.Builder
	if len(rows) > 0 {
		widths := make([]int, len(tableProps))
		cells := make([][]string, len(rows))
		pathW := len("FILE")
		for i, f := range rows {
			pathW = max(pathW, len(Quote(f.Path)))
			cells[i] = make([]string, len(tableProps))
			if f.Error != "" {
				continue
			}
			failed := map[string]bool{}
			for _, p := range f.Failed {
				failed[p] = true
			}
			for j, tp := range tableProps {
				r, _ := f.Result(tp.prop)
				c := cell(r)
				if failed[tp.prop] {
					c += "!"
				}
				cells[i][j] = c
				widths[j] = max(widths[j], len(c))
			}
		}
		pathW = min(pathW, 72)
		fmt.Fprintf(&b, "%s", paint(fmt.Sprintf("%-*s", pathW, "FILE"), ansiBold))
		for j, tp := range tableProps {
			widths[j] = max(widths[j], len(tp.head))
			fmt.Fprintf(&b, "  %s", paint(fmt.Sprintf("%-*s", widths[j], tp.head), ansiBold))
		}
		b.WriteString("\n")
		for i, f := range rows {
			p := Quote(f.Path)
			if len(p) > pathW {
				p = "..." + p[len(p)-pathW+3:]
			}
			fmt.Fprintf(&b, "%-*s", pathW, p)
			if f.Error != "" {
				fmt.Fprintf(&b, "  %s\n", paint("error: "+Quote(f.Error), ansiRed))
				continue
			}
			for j, tp := range tableProps {
				r, _ := f.Result(tp.prop)
				c := cells[i][j]
				color := ""
				switch {
				case strings.HasSuffix(c, "!"):
					color = ansiRed
				case r.Status == Pass:
					color = ansiGreen
				case r.Status == Unknown:
					color = ansiYellow
				case r.Status == NA:
					color = ansiDim
				}
				fmt.Fprintf(&b, "  %s", paint(fmt.Sprintf("%-*s", widths[j], c), color))
			}
			b.WriteString("\n")
		}
	}
	// Details of refusals: the evidence, one line per file.
	for _, f := range rep.Files {
		if len(f.Failed) == 0 {
			continue
		}
		var parts []string
		for _, p := range f.Failed {
			r, _ := f.Result(p)
			parts = append(parts, fmt.Sprintf("%s (%s%s)", p, Quote(r.Value), evidence(r)))
		}
		fmt.Fprintf(&b, "%s: %s %s\n", Quote(f.Path), paint("failed", ansiRed), strings.Join(parts, ", "))
	}
	s := rep.Summary
	fmt.Fprintf(&b, "%d ELF files: %d passed, %d failed, %d unreadable; %d other files skipped. Policy %s\n",
		s.Files, s.Passed, s.Failed, s.Errors, s.Skipped, rep.Policy)
	_, err := io.WriteString(w, b.String())
	return err
}

// evidence renders the lists that explain a failure, abbreviated.
func evidence(r Result) string {
	var key string
	switch r.Property {
	case PCanary:
		key = "missing"
	case PFortify:
		key = "unfortified"
	case PFormatGuard:
		key = "bare"
	case PWX:
		key = "segments"
	default:
		return ""
	}
	l := r.Lists[key]
	if r.Property == PFormatGuard {
		l = append(append([]string{}, l...), r.Lists["address-taken"]...)
	}
	if len(l) == 0 {
		return ""
	}
	const show = 5
	var q []string
	for _, x := range l[:min(len(l), show)] {
		q = append(q, Quote(x))
	}
	s := strings.Join(q, " ")
	if len(l) > show {
		s += fmt.Sprintf(" +%d more", len(l)-show)
	}
	return ": " + s
}

// JSONSchemaVersion is the version of docs/check.schema.json the JSON
// report follows.
const JSONSchemaVersion = 1

// WriteJSON writes the report as JSON (schema: docs/check.schema.json).
func WriteJSON(w io.Writer, rep *Report) error {
	doc := struct {
		Schema  int    `json:"schemaVersion"`
		Tool    string `json:"tool"`
		Version string `json:"version"`
		*Report
	}{JSONSchemaVersion, "immunix check", version.Version, rep}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// SARIF 2.1.0 (OASIS): one run, one rule per property, one result per
// property a file fails, tool execution notifications for unreadable files.
type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	ExitCode            int                 `json:"exitCode"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
	} `json:"physicalLocation"`
}

func sarifLoc(path string) sarifLocation {
	var l sarifLocation
	l.PhysicalLocation.ArtifactLocation.URI = sarifURI(path)
	return l
}

// sarifURI turns a path into a relative or file: URI reference; bytes
// that a URI cannot hold (controls, spaces, non-ASCII, %, #, ?) are
// percent-encoded.
func sarifURI(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= 0x20 || c >= 0x7f || c == '%' || c == '#' || c == '?' || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	if strings.HasPrefix(p, "/") {
		return "file://" + b.String()
	}
	return b.String()
}

// WriteSARIF writes the report as SARIF 2.1.0.
func WriteSARIF(w io.Writer, rep *Report) error {
	run := sarifRun{Results: []sarifResult{}}
	run.Tool.Driver = sarifDriver{Name: "immunix check", Version: version.Version}
	index := map[string]int{}
	for i, p := range Properties {
		r := sarifRule{ID: p, ShortDescription: sarifMessage{Text: PropertyDoc[p]}}
		r.DefaultConfiguration.Level = "error"
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, r)
		index[p] = i
	}
	inv := sarifInvocation{ExecutionSuccessful: rep.Summary.Errors == 0, ExitCode: rep.ExitCode()}
	for _, f := range rep.Files {
		file := f.Package
		if file == "" {
			file = f.Path
		}
		if f.Error != "" {
			inv.Notifications = append(inv.Notifications, sarifNotification{
				Level: "error", Message: sarifMessage{Text: f.Path + ": " + f.Error}, Locations: []sarifLocation{sarifLoc(file)},
			})
			continue
		}
		for _, p := range f.Failed {
			r, _ := f.Result(p)
			msg := fmt.Sprintf("%s: %s fails policy %s (wants %s): %s%s", f.Path, p, rep.Level, rep.want[p], r.Value, evidence(r))
			run.Results = append(run.Results, sarifResult{
				RuleID: p, RuleIndex: index[p], Level: "error", Message: sarifMessage{Text: msg},
				Locations: []sarifLocation{sarifLoc(file)},
			})
		}
	}
	run.Invocations = []sarifInvocation{inv}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Version: "2.1.0", Schema: "https://json.schemastore.org/sarif-2.1.0.json", Runs: []sarifRun{run}})
}

// JUnit XML, as Jenkins, GitLab and most CI systems read it: one test suite,
// one test case per file, a <failure> naming the refused properties, an
// <error> for an unreadable file.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Props    []junitProp `xml:"properties>property,omitempty"`
	Cases    []junitCase `xml:"testcase"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string       `xml:"name,attr"`
	Classname string       `xml:"classname,attr"`
	Failure   *junitDetail `xml:"failure,omitempty"`
	Error     *junitDetail `xml:"error,omitempty"`
	SystemOut string       `xml:"system-out,omitempty"`
}

type junitDetail struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML.
func WriteJUnit(w io.Writer, rep *Report) error {
	s := junitSuite{Name: "immunix check", Tests: len(rep.Files), Failures: rep.Summary.Failed, Errors: rep.Summary.Errors,
		Props: []junitProp{{Name: "policy", Value: rep.Policy}}}
	for _, f := range rep.Files {
		c := junitCase{Name: f.Path, Classname: "immunix.check"}
		switch {
		case f.Error != "":
			c.Error = &junitDetail{Message: f.Error, Type: "unreadable"}
		case len(f.Failed) > 0:
			var lines []string
			for _, p := range f.Failed {
				r, _ := f.Result(p)
				lines = append(lines, fmt.Sprintf("%s: %s%s", p, r.Value, evidence(r)))
			}
			c.Failure = &junitDetail{Message: "failed " + strings.Join(f.Failed, " "), Type: "policy", Text: strings.Join(lines, "\n")}
		}
		var out []string
		for _, r := range f.Results {
			out = append(out, fmt.Sprintf("%s %s %s", r.Property, r.Status, r.Value))
		}
		c.SystemOut = strings.Join(out, "\n")
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
