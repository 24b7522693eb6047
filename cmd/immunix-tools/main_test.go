package main

import (
	"slices"
	"testing"

	"github.com/immunix/immunix/internal/cli"
)

// TestServesTools: immunix-tools serves exactly the commands the lean
// immunix forwards to it, and run (for run --complain).
func TestServesTools(t *testing.T) {
	want := []string{"run"}
	for _, c := range cli.Tools {
		want = append(want, c.Name)
	}
	slices.Sort(want)
	if got := registry.Names(); !slices.Equal(got, want) {
		t.Errorf("immunix-tools serves %v, immunix forwards %v", got, want)
	}
}
