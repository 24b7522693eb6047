// Package deb tests immunix's own Debian packages (debian/): built with
// dpkg-buildpackage through scripts/install.sh, linted, installed, used,
// removed and purged, leaving the system's file list as it was.
package deb

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// SnapshotRoots are the trees a package install may change.
var SnapshotRoots = []string{"/usr", "/etc", "/opt", "/var/lib"}

// snapshotSkip are the paths whose contents come and go without any package
// install (apt's lists, other processes' state, and /var/lib/immunix-tests,
// where tests/subdomain's workspaces come and go while another run of the
// suite shares the machine; neither package ever writes there).
var snapshotSkip = []string{"/var/lib/apt/lists", "/var/lib/systemd", "/var/lib/dhcp", "/var/lib/containers", "/var/lib/immunix-tests", "/usr/share/man/index.db"}

// Snapshot lists every path under roots (not following symbolic links), each
// with a one-letter type and, for regular files and links, size or target:
// what a package install adds, removes or replaces shows in the list.
func Snapshot(roots ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) || os.IsPermission(err) {
					return nil
				}
				return err
			}
			for _, s := range snapshotSkip {
				if p == s || strings.HasPrefix(p, s+"/") {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				t, _ := os.Readlink(p)
				out[p] = "l " + t
			case d.IsDir():
				out[p] = "d"
			default:
				out[p] = "f"
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Diff returns the paths added and removed between before and after.
func Diff(before, after map[string]string) (added, removed []string) {
	for p, v := range after {
		if w, ok := before[p]; !ok || w != v {
			added = append(added, p)
		}
	}
	for p, v := range before {
		if w, ok := after[p]; !ok || w != v {
			removed = append(removed, p)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}

// OwnedByOthers drops from paths those that belong to a package not named
// immunix*, and the dpkg database files of such packages: on a shared
// machine, another package may be installed or run while the test runs. A
// path no package owns and whose name does not say immunix is attributed to
// its nearest owned ancestor when at most two packages, none of them
// immunix's, own that directory (/usr/lib/chromium/extensions, made by
// chromium at run time, is chromium's and chromium-common's); under a
// directory many packages share (/usr/lib, /etc) it stays a leftover.
func OwnedByOthers(paths []string) []string {
	var keep []string
	for _, p := range paths {
		if rest, ok := strings.CutPrefix(p, "/var/lib/dpkg/info/"); ok {
			if strings.HasPrefix(rest, "immunix") {
				keep = append(keep, p)
			}
			continue
		}
		if strings.HasPrefix(p, "/var/lib/dpkg/") && !strings.HasPrefix(p, "/var/lib/dpkg/info/") {
			// status, available, triggers, their -old copies: dpkg's own
			// bookkeeping, rewritten by every run; the package list is
			// compared separately.
			continue
		}
		if owners := owners(p); len(owners) > 0 {
			if !slices.ContainsFunc(owners, func(o string) bool { return strings.HasPrefix(o, "immunix") }) {
				continue
			}
		} else if owners := nearestOwners(p); !strings.Contains(p, "immunix") && len(owners) > 0 && len(owners) <= 2 &&
			!slices.ContainsFunc(owners, func(o string) bool { return strings.HasPrefix(o, "immunix") }) {
			continue
		}
		keep = append(keep, p)
	}
	return keep
}

// owners lists the packages dpkg says own path.
func owners(path string) []string {
	out, err := exec.Command("dpkg-query", "-S", path).Output()
	if err != nil {
		return nil
	}
	var o []string
	for _, l := range strings.Split(string(out), "\n") {
		pk, p, ok := strings.Cut(l, ": ")
		if !ok || p != path {
			continue
		}
		for _, x := range strings.Split(pk, ",") {
			o = append(o, strings.TrimSpace(x))
		}
	}
	return o
}

// nearestOwners is owners of path's nearest ancestor that has any.
func nearestOwners(path string) []string {
	for d := filepath.Dir(path); d != "/" && d != "."; d = filepath.Dir(d) {
		if o := owners(d); len(o) > 0 {
			return o
		}
	}
	return nil
}

// Packages lists the installed packages (name and version).
func Packages() (map[string]string, error) {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${binary:Package} ${Version} ${db:Status-Abbrev}\n").Output()
	if err != nil {
		return nil, err
	}
	pk := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[2] != "un" {
			pk[f[0]] = f[1] + " " + f[2]
		}
	}
	return pk, nil
}
