package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immunix/immunix/alert/report"
	"github.com/immunix/immunix/internal/cli"
)

func TestAlertsSummary(t *testing.T) {
	log := strings.Join([]string{
		"Nov 26 20:00:00 web immunix[1]: immunix alert: kind=subdomain exe=/cgi pid=5 uid=33 profile=/cgi op=exec path=/usr/bin/dash mode=enforce msg=denied",
		"Nov 26 20:00:01 web immunix[1]: immunix alert: kind=subdomain exe=/cgi pid=5 uid=33 profile=/cgi op=read path=/srv/secret mode=enforce msg=denied",
		"Nov 26 20:05:00 web sshd[2]: Accepted publickey for root",
		"<81>1 2026-11-26T21:00:00Z web immunix 9 - - immunix alert: kind=stackguard exe=/srv/server pid=9 uid=0 addr=0x401196 fn=handle msg=stack canary overwritten",
		"Nov 26 20:06:00 web immunix[1]: immunix alert: kind=formatguard exe=/srv/server pid=nine uid=0 msg=broken",
	}, "\n") + "\n"
	dir := t.TempDir()
	file := filepath.Join(dir, "auth.log")
	os.WriteFile(file, []byte(log), 0o644)
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if code := registry.Main(env, []string{"alerts", "--json", file}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var sum report.Summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if sum.Alerts != 3 || sum.Malformed != 1 || sum.Kinds["subdomain"] != 2 || sum.Kinds["stackguard"] != 1 || len(sum.Groups) != 2 {
		t.Errorf("summary = %+v", sum)
	}
	if g := sum.Groups[0]; g.Exe != "/cgi" || g.Count != 2 || len(g.Detail) != 2 || g.Detail[0] != "exec /usr/bin/dash" {
		t.Errorf("group 0 = %+v", g)
	}
	if !strings.Contains(errb.String(), "1 malformed alert lines skipped") {
		t.Errorf("stderr = %q", errb.String())
	}
	// Text output and --since from standard input.
	out.Reset()
	errb.Reset()
	env.Stdin = strings.NewReader(log)
	if code := registry.Main(env, []string{"alerts", "-"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "3 immunix alerts: stackguard 1, subdomain 2\n") || !strings.Contains(out.String(), "read /srv/secret") {
		t.Errorf("text summary:\n%s", out.String())
	}
	out.Reset()
	env.Stdin = strings.NewReader(log)
	if code := registry.Main(env, []string{"alerts", "--since", "2100-01-01", "-"}); code != 0 || out.String() != "no immunix alerts\n" {
		t.Errorf("--since in the future: exit %d\n%s", code, out.String())
	}
}
