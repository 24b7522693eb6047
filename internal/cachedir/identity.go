package cachedir

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The identity record lets Verify skip reading a cache entry's files on
// every use (a compile through immunix-cc verifies the FormatGuard headers
// and the guard runtime each time: about 50 and 140 KB hashed per call,
// measured in BENCHMARKS.md). It sits beside the entry, as DIR.ident (like
// DIR.lock), so an entry's own contents and its manifest keep their format,
// and says, for each file whose SHA-256 was last read: the device, inode,
// size, modification and change time the file had when it was opened to be
// read, and that sum.
//
// A file is trusted without reading only when all five agree with lstat
// now. The change time is set by the kernel to the current time on every
// write, truncation, rename over, chmod or chown, and user space cannot set
// it, so a file changed after it was read no longer matches. A file is put
// in the record only when its change time is at least identityMinAge older
// than the moment the record is written: a write that lands in the same
// clock tick as the read (the kernel's file times are coarse, a few
// milliseconds) would otherwise leave the change time the record holds; a
// change made after the read gets a change time of "now", which then
// differs from the old one recorded. Newer files are simply read again the
// next time, and recorded then.
//
// The record is written by the owner of the cache, in a directory nobody
// else can write (Secure), and is read with the same ownership checks as
// the entry's files; a record that is missing, unreadable, of another
// format or for another key is ignored: every file is read.

// timeNow is the clock recordIdentities reads (tests move it).
var timeNow = time.Now

// identityMinAge is how old a file's change time must be to be recorded.
const identityMinAge = time.Second

const identityHeader = "immunix-cache-identity 1"

// identitySuffix names the record beside an entry.
const identitySuffix = ".ident"

// identity is one file of an entry as it was when its sum was read.
type identity struct {
	path                 string
	dev, ino             uint64
	size                 int64
	mtimeNsec, ctimeNsec int64
	sum                  string
}

func identityOf(rel string, st *unix.Stat_t, sum string) identity {
	return identity{
		path:      rel,
		dev:       st.Dev,
		ino:       st.Ino,
		size:      st.Size,
		mtimeNsec: st.Mtim.Nano(),
		ctimeNsec: st.Ctim.Nano(),
		sum:       sum,
	}
}

// identities is a parsed record: the entry's files by path.
type identities struct{ byPath map[string]identity }

// lookup returns the recorded identity of rel when st is that very file.
func (k *identities) lookup(rel string, st *unix.Stat_t) (identity, bool) {
	if k == nil {
		return identity{}, false
	}
	id, ok := k.byPath[rel]
	if !ok {
		return identity{}, false
	}
	now := identityOf(rel, st, id.sum)
	return id, now == id
}

// readIdentities reads the record beside dir; nil when there is none that
// can be trusted for key.
func readIdentities(dir, key string, uid uint32) *identities {
	p := dir + identitySuffix
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || ownedRegular(p, &st, uid) != nil {
		return nil
	}
	k, err := parseIdentities(io.LimitReader(f, 4<<20), key)
	if err != nil {
		return nil
	}
	return k
}

// parseIdentities parses a record written by formatIdentities for key.
func parseIdentities(r io.Reader, key string) (*identities, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10) // records are small: grow only for long paths
	if !sc.Scan() || sc.Text() != identityHeader {
		return nil, fmt.Errorf("not an identity record")
	}
	if !sc.Scan() || sc.Text() != "key "+key {
		return nil, fmt.Errorf("identity record for another key")
	}
	k := &identities{byPath: map[string]identity{}}
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 7)
		if len(f) != 7 {
			return nil, fmt.Errorf("identity record: malformed line %q", sc.Text())
		}
		var id identity
		var errs [5]error
		id.dev, errs[0] = strconv.ParseUint(f[0], 10, 64)
		id.ino, errs[1] = strconv.ParseUint(f[1], 10, 64)
		id.size, errs[2] = strconv.ParseInt(f[2], 10, 64)
		id.mtimeNsec, errs[3] = strconv.ParseInt(f[3], 10, 64)
		id.ctimeNsec, errs[4] = strconv.ParseInt(f[4], 10, 64)
		for _, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("identity record: %w", err)
			}
		}
		id.sum, id.path = f[5], f[6]
		if len(id.sum) != 64 || strings.Trim(id.sum, "0123456789abcdef") != "" || id.path == "" {
			return nil, fmt.Errorf("identity record: malformed line %q", sc.Text())
		}
		if _, dup := k.byPath[id.path]; dup {
			return nil, fmt.Errorf("identity record: %s twice", id.path)
		}
		k.byPath[id.path] = id
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("identity record: %w", err)
	}
	return k, nil
}

// formatIdentities writes the record of files for key, leaving out every
// file whose change time is not at least identityMinAge before now.
func formatIdentities(key string, files []identity, now time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nkey %s\n", identityHeader, key)
	limit := now.Add(-identityMinAge).UnixNano()
	for _, id := range files {
		if id.ctimeNsec >= limit || strings.ContainsAny(id.path, "\n") {
			continue
		}
		fmt.Fprintf(&b, "%d %d %d %d %d %s %s\n", id.dev, id.ino, id.size, id.mtimeNsec, id.ctimeNsec, id.sum, id.path)
	}
	return []byte(b.String())
}

// recordIdentities writes the record beside the entry dir, atomically
// (a temporary file renamed over it). It is an optimisation only: any
// failure leaves the files to be read next time.
func recordIdentities(dir, key string, files []identity) {
	data := formatIdentities(key, files, timeNow())
	tmp, err := os.CreateTemp(filepath.Dir(dir), filepath.Base(dir)+identitySuffix+".tmp-")
	if err != nil {
		return
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), dir+identitySuffix) != nil {
		os.Remove(tmp.Name())
	}
}
