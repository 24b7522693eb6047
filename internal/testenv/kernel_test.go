package testenv

import (
	"strings"
	"testing"
)

// TestProbeABI: the probe's verdict names the kernel's limit when the
// ABI does not run, and a second probe is the cached first.
func TestProbeABI(t *testing.T) {
	NeedsTool(t, "gcc")
	for _, abi := range []string{"-m32", "-mx32"} {
		t.Run(abi, func(t *testing.T) {
			r := ProbeABI(abi)
			if r.NoTool {
				Missing(t, r.Reason)
			}
			if !r.Runs && !strings.Contains(r.Reason, "does not execute "+abi) {
				t.Errorf("not run, but the reason does not name the kernel's limit: %q", r.Reason)
			}
			if r.Runs && r.Reason != "" {
				t.Errorf("runs, with a reason %q", r.Reason)
			}
			if again := ProbeABI(abi); again != r {
				t.Errorf("second probe %+v, first %+v", again, r)
			}
			t.Logf("%s: runs=%v %s", abi, r.Runs, r.Reason)
		})
	}
	if r := ProbeABI("-m16"); r.Runs || r.NoTool || !strings.Contains(r.Reason, "unknown") {
		t.Errorf("-m16: %+v, want an unknown-ABI reason", r)
	}
}
