package ccwrap

import "testing"

// TestRulesCoverProtections: every protection has exactly one rule for
// each side it applies to (PIE: compile and link), so a new protection
// without a row in Decide's table fails here.
func TestRulesCoverProtections(t *testing.T) {
	linkOnly := map[Protection]bool{RELRO: true, Now: true, NoExecStack: true, Runtime: true}
	for _, p := range Protections {
		want := map[side]int{}
		switch {
		case p == PIE:
			want[compileSide], want[linkSide] = 1, 1
		case linkOnly[p]:
			want[linkSide] = 1
		default:
			want[compileSide] = 1
		}
		got := map[side]int{}
		for _, r := range rules {
			if r.p == p {
				got[r.side]++
			}
		}
		for _, s := range []side{compileSide, linkSide} {
			if got[s] != want[s] {
				t.Errorf("%s: %d rules on side %d, want %d", p, got[s], s, want[s])
			}
		}
	}
	for _, r := range rules {
		if protectionIndex(r.p) == len(Protections) {
			t.Errorf("rule for unknown protection %q", r.p)
		}
	}
}
