package htmlreport

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/immunix/immunix/check"
)

// fixture is a report of three files: one passing, one refused for its
// canary (two functions lack one) and FormatGuard, one unreadable, the
// refused one inside a package.
func fixture() *check.Report {
	res := func(canary, fg check.Status, missing ...string) []check.Result {
		var out []check.Result
		for _, p := range check.Properties {
			r := check.Result{Property: p, Status: check.Pass, Value: "ok"}
			switch p {
			case check.PCanary:
				r.Status = canary
				if len(missing) > 0 {
					r.Lists = map[string][]string{"missing": missing}
				}
			case check.PFormatGuard:
				r.Status = fg
				r.Lists = map[string][]string{"wrapped": {"printf"}, "bare": {"syslog"}}
			case check.PCET:
				r.Status = check.NA
			case check.PBounds:
				if canary == check.Fail {
					r.Status, r.Value = check.Unknown, "partial"
					r.Lists = map[string][]string{"checked": {"parse"}, "unchecked": {"copy_<i>name</i>"}}
				}
			}
			out = append(out, r)
		}
		return out
	}
	return &check.Report{
		Level: "immunix", Policy: "immunix: canary formatguard",
		Files: []check.FileReport{
			{Path: "/bin/good", Kind: "pie-executable", Results: res(check.Pass, check.Pass)},
			{Path: "pkg_1.0_amd64.deb!./usr/bin/bad<script>alert(1)</script>", Package: "pkg_1.0_amd64.deb", Kind: "pie-executable",
				Results: res(check.Fail, check.Fail, "parse_header", "read_<b>line</b>"), Failed: []string{check.PCanary, check.PFormatGuard}},
			{Path: "/bin/broken", Error: "truncated ELF header"},
		},
		Summary: check.Summary{Files: 3, Passed: 1, Failed: 1, Errors: 1},
	}
}

func render(t *testing.T, rep, base *check.Report) (string, *html.Node) {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, rep, base); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), doc
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, k string) string {
	for _, a := range n.Attr {
		if a.Key == k {
			return a.Val
		}
	}
	return ""
}

func byID(doc *html.Node, id string) *html.Node {
	var out *html.Node
	walk(doc, func(n *html.Node) {
		if out == nil && n.Type == html.ElementNode && attr(n, "id") == id {
			out = n
		}
	})
	return out
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

// TestSelfContained: no script, no external resource, and a file name
// carrying markup (a hostile package member) stays text.
func TestSelfContained(t *testing.T) {
	page, doc := render(t, fixture(), nil)
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script", "link", "iframe", "img", "object", "embed", "b":
			if n.Data == "b" && !strings.Contains(text(n), "<") && attr(n, "class") == "" && n.Parent != nil && n.Parent.Data == "p" {
				return // the policy name in the header
			}
			t.Errorf("element <%s> in the page (%q)", n.Data, text(n))
		}
		for _, a := range n.Attr {
			if (a.Key == "src" || a.Key == "href" || strings.HasPrefix(a.Key, "on")) || (strings.Contains(a.Val, "://") && a.Key != "xmlns") {
				t.Errorf("<%s %s=%q>: the page must need nothing from outside", n.Data, a.Key, a.Val)
			}
		}
	})
	if !strings.Contains(page, "bad&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(page, "read_&lt;b&gt;line&lt;/b&gt;") {
		t.Errorf("hostile names not escaped")
	}
}

// TestChart: one stacked bar per property whose segments count the files
// and share the bar's width in proportion.
func TestChart(t *testing.T) {
	_, doc := render(t, fixture(), nil)
	svg := byID(doc, ChartID)
	if svg == nil || svg.Data != "svg" {
		t.Fatalf("no <svg id=%s>", ChartID)
	}
	widths := map[string]float64{}
	counts := map[string]map[string]int{}
	walk(svg, func(n *html.Node) {
		p := attr(n, "data-property")
		if n.Data != "rect" || p == "" {
			return
		}
		w, _ := strconv.ParseFloat(attr(n, "width"), 64)
		c, _ := strconv.Atoi(attr(n, "data-count"))
		widths[p] += w
		if counts[p] == nil {
			counts[p] = map[string]int{}
		}
		counts[p][attr(n, "class")] += c
	})
	for _, p := range check.Properties {
		if widths[p] < 559 || widths[p] > 561 {
			t.Errorf("%s: bar width %.2f, want 560", p, widths[p])
		}
	}
	if c := counts[check.PCanary]; c["seg-pass"] != 1 || c["seg-fail"] != 1 || len(c) != 2 {
		t.Errorf("canary segments %v, want one pass and one fail (the unreadable file has no verdict)", c)
	}
	if c := counts[check.PCET]; c["seg-na"] != 2 {
		t.Errorf("cet segments %v", c)
	}
}

