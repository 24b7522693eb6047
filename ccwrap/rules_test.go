package ccwrap

import (
	"testing"

	"github.com/immunix/immunix/internal/contract"
)

// TestRulesCoverProtections: every protection has exactly one rule for
// each side the contract gives it (PIE: compile and link), so a new
// protection without a row in Decide's table fails here.
func TestRulesCoverProtections(t *testing.T) {
	for _, row := range contract.Table {
		got := map[side]int{}
		for _, r := range rules {
			if r.p == row.Protection {
				got[r.side]++
			}
		}
		for _, s := range []side{compileSide, linkSide} {
			want := 0
			if row.Side&s != 0 {
				want = 1
			}
			if got[s] != want {
				t.Errorf("%s: %d rules on the %s side, want %d", row.Protection, got[s], s, want)
			}
		}
	}
	for _, r := range rules {
		if contract.Index(r.p) == len(contract.Table) {
			t.Errorf("rule for unknown protection %q", r.p)
		}
	}
}
