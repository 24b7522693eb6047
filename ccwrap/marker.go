package ccwrap

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// markerFDName is the name of the memory file that carries the recursion
// marker across exec and through wrappers that clear the environment
// (`env -i`, sudo's env_reset): an open file descriptor is inherited
// whatever happens to the environment. /proc/self/fd shows it as
// "/memfd:immunix-cc-active (deleted)".
const markerFDName = "immunix-cc-active"

const markerFDLink = "/memfd:" + markerFDName + " (deleted)"

// maxMarker bounds what is read from an inherited marker file.
const maxMarker = 64 << 10

// readMarkerFD looks for marker files among the inherited descriptors,
// returns the value of the last one found (the same colon-separated list as
// MarkerEnv) and closes them all, so they do not pile up along a chain.
func readMarkerFD() (value string, found bool) {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer unix.Close(dfd)
	var fds []int
	buf := make([]byte, 4096)
	link := make([]byte, len(markerFDLink)+1)
	for {
		n, err := unix.Getdents(dfd, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			fd, err := strconv.Atoi(name)
			if err != nil || fd <= 2 || fd == dfd {
				continue
			}
			m, err := unix.Readlinkat(dfd, name, link)
			if err == nil && m == len(markerFDLink) && string(link[:m]) == markerFDLink {
				fds = append(fds, fd)
			}
		}
	}
	for _, fd := range fds {
		data := make([]byte, maxMarker)
		n, err := unix.Pread(fd, data, 0)
		if err == nil && n > 0 {
			value, found = strings.TrimRight(string(data[:n]), "\x00"), true
		}
		unix.Close(fd)
	}
	return value, found
}

// markerFD is the marker file this immunix-cc hands on: created without
// close-on-exec, so the compiler it execs, the children it starts (the
// retry, the probes, the runtime build) and everything they exec inherit it.
type markerFD int

// newMarkerFD creates the marker file holding value; -1 when the kernel has
// no memfd (then only MarkerEnv carries the marker).
func newMarkerFD(value string) markerFD {
	fd, err := unix.MemfdCreate(markerFDName, 0)
	if err != nil {
		return -1
	}
	m := markerFD(fd)
	m.set(value)
	return m
}

// set replaces the marker's value.
func (m markerFD) set(value string) {
	if m < 0 {
		return
	}
	unix.Ftruncate(int(m), 0)             //nolint:errcheck // a memfd of our own
	unix.Pwrite(int(m), []byte(value), 0) //nolint:errcheck // a memfd of our own
}
