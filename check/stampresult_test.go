package check

import (
	"strings"
	"testing"

	"github.com/immunix/immunix/check/elfacts"
	"github.com/immunix/immunix/internal/stamp"
)

// TestStampResultRuntimeDropped (issue 14 item 2): a program whose guard
// runtime immunix-cc could not link fails the stamp property, whether the
// stamp confesses it (failed=runtime) or the code shows it (libc's
// __stack_chk_fail imported, which the runtime would have defined).
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
		{"code shows it", elfacts.Facts{Kind: elfacts.KindPIE, Imports: []string{"__stack_chk_fail"}, Stamps: []stamp.Stamp{compile, link}}, Fail, "failed=runtime"},
		{"object file", elfacts.Facts{Kind: elfacts.KindObject, Imports: []string{"__stack_chk_fail"}, Stamps: []stamp.Stamp{compile}}, Pass, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := stampResult(&tc.facts)
			if r.Status != tc.status || !strings.Contains(r.Value, tc.contain) {
				t.Errorf("stamp result %s %q, want %s containing %q", r.Status, r.Value, tc.status, tc.contain)
			}
		})
	}
}
