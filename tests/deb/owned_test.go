package deb

import (
	"slices"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestOwnedByOthers: the leftover filter keeps what would be immunix's
// leftovers and drops only what other packages own.
func TestOwnedByOthers(t *testing.T) {
	testenv.NeedsTool(t, "dpkg-query")
	got := OwnedByOthers([]string{
		"/usr/bin/dpkg",                     // dpkg's
		"/usr/lib/immunix/bin/gcc",          // under /usr/lib, shared: kept
		"/etc/immunix/immunix.conf",         // under /etc: kept
		"/var/lib/dpkg/info/immunix.list",   // immunix's database entry: kept
		"/var/lib/dpkg/info/dpkg.list",      // another package's: dropped
		"/usr/share/doc/dpkg/not-a-file-xy", // under a directory dpkg and dpkg-dev own: dropped
		"/usr/share/doc/dpkg/immunix-xy",    // but not when its name says immunix
	})
	want := []string{"/usr/lib/immunix/bin/gcc", "/etc/immunix/immunix.conf", "/var/lib/dpkg/info/immunix.list", "/usr/share/doc/dpkg/immunix-xy"}
	if !slices.Equal(got, want) {
		t.Errorf("OwnedByOthers kept %v, want %v", got, want)
	}
}
