package enforce

import "testing"

func TestMetaGuardAllowed(t *testing.T) {
	g := &metaGuard{grants: []string{"/srv/data/", "/var/log/app.log"}}
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/srv/data", true},
		{"/srv/data/a.db", true},
		{"/srv/data/sub/deep", true},
		{"/srv/database", false}, // a prefix of the name is not a directory above it
		{"/srv/data.bak/x", false},
		{"/srv", false},
		{"/var/log/app.log", true},
		{"/var/log/app.log.1", false},
		{"/var/log/app.log/x", false}, // a file grant is that file only
		{"/etc/shadow", false},
		{"", false},
	} {
		if got := g.allowed(tc.path); got != tc.want {
			t.Errorf("allowed(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	root := &metaGuard{grants: []string{"/"}}
	if !root.allowed("/etc/shadow") {
		t.Errorf("a write grant on / covers everything")
	}
	none := &metaGuard{}
	if none.allowed("/tmp/x") {
		t.Errorf("no write grant allows nothing")
	}
}
