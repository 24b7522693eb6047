package enforce

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/immunix/immunix/alert"
)

func TestOptionsCheck(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // "" accepted
	}{
		{[]string{"--", "/bin/true"}, "--profile is required"},
		{[]string{"-p", "x"}, "no command"},
		{[]string{"-p", "x", "--plan"}, ""},
		{[]string{"-p", "x", "--", "/bin/true"}, ""},
	} {
		var o Options
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		o.Flags(fs)
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		err := o.Check(fs.Args())
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.args, err)
		case tt.want != "" && (err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: %v, want a usage error naming %q", tt.args, err, tt.want)
		}
	}
}

func TestOptionsNewRunner(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "p")
	if err := os.WriteFile(prof, []byte("# /bin/true 1\n/etc/hostname r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{alert.SocketEnv: "/run/test.sock"}
	o := Options{Profile: prof, NoAudit: true}
	r, err := o.NewRunner(func(k string) string { return env[k] }, os.Stdin, os.Stdout, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Profile == nil || r.Profile.Program != "/bin/true" || !r.NoAudit || r.Alerts.Socket != "/run/test.sock" || r.Stdin != os.Stdin || r.Stdout != os.Stdout || r.Stderr != nil {
		t.Errorf("runner = %+v", r)
	}
	o.SyslogSocket = "/run/flag.sock"
	if r, _ := o.NewRunner(func(k string) string { return env[k] }, nil, nil, nil); r.Alerts.Socket != "/run/flag.sock" {
		t.Errorf("--syslog-socket lost to the environment: %q", r.Alerts.Socket)
	}
	o.Profile = filepath.Join(dir, "missing")
	if _, err := o.NewRunner(nil, nil, nil, nil); err == nil {
		t.Error("a missing profile was accepted")
	}
}
