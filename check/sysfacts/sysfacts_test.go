package sysfacts

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// fakeRoot writes files (sysctl name -> content) under a fresh directory
// laid out as /proc/sys is.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, strings.ReplaceAll(name, ".", "/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func byName(rep *Report) map[string]Fact {
	m := map[string]Fact{}
	for _, f := range rep.Facts {
		m[f.Name] = f
	}
	return m
}

func TestReadFakeRoot(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"fs.protected_symlinks":     "1\n",
		"fs.protected_hardlinks":    "0\n",
		"fs.protected_regular":      "2\n",
		"fs.protected_fifos":        " 7 \n",
		"kernel.randomize_va_space": "",
		// kernel.yama.ptrace_scope absent: no Yama in this kernel
	})
	rep := Read(root)
	if got := len(rep.Facts); got != len(Names()) {
		t.Fatalf("%d facts, want %d", got, len(Names()))
	}
	for i, f := range rep.Facts {
		if f.Name != Names()[i] {
			t.Errorf("fact %d is %s, want %s (order of Names)", i, f.Name, Names()[i])
		}
	}
	m := byName(rep)
	for _, c := range []struct {
		name, status, value, meaning string
	}{
		{"fs.protected_symlinks", StatusOK, "1", "followed only by its owner"},
		{"fs.protected_hardlinks", StatusOK, "0", "any user may hard-link"},
		{"fs.protected_regular", StatusOK, "2", "group-writable"},
		{"fs.protected_fifos", StatusUnknown, "7", "it knows 0, 1, 2"},
		{"kernel.randomize_va_space", StatusUnknown, "", "it knows 0, 1, 2"},
		{"kernel.yama.ptrace_scope", StatusAbsent, "", "no such setting"},
	} {
		f := m[c.name]
		if f.Status != c.status || f.Value != c.value || !strings.Contains(f.Meaning, c.meaning) {
			t.Errorf("%s = %+v, want status %s, value %q, meaning containing %q", c.name, f, c.status, c.value, c.meaning)
		}
		if f.Beside == "" {
			t.Errorf("%s: no word on what immunix adds beside it", c.name)
		}
	}
}

func TestReadUnreadable(t *testing.T) {
	root := fakeRoot(t, map[string]string{"fs.protected_regular": strings.Repeat("1", 5000)})
	if err := os.MkdirAll(filepath.Join(root, "fs", "protected_symlinks"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := byName(Read(root))
	for name, want := range map[string]string{
		"fs.protected_regular":  "longer than 4 KiB",
		"fs.protected_symlinks": "is a directory",
	} {
		if f := m[name]; f.Status != StatusError || !strings.Contains(f.Error, want) {
			t.Errorf("%s = %+v, want an error containing %q", name, f, want)
		}
	}
}

// TestReadRealProc compares Read("/proc/sys") with what sysctl(8) (procps)
// reports for each setting of the running kernel.
func TestReadRealProc(t *testing.T) {
	testenv.NeedsTool(t, "sysctl")
	for _, f := range Read(DefaultRoot).Facts {
		out, err := exec.Command("sysctl", "-n", f.Name).CombinedOutput()
		if err != nil {
			if f.Status != StatusAbsent {
				t.Errorf("%s: sysctl failed (%v: %s) but Read says %s", f.Name, err, bytes.TrimSpace(out), f.Status)
			}
			continue
		}
		if want := strings.TrimSpace(string(out)); f.Value != want || f.Status == StatusAbsent || f.Status == StatusError {
			t.Errorf("%s: Read says %s %q, sysctl -n says %q", f.Name, f.Status, f.Value, want)
		}
		if f.Status != StatusOK {
			t.Logf("%s = %q: a value this package does not know", f.Name, f.Value)
		}
	}
}

func TestWriters(t *testing.T) {
	rep := Read(fakeRoot(t, map[string]string{"fs.protected_symlinks": "0\n"}))
	var text, js bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fs.protected_symlinks = 0\n", "  means:  symlinks are followed wherever", "fs.protected_regular = absent\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not parse: %v\n%s", err, js.String())
	}
	if len(back.Facts) != len(rep.Facts) || back.Facts[0] != rep.Facts[0] {
		t.Errorf("JSON round trip: %+v, want %+v", back.Facts, rep.Facts)
	}
}

// FuzzRead: whatever a setting's file holds, Read reports it without
// panicking, and a value it calls ok is one it has a meaning for.
func FuzzRead(f *testing.F) {
	for _, s := range []string{"0\n", "1", " 2 \n", "", "\x00", "1\n2\n", strings.Repeat("9", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		root := fakeRoot(t, map[string]string{"fs.protected_regular": content})
		fact := byName(Read(root))["fs.protected_regular"]
		switch fact.Status {
		case StatusOK:
			if fact.Meaning == "" || fact.Value != strings.TrimSpace(content) {
				t.Errorf("ok without meaning or with a changed value: %+v", fact)
			}
		case StatusUnknown, StatusError:
		default:
			t.Errorf("status %q for a file that exists", fact.Status)
		}
	})
}
