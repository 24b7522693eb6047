package elfacts

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/immunix/immunix/internal/testenv"
)

// TestGNUPropertyNote: IBT and SHSTK are read from the .note.gnu.property
// the compiler writes into an object, for -fcf-protection=full, =branch
// and =none. (A linked program keeps a bit only when every input has it:
// Debian 12's C start files have none, so its programs show none.)
func TestGNUPropertyNote(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	dir := t.TempDir()
	src := filepath.Join(dir, "m.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag        string
		ibt, shstk  bool
		hasProperty bool
	}{
		{"-fcf-protection=full", true, true, true},
		{"-fcf-protection=branch", true, false, true},
		{"-fcf-protection=none", false, false, false},
	} {
		exe := filepath.Join(dir, c.flag[len("-fcf-protection="):]+".o")
		if out, err := exec.Command("gcc", "-O2", "-c", c.flag, src, "-o", exe).CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", c.flag, err, out)
		}
		f, err := os.Open(exe)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		fa, err := Read(f, st.Size(), Options{})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if fa.IBT != c.ibt || fa.SHSTK != c.shstk || c.hasProperty && !fa.GNUProperty {
			t.Errorf("%s: IBT %v SHSTK %v property %v; want IBT %v SHSTK %v", c.flag, fa.IBT, fa.SHSTK, fa.GNUProperty, c.ibt, c.shstk)
		}
	}
}
