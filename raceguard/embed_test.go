package raceguard

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestWrappersMatchSource: Wrappers names exactly the functions the C
// source defines as RG_WEAK, and the initialiser resolves each with dlsym.
func TestWrappersMatchSource(t *testing.T) {
	src, err := fs.ReadFile(Sources, "runtime/raceguard.c")
	if err != nil {
		t.Fatal(err)
	}
	def := regexp.MustCompile(`(?m)^RG_WEAK [A-Za-z_ *]*?\b(\w+)\(`)
	var got []string
	for _, m := range def.FindAllStringSubmatch(string(src), -1) {
		if !slices.Contains(got, m[1]) {
			got = append(got, m[1])
		}
	}
	want := slices.Clone(Wrappers)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("C defines %v\nWrappers lists %v", got, want)
	}
	init := string(src)[strings.Index(string(src), "static const char *const names[]"):]
	for _, w := range Wrappers {
		if !strings.Contains(init, `"`+w+`"`) {
			t.Errorf("the initialiser does not resolve %s", w)
		}
	}
	for _, r := range Required {
		if !slices.Contains(Wrappers, r) {
			t.Errorf("required %s is not a wrapper", r)
		}
	}
}

func TestDynamicList(t *testing.T) {
	l := DynamicList()
	if !strings.HasPrefix(l, "{\n  "+Marker+";\n") || !strings.HasSuffix(l, "};\n") || !strings.Contains(l, "  open;\n") {
		t.Errorf("dynamic list:\n%s", l)
	}
}
