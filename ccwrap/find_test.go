package ccwrap

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// fakeFS describes a file system: each path maps to the file it resolves to
// (symlinks are written "link -> target"). Files named "immunix-cc" are us.
type fakeFS map[string]string

func (f fakeFS) lookup(path string) Lookup {
	ids := map[string]FileID{}
	resolve := func(p string) (string, error) {
		for i := 0; i < 10; i++ {
			t, ok := f[p]
			if !ok {
				return "", &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
			}
			if t == "" {
				return p, nil
			}
			p = t
		}
		return "", errors.New("symlink loop")
	}
	return Lookup{
		PATH:    path,
		Resolve: resolve,
		Stat: func(p string) (FileID, bool, error) {
			r, err := resolve(filepath.Clean(p))
			if err != nil {
				return FileID{}, false, err
			}
			id, ok := ids[r]
			if !ok {
				id = FileID{Dev: 1, Ino: uint64(len(ids) + 1)}
				ids[r] = id
			}
			return id, true, nil
		},
	}
}

func TestFind(t *testing.T) {
	system := fakeFS{
		"/opt/immunix/bin/immunix-cc":      "",
		"/opt/immunix/bin/immunix-c++":     "/opt/immunix/bin/immunix-cc",
		"/imx/gcc":                         "/opt/immunix/bin/immunix-cc",
		"/imx/g++":                         "/opt/immunix/bin/immunix-cc",
		"/imx/x86_64-linux-gnu-gcc-12":     "/opt/immunix/bin/immunix-cc",
		"/imx/cc":                          "/opt/immunix/bin/immunix-cc",
		"/imx2/gcc":                        "/opt/immunix/bin/immunix-cc",
		"/usr/bin/ccache":                  "",
		"/usr/lib/ccache/gcc":              "/usr/bin/ccache",
		"/usr/bin/distcc":                  "",
		"/usr/bin/gcc":                     "/usr/bin/gcc-12",
		"/usr/bin/gcc-12":                  "/usr/bin/x86_64-linux-gnu-gcc-12",
		"/usr/bin/x86_64-linux-gnu-gcc-12": "",
		"/usr/bin/g++":                     "",
		"/usr/bin/cc":                      "/usr/bin/gcc",
		"/usr/bin/c++":                     "/usr/bin/g++",
		"/usr/bin/clang":                   "",
		"/wrap/gcc":                        "", // a wrapper script that runs "gcc" from PATH
	}
	tests := []struct {
		name    string
		argv0   string
		path    string
		env     string // IMMUNIX_CC
		visited string // MarkerEnv value; non-empty means re-entry
		reentry bool
		want    string // Argv(nil) joined, or "error: ..." substring
	}{
		{"default cc", "immunix-cc", "/imx:/usr/bin", "", "", false, "/usr/bin/cc"},
		{"default c++", "immunix-c++", "/usr/bin", "", "", false, "/usr/bin/c++"},
		{"our name with a suffix", "/opt/immunix/bin/immunix-cc-0.1", "/usr/bin", "", "", false, "/usr/bin/cc"},
		{"our C++ name with a suffix", "immunix-c++.real", "/usr/bin", "", "", false, "/usr/bin/c++"},
		{"masquerade gcc", "/imx/gcc", "/imx:/usr/bin", "", "", false, "/usr/bin/gcc"},
		{"masquerade versioned", "x86_64-linux-gnu-gcc-12", "/imx:/usr/bin", "", "", false, "/usr/bin/x86_64-linux-gnu-gcc-12"},
		{"masquerade g++", "g++", "/imx:/usr/bin", "", "", false, "/usr/bin/g++"},
		{"two of us in PATH", "gcc", "/imx:/imx2:/usr/bin", "", "", false, "/usr/bin/gcc"},
		{"IMMUNIX_CC plain", "immunix-cc", "/imx:/usr/bin", "clang", "", false, "/usr/bin/clang"},
		{"IMMUNIX_CC names us through PATH", "immunix-cc", "/imx:/usr/bin", "gcc", "", false, "/usr/bin/gcc"},
		{"IMMUNIX_CC absolute us", "immunix-cc", "/usr/bin", "/imx/gcc", "", false, "error: recursion"},
		{"IMMUNIX_CC ccache prefix", "immunix-cc", "/imx:/usr/bin", "ccache gcc", "", false, "/usr/bin/ccache /usr/bin/gcc"},
		{"IMMUNIX_CC ccache skips ccache dir", "immunix-cc", "/usr/lib/ccache:/usr/bin", "ccache gcc", "", false, "/usr/bin/ccache /usr/bin/gcc"},
		{"IMMUNIX_CC distcc prefix", "immunix-cc", "/usr/bin", "distcc gcc", "", false, "/usr/bin/distcc /usr/bin/gcc"},
		{"IMMUNIX_CC launcher alone", "immunix-cc", "/usr/bin", "ccache", "", false, "error: usage"},
		{"re-entry drops the launcher", "immunix-cc", "/usr/bin", "ccache gcc", "/usr/bin/ccache", true, "/usr/bin/gcc"},
		{"ccache dir after us", "gcc", "/imx:/usr/lib/ccache:/usr/bin", "", "", false, "/usr/lib/ccache/gcc"},
		{"ccache dir after us, called back", "gcc", "/imx:/usr/lib/ccache:/usr/bin", "", "/usr/lib/ccache/gcc", true, "/usr/bin/gcc"},
		{"ccache dir before us", "gcc", "/usr/lib/ccache:/imx:/usr/bin", "", "", false, "/usr/bin/gcc"},
		{"ccache dir before us, called back", "gcc", "/usr/lib/ccache:/imx:/usr/bin", "", "/usr/lib/ccache/gcc", true, "/usr/bin/gcc"},
		{"wrapper script, called back", "gcc", "/imx:/wrap:/usr/bin", "", "/wrap/gcc", true, "/usr/bin/gcc"},
		{"loop: only wrappers left", "gcc", "/imx:/wrap", "", "/wrap/gcc", true, "error: recursion"},
		{"only us in PATH", "gcc", "/imx:/imx2", "", "", false, "error: compiler not found"},
		{"missing compiler", "immunix-cc", "/nowhere", "", "", false, "error: compiler not found"},
		{"missing IMMUNIX_CC", "immunix-cc", "/usr/bin", "gcc-99", "", false, "error: compiler not found"},
		{"too many hand-offs", "gcc", "/imx:/usr/bin", "", "/a:/b:/c:/d:/e:/f:/g:/h:/i", true, "error: recursion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lk := system.lookup(tt.path)
			self, _, _ := lk.Stat("/opt/immunix/bin/immunix-cc")
			f := Finder{Lookup: lk, Self: self, Reentry: tt.reentry}
			if tt.visited != "" {
				f.Visited = strings.Split(tt.visited, ":")
			}
			pol := Policy{}
			if tt.env != "" {
				pol.CC = strings.Fields(tt.env)
			}
			c, err := f.Find(tt.argv0, pol)
			got := strings.Join(c.Argv(nil), " ")
			if err != nil {
				got = "error: " + err.Error()
			}
			if got != tt.want && !(strings.HasPrefix(tt.want, "error: ") && strings.HasPrefix(got, "error: ") && strings.Contains(got, tt.want[len("error: "):])) {
				t.Errorf("Find(%q) with PATH=%s IMMUNIX_CC=%q visited=%q\n got %s\nwant %s", tt.argv0, tt.path, tt.env, tt.visited, got, tt.want)
			}
		})
	}
}

func TestFindMasqueradeLauncherKeepsRealCompiler(t *testing.T) {
	system := fakeFS{"/me": "", "/imx/gcc": "/me", "/usr/bin/ccache": "", "/usr/lib/ccache/gcc": "/usr/bin/ccache", "/usr/bin/gcc": ""}
	lk := system.lookup("/imx:/usr/lib/ccache:/usr/bin")
	self, _, _ := lk.Stat("/me")
	c, err := (&Finder{Lookup: lk, Self: self}).Find("gcc", Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Exec() != "/usr/lib/ccache/gcc" || c.Cmd[0] != "/usr/bin/gcc" || !c.LauncherFinds {
		t.Errorf("got %+v: want to run the ccache link and probe /usr/bin/gcc", c)
	}
}
