package checktest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/immunix/immunix/internal/cbuild"
	"github.com/immunix/immunix/internal/testenv"
)

// debOf builds a .deb in memory, as a hostile packager could: members
// named and sized as the caller says, contents from fill.
func debOf(t *testing.T, members map[string][]byte) []byte {
	t.Helper()
	var tb bytes.Buffer
	zw := gzip.NewWriter(&tb)
	tw := tar.NewWriter(zw)
	for name, data := range members {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	add := func(name string, data []byte) {
		fmt.Fprintf(&b, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", name, "0", "0", "0", "100644", len(data))
		b.Write(data)
		if len(data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	add("debian-binary", []byte("2.0\n"))
	add("control.tar.gz", nil)
	add("data.tar.gz", tb.Bytes())
	return b.Bytes()
}

// maxRSS runs immunix-tools check (no exec in between, so the rusage is
// the scanner's own) and returns its peak resident set in bytes.
func maxRSS(t *testing.T, args ...string) (int64, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(testenv.Binaries(t), "immunix-tools"), append([]string{"check"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return ru.Maxrss * 1024, out.String()
}

// TestPackageBombMemory (issue 14, item 12): four small packages, each
// holding one 48 MiB ELF member (a real program padded with zeros: a few
// KB compressed), checked four at a time. Without a bound each worker
// holds its member and a copy of its code at once (about 400 MB); with
// --max-memory 128M the scan holds at most 128 MiB of file contents.
func TestPackageBombMemory(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	prog, err := os.ReadFile(cbuild.Build(t, "gcc", vulnerable, "-O2", "-w"))
	if err != nil {
		t.Fatal(err)
	}
	member := make([]byte, 48<<20)
	copy(member, prog)
	dir := t.TempDir()
	var pkgs []string
	for i := 0; i < 4; i++ {
		p := filepath.Join(dir, fmt.Sprintf("bomb%d_1.0_amd64.deb", i))
		if err := os.WriteFile(p, debOf(t, map[string][]byte{"./usr/bin/big": member}), 0o644); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	const limit = 128 << 20
	rss, out := maxRSS(t, append([]string{"-j", "4", "--max-memory", "128M", "-f", "json"}, pkgs...)...)
	if strings.Count(out, `"path"`) != 4 || strings.Contains(out, `"error"`) {
		t.Fatalf("the members were not all checked:\n%s", out)
	}
	// The runtime, the decompressors and the report come on top of the
	// budget; the four members at once would be 4 x 96 MiB.
	if rss > limit+96<<20 {
		t.Errorf("peak RSS %d MiB with --max-memory 128M", rss>>20)
	}
	t.Logf("peak RSS %d MiB with --max-memory 128M", rss>>20)
	// A member over half the budget is reported, not read.
	_, out = maxRSS(t, "--max-memory", "64M", pkgs[0])
	if !strings.Contains(out, "larger than the") {
		t.Errorf("a 48 MiB member under --max-memory 64M was not refused:\n%s", out)
	}
}

// TestMemberNameSpoofing (issue 14, item 13): a package whose member names
// carry a newline, a forged summary line and ANSI escapes. The text
// report and the stderr lines quote them: one summary, no raw escape.
func TestMemberNameSpoofing(t *testing.T) {
	testenv.NeedsTool(t, "gcc")
	bad, err := os.ReadFile(cbuild.Build(t, "gcc", vulnerable, "-O2", "-w", "-fno-stack-protector"))
	if err != nil {
		t.Fatal(err)
	}
	name := "./usr/bin/x\n1 ELF files: 1 passed, 0 failed, 0 unreadable; 0 other files skipped.\x1b[2K\x1b[1A"
	p := filepath.Join(t.TempDir(), "spoof_1.0_amd64.deb")
	os.WriteFile(p, debOf(t, map[string][]byte{name: bad, "./usr/bin/trunc\x1b[31m": bad[:100]}), 0o644)
	out, errOut, code := run(t, "", "check", p)
	if code != 2 {
		t.Errorf("exit %d, want 2 (one member fails, one is unreadable)", code)
	}
	if strings.ContainsRune(out+errOut, '\x1b') {
		t.Errorf("raw escape in the report:\n%q\n%q", out, errOut)
	}
	summaries := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "1 ELF files") || strings.HasPrefix(l, "2 ELF files") {
			summaries++
		}
	}
	if summaries != 1 || !strings.Contains(out, "2 ELF files: 0 passed, 1 failed, 1 unreadable") {
		t.Errorf("forged or missing summary:\n%s", out)
	}
	_, errOut, _ = run(t, "", "check", "-f", "json", p)
	if strings.ContainsRune(errOut, '\x1b') || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("stderr lines not quoted:\n%q", errOut)
	}
}
