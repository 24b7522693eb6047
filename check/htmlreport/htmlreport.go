// Package htmlreport writes an immunix check report as one self-contained
// HTML page (no script, no network: inline CSS and SVG), for people to look
// at: coverage per protection as a bar chart, per package and per binary,
// the functions that lack a canary, FormatGuard's call sites, and what
// changed against an earlier JSON report (new failures first).
//
//	base, err := htmlreport.ReadBaseline(f) // an earlier `immunix check -f json`
//	err = htmlreport.Write(w, rep, base)    // base may be nil
package htmlreport

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/immunix/immunix/check"
	"github.com/immunix/immunix/internal/version"
)

// The chart's colours, one per status; the screenshot test looks for them.
const (
	ColorPass    = "#2e7d32"
	ColorFail    = "#c62828"
	ColorUnknown = "#f9a825"
	ColorNA      = "#bdbdbd"
)

// ChartID is the id of the coverage chart's <svg> element.
const ChartID = "coverage-chart"

// ReadBaseline reads an earlier JSON report (`immunix check --format json`,
// docs/check.schema.json) to compare with.
func ReadBaseline(r io.Reader) (*check.Report, error) {
	var doc struct {
		Schema int    `json:"schemaVersion"`
		Tool   string `json:"tool"`
		check.Report
	}
	dec := json.NewDecoder(io.LimitReader(r, 1<<30))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("baseline is not an immunix check JSON report: %w", err)
	}
	if doc.Tool != "immunix check" {
		return nil, fmt.Errorf("baseline is not an immunix check JSON report (tool %q)", doc.Tool)
	}
	if doc.Schema != check.JSONSchemaVersion {
		return nil, fmt.Errorf("baseline has JSON schema version %d, this immunix reads %d", doc.Schema, check.JSONSchemaVersion)
	}
	return &doc.Report, nil
}

// Change is one difference between the baseline and the report.
type Change struct {
	Path     string
	Property string // "" for a whole file
	Kind     string // "new failure", "fixed", "new file", "gone", "now unreadable", "readable again"
	Value    string // the current value (or the old one for fixed and gone)
}

// Diff compares rep with base: new failures first, then files that became
// unreadable, fixed properties, readable-again files, new and gone files;
// each group by path and property.
func Diff(base, rep *check.Report) []Change {
	old := map[string]*check.FileReport{}
	for i := range base.Files {
		old[base.Files[i].Path] = &base.Files[i]
	}
	seen := map[string]bool{}
	var out []Change
	for i := range rep.Files {
		f := &rep.Files[i]
		seen[f.Path] = true
		o := old[f.Path]
		switch {
		case o == nil:
			out = append(out, Change{Path: f.Path, Kind: "new file", Value: verdict(f)})
			for _, p := range f.Failed {
				r, _ := f.Result(p)
				out = append(out, Change{Path: f.Path, Property: p, Kind: "new failure", Value: r.Value})
			}
		case f.Error != "" && o.Error == "":
			out = append(out, Change{Path: f.Path, Kind: "now unreadable", Value: f.Error})
		case f.Error == "" && o.Error != "":
			out = append(out, Change{Path: f.Path, Kind: "readable again", Value: verdict(f)})
			for _, p := range f.Failed {
				r, _ := f.Result(p)
				out = append(out, Change{Path: f.Path, Property: p, Kind: "new failure", Value: r.Value})
			}
		default:
			for _, p := range f.Failed {
				if !slices.Contains(o.Failed, p) {
					r, _ := f.Result(p)
					out = append(out, Change{Path: f.Path, Property: p, Kind: "new failure", Value: r.Value})
				}
			}
			for _, p := range o.Failed {
				if !slices.Contains(f.Failed, p) {
					r, _ := f.Result(p)
					out = append(out, Change{Path: f.Path, Property: p, Kind: "fixed", Value: r.Value})
				}
			}
		}
	}
	for i := range base.Files {
		if o := &base.Files[i]; !seen[o.Path] {
			out = append(out, Change{Path: o.Path, Kind: "gone", Value: verdict(o)})
		}
	}
	rank := map[string]int{"new failure": 0, "now unreadable": 1, "fixed": 2, "readable again": 3, "new file": 4, "gone": 5}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if rank[a.Kind] != rank[b.Kind] {
			return rank[a.Kind] < rank[b.Kind]
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Property < b.Property
	})
	return out
}

func verdict(f *check.FileReport) string {
	switch {
	case f.Error != "":
		return "unreadable: " + f.Error
	case len(f.Failed) > 0:
		return "fails " + strings.Join(f.Failed, ", ")
	}
	return "passes"
}

