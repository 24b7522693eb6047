package guardlib

import (
	"flag"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite sourcehash.go with the runtime sources' current hash")

func TestSourcesHash(t *testing.T) {
	_, h, err := sources()
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case h == sourcesHash:
	case *update:
		testenv.RewriteStringConst(t, "sourcehash.go", "sourcesHash", sourcesHash, h)
	default:
		t.Fatalf("sourcesHash is %s, the embedded runtime sources and flags hash to %s: run go test ./guardlib -run TestSourcesHash -update", sourcesHash, h)
	}
}
