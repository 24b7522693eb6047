package check

import (
	"strings"
	"testing"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/internal/stamp"
)

// TestStampResultRuntimeDropped (issue 14 item 2): a program whose guard
// runtime immunix-cc could not link fails the stamp property: the stamp
// confesses it (failed=runtime).
func TestStampResultRuntimeDropped(t *testing.T) {
	compile := stamp.Stamp{Type: stamp.Compile, Version: "0.1.0", On: []string{"canary", "fortify", "formatguard"}, Fortify: 3, Lang: "c"}
	link := stamp.Stamp{Type: stamp.Link, Version: "0.1.0", On: []string{"pie", "relro", "now", "runtime"}}
	dropped := stamp.Stamp{Type: stamp.Link, Version: "0.1.0", On: []string{"pie", "relro", "now"}, Failed: []string{"runtime"}}
	for _, tc := range []struct {
		name    string
		facts   elfacts.Facts
		status  Status
		contain string
	}{
		{"runtime linked", elfacts.Facts{Kind: elfacts.KindPIE, Stamps: []stamp.Stamp{compile, link}}, Pass, ""},
		{"stamp confesses", elfacts.Facts{Kind: elfacts.KindPIE, Stamps: []stamp.Stamp{compile, dropped}}, Fail, "failed=runtime"},
		// Importing __stack_chk_fail is no proof of a missing runtime: a
		// program linked against an immunix-built shared library binds to
		// the library's copy (issue 18 item 5).
		{"imports the canary handler", elfacts.Facts{Kind: elfacts.KindPIE, Imports: []string{"__stack_chk_fail"}, Stamps: []stamp.Stamp{compile, link}}, Pass, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stampResult(&tc.facts)
			if r.Status != tc.status || !strings.Contains(r.Value, tc.contain) {
				t.Errorf("stamp result %s %q, want %s containing %q", r.Status, r.Value, tc.status, tc.contain)
			}
		})
	}
}

// TestStampResultOnList: the "on" list holds what every stamp of its kind
// records (contract.Table's side): a compile-side protection when every
// compile note has it, a link-side one when every link note does, pie
// (both sides) when every note does. Before the contract owned the sides,
// a hand-written list left out the level protections (bounds,
// autoinit...), and link-side ones were listed only for a file with no
// compile note.
func TestStampResultOnList(t *testing.T) {
	compile := stamp.Stamp{Type: stamp.Compile, Version: "0.1.0", On: []string{"canary", "fortify", "formatguard", "pie", "bounds", "autoinit"}, Fortify: 3, Lang: "c"}
	partial := stamp.Stamp{Type: stamp.Compile, Version: "0.1.0", On: []string{"canary", "fortify", "formatguard", "pie"}, Fortify: 3, Lang: "c"}
	link := stamp.Stamp{Type: stamp.Link, Version: "0.1.0", On: []string{"pie", "relro", "now", "runtime"}}
	for _, tc := range []struct {
		name   string
		stamps []stamp.Stamp
		want   string
	}{
		{"every unit at max", []stamp.Stamp{compile, compile, link}, "autoinit,bounds,canary,formatguard,fortify,now,pie,relro,runtime"},
		{"one unit without bounds", []stamp.Stamp{compile, partial, link}, "canary,formatguard,fortify,now,pie,relro,runtime"},
		{"link only", []stamp.Stamp{link}, "now,pie,relro,runtime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stampResult(&elfacts.Facts{Kind: elfacts.KindPIE, Stamps: tc.stamps})
			if got := strings.Join(r.Lists["on"], ","); got != tc.want {
				t.Errorf("on = %s, want %s", got, tc.want)
			}
		})
	}
}