// counts is one row of the coverage tally: files per status of a property.
type counts struct{ pass, fail, unknown, na int }

func (c counts) total() int { return c.pass + c.fail + c.unknown + c.na }

// tally counts, per property, the statuses of files (unreadable files are
// left out: they have no results). A failing status is "fail" when the
// policy refuses it, else it is counted as what it measured.
func tally(files []check.FileReport) map[string]*counts {
	t := map[string]*counts{}
	for _, p := range check.Properties {
		t[p] = &counts{}
	}
	for i := range files {
		f := &files[i]
		if f.Error != "" {
			continue
		}
		for _, r := range f.Results {
			c := t[r.Property]
			if c == nil {
				continue
			}
			switch r.Status {
			case check.Pass:
				c.pass++
			case check.Fail:
				c.fail++
			case check.Unknown:
				c.unknown++
			default:
				c.na++
			}
		}
	}
	return t
}

// pageWriter accumulates the page; the first write error sticks.
type pageWriter struct {
	w   *bufio.Writer
	err error
}

func (p *pageWriter) s(parts ...string) {
	for _, s := range parts {
		if p.err == nil {
			_, p.err = p.w.WriteString(s)
		}
	}
}

func esc(s string) string { return html.EscapeString(s) }

func pct(n, d int) string {
	if d == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(n)/float64(d), 'f', 1, 64) + "%"
}

