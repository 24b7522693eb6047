package htmlreport

import (
	"bytes"
	"os"
	"testing"

	"github.com/immunix/immunix/check"
)

// benchReport is the report the benchmarks write: IMMUNIX_BENCH_REPORT (a
// JSON report of a large corpus, e.g. `immunix check -f json -o r.json -
// < list`), else the fixture repeated 2,000 times.
func benchReport(b *testing.B) *check.Report {
	if p := os.Getenv("IMMUNIX_BENCH_REPORT"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		rep, err := ReadBaseline(f)
		if err != nil {
			b.Fatal(err)
		}
		return rep
	}
	rep := fixture()
	files := rep.Files
	rep.Files = nil
	for range 2000 {
		rep.Files = append(rep.Files, files...)
	}
	return rep
}

// BenchmarkWriteHTML and BenchmarkWriteJSON: the cost of the format alone,
// on the same report (the scan is the same for both).
func BenchmarkWriteHTML(b *testing.B) {
	rep := benchReport(b)
	var n int64
	for b.Loop() {
		var buf bytes.Buffer
		if err := Write(&buf, rep, nil); err != nil {
			b.Fatal(err)
		}
		n = int64(buf.Len())
	}
	b.ReportMetric(float64(n), "bytes/report")
}

func BenchmarkWriteJSON(b *testing.B) {
	rep := benchReport(b)
	var n int64
	for b.Loop() {
		var buf bytes.Buffer
		if err := check.WriteJSON(&buf, rep); err != nil {
			b.Fatal(err)
		}
		n = int64(buf.Len())
	}
	b.ReportMetric(float64(n), "bytes/report")
}
