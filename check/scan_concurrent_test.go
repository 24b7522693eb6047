package check

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestScanConcurrentScans: a Scanner is not changed by scanning, so two
// scans of one Scanner at once give the reports each gives alone (run
// with -race).
func TestScanConcurrentScans(t *testing.T) {
	var inputs []string
	for _, p := range []string{"/usr/bin/true", "/usr/bin/env", "/usr/bin/cat"} {
		if _, err := exec.LookPath(p); err == nil {
			inputs = append(inputs, p)
		}
	}
	if len(inputs) == 0 {
		t.Skip("no system program to scan")
	}
	inputs = append(inputs, filepath.Join(t.TempDir(), "missing"))
	pol, err := NewPolicy(Strong)
	if err != nil {
		t.Fatal(err)
	}
	sc := &Scanner{Policy: pol, Code: true, Workers: 2}
	alone, _ := json.Marshal(sc.Scan(inputs))
	var wg sync.WaitGroup
	got := make([][]byte, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = json.Marshal(sc.Scan(inputs))
		}()
	}
	wg.Wait()
	for i, g := range got {
		if string(g) != string(alone) {
			t.Errorf("scan %d at once differs from the scan alone:\n%s\nwant\n%s", i, g, alone)
		}
	}
}