const style = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#212121;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.pass{background:#e8f5e9}.fail{background:#ffebee;font-weight:bold}.unknown{background:#fff8e1}.na{color:#9e9e9e}
.off{background:#f5f5f5;color:#616161}.new-failure td{background:#ffebee}.fixed td{background:#e8f5e9}.mono{font-family:ui-monospace,monospace;font-size:12px}
.summary span{display:inline-block;margin-right:18px}.bar{display:inline-block;height:10px;background:#66bb6a}
.barbg{display:inline-block;width:100px;height:10px;background:#eee;vertical-align:middle}`

// Write writes rep as one HTML page; base, when not nil, is an earlier
// report to compare with.
func Write(w io.Writer, rep *check.Report, base *check.Report) error {
	if rep == nil {
		return errors.New("no report")
	}
	p := &pageWriter{w: bufio.NewWriterSize(w, 64*1024)}
	s := rep.Summary
	p.s(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>immunix check: `, strconv.Itoa(s.Files), ` ELF files, `, strconv.Itoa(s.Failed), ` failed</title>
<style>`, style, `</style></head><body>
<h1>immunix check</h1>
<p>Policy <b>`, esc(rep.Policy), `</b> · immunix `, esc(version.Version), `</p>
<p class="summary" id="summary"><span>`, strconv.Itoa(s.Files), ` ELF files</span><span class="pass">`, strconv.Itoa(s.Passed),
		` passed</span><span class="fail">`, strconv.Itoa(s.Failed), ` failed</span><span class="unknown">`, strconv.Itoa(s.Errors),
		` unreadable</span><span>`, strconv.Itoa(s.Skipped), ` other files skipped</span></p>
`)
	if base != nil {
		writeChanges(p, Diff(base, rep))
	}
	writeChart(p, tally(rep.Files))
	writePackages(p, rep)
	writeBinaries(p, rep)
	writeLists(p, rep)
	p.s("</body></html>\n")
	if p.err != nil {
		return p.err
	}
	return p.w.Flush()
}

func writeChanges(p *pageWriter, changes []Change) {
	p.s(`<h2 id="changes">Changes against the baseline</h2>
`)
	if len(changes) == 0 {
		p.s("<p>No change: every file has the verdicts it had.</p>\n")
		return
	}
	n := 0
	for _, c := range changes {
		if c.Kind == "new failure" {
			n++
		}
	}
	p.s(`<p>`, strconv.Itoa(n), ` new failures, listed first.</p>
<table id="changes-table"><tr><th>change</th><th>file</th><th>property</th><th>value</th></tr>
`)
	for _, c := range changes {
		p.s(`<tr class="`, strings.ReplaceAll(c.Kind, " ", "-"), `"><td>`, esc(c.Kind), `</td><td class="mono">`, esc(c.Path), `</td><td>`, esc(c.Property), `</td><td>`, esc(c.Value), "</td></tr>\n")
	}
	p.s("</table>\n")
}

// writeChart draws one horizontal stacked bar per property: pass, fail,
// unknown and n/a files, in an inline SVG.
func writeChart(p *pageWriter, t map[string]*counts) {
	const (
		left, width, rowH, barH = 110, 560, 26, 18
	)
	h := rowH*len(check.Properties) + 30
	p.s(`<h2>Coverage per protection</h2>
<svg id="`, ChartID, `" xmlns="http://www.w3.org/2000/svg" width="`, strconv.Itoa(left+width+90), `" height="`, strconv.Itoa(h), `" role="img" aria-label="files per status for each protection">
`)
	for i, prop := range check.Properties {
		c := t[prop]
		y := 4 + i*rowH
		p.s(`<text x="0" y="`, strconv.Itoa(y+14), `" font-size="13" font-family="sans-serif">`, esc(prop), "</text>\n")
		x := float64(left)
		tot := c.total()
		for _, seg := range []struct {
			n     int
			color string
			what  string
		}{{c.pass, ColorPass, "pass"}, {c.fail, ColorFail, "fail"}, {c.unknown, ColorUnknown, "unknown"}, {c.na, ColorNA, "n/a"}} {
			if seg.n == 0 || tot == 0 {
				continue
			}
			wd := float64(width) * float64(seg.n) / float64(tot)
			p.s(`<rect class="seg-`, strings.ReplaceAll(seg.what, "/", ""), `" data-property="`, prop, `" data-count="`, strconv.Itoa(seg.n), `" x="`, strconv.FormatFloat(x, 'f', 2, 64), `" y="`, strconv.Itoa(y), `" width="`, strconv.FormatFloat(wd, 'f', 2, 64), `" height="`, strconv.Itoa(barH), `" fill="`, seg.color, `"><title>`, esc(prop), ": ", strconv.Itoa(seg.n), " ", seg.what, "</title></rect>\n")
			x += wd
		}
		if tot == 0 {
			p.s(`<rect x="`, strconv.Itoa(left), `" y="`, strconv.Itoa(y), `" width="`, strconv.Itoa(width), `" height="`, strconv.Itoa(barH), `" fill="#eeeeee"/>`, "\n")
		}
		p.s(`<text x="`, strconv.Itoa(left+width+6), `" y="`, strconv.Itoa(y+14), `" font-size="12" font-family="sans-serif">`, pct(c.pass, c.pass+c.fail+c.unknown), "</text>\n")
	}
	ly := strconv.Itoa(h - 8)
	lx := left
	for _, l := range []struct{ color, what string }{{ColorPass, "pass"}, {ColorFail, "fail"}, {ColorUnknown, "unknown"}, {ColorNA, "n/a"}} {
		p.s(`<rect x="`, strconv.Itoa(lx), `" y="`, strconv.Itoa(h-18), `" width="12" height="12" fill="`, l.color, `"/><text x="`, strconv.Itoa(lx+16), `" y="`, ly, `" font-size="12" font-family="sans-serif">`, l.what, "</text>\n")
		lx += 90
	}
	p.s("</svg>\n<p>Percentages: passing files among those the property applies to.</p>\n")
}

// writePackages: one row per package (files outside packages are grouped as
// "(files)"), with the pass rate of each protection.
func writePackages(p *pageWriter, rep *check.Report) {
	var names []string
	groups := map[string][]check.FileReport{}
	for _, f := range rep.Files {
		k := f.Package
		if k == "" {
			k = "(files)"
		}
		if _, ok := groups[k]; !ok {
			names = append(names, k)
		}
		groups[k] = append(groups[k], f)
	}
	sort.Strings(names)
	p.s(`<h2>Per package</h2>
<table id="packages"><tr><th>package</th><th>ELF files</th><th>failed</th><th>unreadable</th>`)
	for _, prop := range check.Properties {
		p.s("<th>", prop, "</th>")
	}
	p.s("</tr>\n")
	for _, n := range names {
		files := groups[n]
		failed, bad := 0, 0
		for _, f := range files {
			if f.Error != "" {
				bad++
			} else if len(f.Failed) > 0 {
				failed++
			}
		}
		cls := "pass"
		if failed > 0 || bad > 0 {
			cls = "fail"
		}
		p.s(`<tr><td class="mono `, cls, `">`, esc(n), "</td><td>", strconv.Itoa(len(files)), "</td><td>", strconv.Itoa(failed), "</td><td>", strconv.Itoa(bad), "</td>")
		t := tally(files)
		for _, prop := range check.Properties {
			c := t[prop]
			applies := c.pass + c.fail + c.unknown
			if applies == 0 {
				p.s(`<td class="na">n/a</td>`)
				continue
			}
			w := 100 * c.pass / applies
			p.s(`<td title="`, strconv.Itoa(c.pass), "/", strconv.Itoa(applies), `"><span class="barbg"><span class="bar" style="width:`, strconv.Itoa(w), `px"></span></span> `, pct(c.pass, applies), "</td>")
		}
		p.s("</tr>\n")
	}
	p.s("</table>\n")
}

// writeBinaries: one row per ELF file, one cell per property; refused
// properties are marked.
func writeBinaries(p *pageWriter, rep *check.Report) {
	p.s(`<h2>Per binary</h2>
<table id="binaries"><tr><th>file</th><th>kind</th><th>verdict</th>`)
	for _, prop := range check.Properties {
		p.s("<th>", prop, "</th>")
	}
	p.s("</tr>\n")
	for i := range rep.Files {
		f := &rep.Files[i]
		if f.Error != "" {
			p.s(`<tr><td class="mono">`, esc(f.Path), `</td><td></td><td class="fail" colspan="`, strconv.Itoa(len(check.Properties)+1), `">unreadable: `, esc(f.Error), "</td></tr>\n")
			continue
		}
		v, cls := "pass", "pass"
		if len(f.Failed) > 0 {
			v, cls = "fail", "fail"
		}
		p.s(`<tr><td class="mono">`, esc(f.Path), "</td><td>", esc(f.Kind), `</td><td class="`, cls, `">`, v, "</td>")
		for _, prop := range check.Properties {
			r, _ := f.Result(prop)
			cls := "na"
			switch {
			case slices.Contains(f.Failed, prop):
				cls = "fail"
			case r.Status == check.Pass:
				cls = "pass"
			case r.Status == check.Unknown:
				cls = "unknown"
			case r.Status == check.Fail:
				cls = "off" // measured absent, not asked for by the policy
			}
			p.s(`<td class="`, cls, `" title="`, esc(r.Value), `">`, esc(string(r.Status)), "</td>")
		}
		p.s("</tr>\n")
	}
	p.s("</table>\n")
}

// writeLists: the functions lacking a canary, those lacking a bounds check
// in files built with BoundsGuard, and FormatGuard's call sites, per file.
func writeLists(p *pageWriter, rep *check.Report) {
	p.s(`<h2>Functions that lack a canary</h2>
<table id="missing-canary"><tr><th>file</th><th>functions</th></tr>
`)
	n := 0
	for i := range rep.Files {
		f := &rep.Files[i]
		r, _ := f.Result(check.PCanary)
		if m := r.Lists["missing"]; len(m) > 0 {
			n++
			p.s(`<tr><td class="mono">`, esc(f.Path), `</td><td class="mono">`, esc(strings.Join(m, " ")), "</td></tr>\n")
		}
	}
	p.s("</table>\n")
	if n == 0 {
		p.s("<p>None: every function that needs a canary has one (or the files do not let us tell).</p>\n")
	}
	p.s(`<h2>Functions that index a stack array without a bounds check</h2>
<p>In files built with BoundsGuard (some functions hold a bounds check), the functions that index an array on their stack with an index the code does not bound and hold none: code built without BoundsGuard, or accesses check cannot see proved in range (docs/boundsguard.md).</p>
<table id="unchecked-bounds"><tr><th>file</th><th>functions</th></tr>
`)
	n = 0
	for i := range rep.Files {
		f := &rep.Files[i]
		r, _ := f.Result(check.PBounds)
		if m := r.Lists["unchecked"]; len(m) > 0 && len(r.Lists["checked"]) > 0 {
			n++
			p.s(`<tr><td class="mono">`, esc(f.Path), `</td><td class="mono">`, esc(strings.Join(m, " ")), "</td></tr>\n")
		}
	}
	p.s("</table>\n")
	if n == 0 {
		p.s("<p>None.</p>\n")
	}
	p.s(`<h2>FormatGuard call sites</h2>
<p>Per file, the printf-family functions called through their FormatGuard checker (wrapped), without one (bare) and with a va_list.</p>
<table id="formatguard"><tr><th>file</th><th>status</th><th>wrapped</th><th>bare</th><th>va_list</th></tr>
`)
	for i := range rep.Files {
		f := &rep.Files[i]
		r, ok := f.Result(check.PFormatGuard)
		if !ok || len(r.Lists) == 0 {
			continue
		}
		cls := "pass"
		if slices.Contains(f.Failed, check.PFormatGuard) {
			cls = "fail"
		}
		p.s(`<tr><td class="mono">`, esc(f.Path), `</td><td class="`, cls, `">`, esc(string(r.Status)), `</td><td class="mono">`, esc(strings.Join(r.Lists["wrapped"], " ")),
			`</td><td class="mono">`, esc(strings.Join(r.Lists["bare"], " ")), `</td><td class="mono">`, esc(strings.Join(r.Lists["va_list"], " ")), "</td></tr>\n")
	}
	p.s("</table>\n")
}
