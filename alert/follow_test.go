package alert

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// follow starts Follow on path and returns its lines and a stop function
// that returns Follow's error.
func follow(t *testing.T, path string, fromStart bool) (<-chan string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan string, 100)
	done := make(chan error, 1)
	go func() { done <- Follow(ctx, path, fromStart, 5*time.Millisecond, func(l string) { lines <- l }) }()
	return lines, func() error { cancel(); return <-done }
}

func want(t *testing.T, lines <-chan string, w string) {
	t.Helper()
	select {
	case l := <-lines:
		if l != w {
			t.Fatalf("line %q, want %q", l, w)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no line after 10s, want %q", w)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestFollowLifecycle: a file that does not exist yet, a line written in two
// pieces, truncation, rotation with lines left in the old file.
func TestFollowLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	lines, stop := follow(t, path, true)
	// Created after Follow started: read from its start.
	appendTo(t, path, "one\ntw")
	want(t, lines, "one")
	appendTo(t, path, "o\n")
	want(t, lines, "two")
	// Truncated (copytruncate): from the start again.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	// The new content is shorter than what was read, so the truncation is
	// seen whenever Follow polls (see Follow's doc for the other case).
	appendTo(t, path, "3\n")
	want(t, lines, "3")
	// Rotated: a last line into the old file after the rename, then the
	// new file. The old one is read to its end first.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path+".1", "four, late in the old file\n")
	appendTo(t, path, "five, in the new file\n")
	want(t, lines, "four, late in the old file")
	want(t, lines, "five, in the new file")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestFollowFromEnd: what the file held when Follow started is skipped,
// unless fromStart.
func TestFollowFromEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	appendTo(t, path, "old\n")
	lines, stop := follow(t, path, false)
	all, stopAll := follow(t, path, true)
	want(t, all, "old")
	// The from-end follower may open the file after any of these writes:
	// write until it reports, and it must report only "new".
	deadline := time.Now().Add(10 * time.Second)
	for {
		appendTo(t, path, "new\n")
		select {
		case l := <-lines:
			if l != "new" {
				t.Fatalf("from the end: %q, want only new lines", l)
			}
			stop()
			stopAll()
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no line from the end after 10s")
		}
	}
}
