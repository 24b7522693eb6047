package checktest

import (
	"os"
	"testing"

	"github.com/immunix/immunix/check/elfacts"
)

// functionClasses returns the canary class of every named function in path.
func functionClasses(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fa, err := elfacts.Read(f, st.Size(), elfacts.Options{Functions: true})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]string{}
	for _, fn := range fa.Canary.Funcs {
		if fn.Name != "" {
			out[fn.Name] = string(fn.Class)
		}
	}
	return out
}
