package guardlib

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite sourcehash.go with the runtime sources' current hash")

func TestSourcesHash(t *testing.T) {
	_, h, err := sources()
	if err != nil {
		t.Fatal(err)
	}
	if h == sourcesHash {
		return
	}
	if !*update {
		t.Fatalf("sourcesHash is %s, the embedded runtime sources and flags hash to %s: run go test ./guardlib -run TestSourcesHash -update", sourcesHash, h)
	}
	src, err := os.ReadFile("sourcehash.go")
	if err != nil {
		t.Fatal(err)
	}
	old := []byte(`const sourcesHash = "` + sourcesHash + `"`)
	if !bytes.Contains(src, old) {
		t.Fatalf("sourcehash.go: no line %s", old)
	}
	if err := os.WriteFile("sourcehash.go", bytes.Replace(src, old, []byte(`const sourcesHash = "`+h+`"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}
