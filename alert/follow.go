package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// DefaultPoll is how often Follow looks for new data, as tail -f does.
const DefaultPoll = 200 * time.Millisecond

// maxLine bounds a line Follow holds while waiting for its end: a syslog
// record longer than this is cut (the reader keeps going).
const maxLine = 1 << 20

// Follow calls line for every complete line written to the file at path,
// until ctx is done (then it returns nil), as `tail -F` does: from the end of
// the file when Follow starts, or from its start when fromStart. It keeps
// following across log rotation (path names a new file: the old one is read
// to its end first, then the new one from its start) and truncation (read
// again from the start). A file that does not exist yet is waited for, and
// read from its start. A line not yet ended by a newline is held until its
// end arrives. As with tail -F, a truncation is seen when the file is
// shorter than what was read: a file truncated and refilled beyond that
// point between two polls is read on from the old offset.
func Follow(ctx context.Context, path string, fromStart bool, poll time.Duration, line func(string)) error {
	if poll <= 0 {
		poll = DefaultPoll
	}
	var (
		f       *os.File
		fi      os.FileInfo
		partial []byte
		buf     = make([]byte, 64*1024)
	)
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	open := func(atEnd bool) error {
		nf, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow %s: %w", path, err)
		}
		nfi, err := nf.Stat()
		if err != nil {
			nf.Close()
			return fmt.Errorf("follow %s: %w", path, err)
		}
		if atEnd {
			if _, err := nf.Seek(0, io.SeekEnd); err != nil {
				nf.Close()
				return fmt.Errorf("follow %s: %w", path, err)
			}
		}
		f, fi, partial = nf, nfi, partial[:0]
		return nil
	}
	// drain reads f to its current end, handing out complete lines.
	drain := func() error {
		for {
			n, err := f.Read(buf)
			if n > 0 {
				partial = append(partial, buf[:n]...)
				for {
					i := bytes.IndexByte(partial, '\n')
					if i < 0 {
						break
					}
					line(string(partial[:i]))
					partial = partial[i+1:]
				}
				if len(partial) > maxLine {
					line(string(partial))
					partial = partial[:0]
				}
			}
			if err == io.EOF || n == 0 {
				return nil
			}
			if err != nil {
				return fmt.Errorf("follow %s: %w", path, err)
			}
		}
	}
	if err := open(!fromStart); err != nil {
		return err
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		if f != nil {
			if err := drain(); err != nil {
				return err
			}
			// Truncated: read again from the start.
			if st, err := f.Stat(); err == nil {
				if pos, err := f.Seek(0, io.SeekCurrent); err == nil && st.Size() < pos {
					if _, err := f.Seek(0, io.SeekStart); err != nil {
						return fmt.Errorf("follow %s: %w", path, err)
					}
					partial = partial[:0]
					continue
				}
			}
			// Rotated: path names another file now (or none). The old
			// one has been read to its end above.
			if cur, err := os.Stat(path); err == nil && !os.SameFile(cur, fi) {
				f.Close()
				f = nil
				if err := open(false); err != nil {
					return err
				}
				continue
			}
		} else if err := open(false); err != nil {
			return err
		} else if f != nil {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