// TestTables: per package, per binary, the functions lacking a canary or
// a bounds check and FormatGuard's call sites.
func TestTables(t *testing.T) {
	_, doc := render(t, fixture(), nil)
	for id, want := range map[string][]string{
		"packages":         {"(files)", "pkg_1.0_amd64.deb"},
		"binaries":         {"/bin/good", "/bin/broken", "unreadable: truncated ELF header"},
		"missing-canary":   {"parse_header read_<b>line</b>"},
		"unchecked-bounds": {"copy_<i>name</i>"},
		"formatguard":      {"printf", "syslog"},
	} {
		n := byID(doc, id)
		if n == nil {
			t.Errorf("no #%s", id)
			continue
		}
		for _, w := range want {
			if !strings.Contains(text(n), w) {
				t.Errorf("#%s lacks %q:\n%s", id, w, text(n))
			}
		}
	}
}

// TestBaseline: against an earlier report, new failures come first; fixed,
// new and gone files follow.
func TestBaseline(t *testing.T) {
	base := fixture()
	rep := fixture()
	// In the baseline, bad failed only its canary, /bin/gone existed and
	// /bin/good failed its PIE; now good passes and bad also fails FormatGuard.
	base.Files[1].Failed = []string{check.PCanary}
	base.Files[0].Failed = []string{check.PPIE}
	base.Files = append(base.Files, check.FileReport{Path: "/bin/gone", Results: base.Files[0].Results})
	rep.Files = append(rep.Files, check.FileReport{Path: "/bin/new", Results: rep.Files[1].Results, Failed: []string{check.PStamp}})
	var js bytes.Buffer
	if err := check.WriteJSON(&js, base); err != nil {
		t.Fatal(err)
	}
	old, err := ReadBaseline(&js)
	if err != nil {
		t.Fatal(err)
	}
	_, doc := render(t, rep, old)
	tbl := byID(doc, "changes-table")
	if tbl == nil {
		t.Fatal("no #changes-table")
	}
	var rows []string
	walk(tbl, func(n *html.Node) {
		if n.Data == "tr" && attr(n, "class") != "" {
			var cells []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Data == "td" {
					cells = append(cells, text(c))
				}
			}
			rows = append(rows, attr(n, "class")+": "+strings.Join(cells, " | "))
		}
	})
	want := []string{
		"new-failure: new failure | /bin/new | stamp | ok",
		"new-failure: new failure | pkg_1.0_amd64.deb!./usr/bin/bad<script>alert(1)</script> | formatguard | ok",
		"fixed: fixed | /bin/good | pie | ok",
		"new-file: new file | /bin/new |  | fails stamp",
		"gone: gone | /bin/gone |  | passes",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadBaselineRefuses(t *testing.T) {
	for _, in := range []string{"", "{", "[]", `{"tool":"other","schemaVersion":1}`, `{"tool":"immunix check","schemaVersion":99}`, `{"tool":"immunix check","schemaVersion":1,"files":"x"}`} {
		if _, err := ReadBaseline(strings.NewReader(in)); err == nil {
			t.Errorf("ReadBaseline(%q) accepted", in)
		}
	}
}

func FuzzReadBaseline(f *testing.F) {
	var js bytes.Buffer
	check.WriteJSON(&js, fixture())
	f.Add(js.Bytes())
	f.Add([]byte(`{"tool":"immunix check","schemaVersion":1,"files":[{"path":"x","failed":["canary"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		base, err := ReadBaseline(bytes.NewReader(data))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Write(&b, fixture(), base); err != nil {
			t.Fatal(err)
		}
		if _, err := html.Parse(&b); err != nil {
			t.Fatal(err)
		}
	})
}
