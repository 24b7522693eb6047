package contract

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseProtections(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    []Protection
		wantErr string
	}{
		{"", nil, ""},
		{"canary", []Protection{Canary}, ""},
		{" canary ,, pie ", []Protection{Canary, PIE}, ""},
		{"objsize,canary,objsize", []Protection{Canary, ObjSize}, ""},
		{"all", Protections, ""},
		{"Canary", nil, `unknown protection "Canary"`},
		{"canary,stack", nil, `unknown protection "stack"`},
	} {
		got, err := ParseProtections(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "known: canary,") {
				t.Errorf("%q: error %v, want one naming %s and the known names", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		var keys []Protection
		for p := range got {
			keys = append(keys, p)
		}
		if keys = Sorted(keys); !slices.Equal(keys, c.want) {
			t.Errorf("%q: %v, want %v", c.in, keys, c.want)
		}
	}
}

func TestTable(t *testing.T) {
	seen := map[Protection]bool{}
	for i, r := range Table {
		if seen[r.Protection] {
			t.Errorf("%s twice", r.Protection)
		}
		seen[r.Protection] = true
		if r.Side&(Compile|Link) == 0 || r.Side&^(Compile|Link) != 0 {
			t.Errorf("%s: side %v", r.Protection, r.Side)
		}
		if r.Does == "" {
			t.Errorf("%s: no meaning", r.Protection)
		}
		if Index(r.Protection) != i || Protections[i] != r.Protection {
			t.Errorf("%s: index %d, want %d", r.Protection, Index(r.Protection), i)
		}
		if _, ok := Lookup(r.Protection); !ok {
			t.Errorf("%s: Lookup fails", r.Protection)
		}
	}
	if Index("nope") != len(Table) {
		t.Errorf("Index of an unknown name: %d", Index("nope"))
	}
	if _, ok := Lookup("nope"); ok {
		t.Errorf("Lookup of an unknown name succeeds")
	}
}

func TestParseLevel(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Level
		ok   bool
	}{{"", LevelDefault, true}, {"default", LevelDefault, true}, {" MAX ", LevelMax, true}, {"high", 0, false}} {
		got, err := ParseLevel(c.in)
		if (err == nil) != c.ok || c.ok && got != c.want {
			t.Errorf("%q: %v %v", c.in, got, err)
		}
	}
	if LevelMax.String() != "max" || Level(7).String() != "Level(7)" {
		t.Errorf("Level strings: %s %s", LevelMax, Level(7))
	}
}

// TestContractsDoc: docs/contracts.md's "Protection names" table has one
// row per protection, in contract order, with the same side and meaning;
// a protection added to one and not the other fails here.
func TestContractsDoc(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "contracts.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "## Protection names")
	if start < 0 {
		t.Fatal("docs/contracts.md has no \"## Protection names\" section")
	}
	text = text[start:]
	if end := strings.Index(text[2:], "\n## "); end >= 0 {
		text = text[:end+2]
	}
	var rows []Row
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), " | ")
		if len(cells) != 3 {
			t.Errorf("row with %d cells: %q", len(cells), l)
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		side := map[string]Side{"compile": Compile, "link": Link, "compile, link": Compile | Link}[cells[2]]
		rows = append(rows, Row{Protection: Protection(strings.Trim(cells[0], "`")), Side: side, Does: cells[1]})
	}
	if len(rows) != len(Table) {
		t.Errorf("docs/contracts.md lists %d protections, the contract %d", len(rows), len(Table))
	}
	for i := 0; i < len(rows) && i < len(Table); i++ {
		d, c := rows[i], Table[i]
		if d.Protection != c.Protection || d.Side != c.Side || d.Does != c.Does {
			t.Errorf("row %d: docs say %s (%v) %q, the contract %s (%v) %q", i+1, d.Protection, d.Side, d.Does, c.Protection, c.Side, c.Does)
		}
	}
}
