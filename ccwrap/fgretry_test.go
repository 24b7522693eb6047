package ccwrap

import "testing"

func TestFormatGuardImplicated(t *testing.T) {
	fg := []string{"-isystem", "/c/formatguard-include-91ee37f31799cfbe"}
	tests := []struct {
		name   string
		stderr string
		user   []string
		want   bool
	}{
		{"no diagnostics", "", nil, true},
		{"blank diagnostics", " \n", nil, true},
		{"unrelated error", "c.c:2:25: error: implicit declaration of function 'missing_function'\n", nil, false},
		{"unrelated link error", "/usr/bin/ld: /tmp/cc.o: undefined reference to `gethostbyname_r'\ncollect2: error: ld returned 1 exit status\n", nil, false},
		{"gcc error inside the headers", "In file included from /c/formatguard-include-91ee37f31799cfbe/immunix-fg-stdio.h:4,\nimmunix-formatguard.h:201:3: error: expected declaration specifiers\n", nil, true},
		{"gcc macro note", "b.c:2:5: error: expected identifier\nimmunix-formatguard.h:199:41: note: in expansion of macro '__IMMUNIX_FG_FMT'\n", nil, true},
		{"clang macro note", "a.cc:2:16: error: expected member name\n/c/formatguard-include-91ee37f31799cfbe/immunix-fg-stdio.h:20:30: note: expanded from macro 'printf'\n", nil, true},
		{"runtime symbol", "/usr/bin/ld: x.o: undefined reference to `__immunix_fg_printf'\n", nil, true},
		{"directory only", "error: /c/formatguard-include-91ee37f31799cfbe/stdio.h: Permission denied\n", nil, true},
		{"macro tracking off", "a.cc:2:16: error: expected identifier before '(' token\n", []string{"-O2", "-ftrack-macro-expansion=0"}, true},
		{"save-temps", "a.cc:2:16: error: expected identifier before '(' token\n", []string{"-save-temps=obj"}, true},
		{"gcc crash", "x.c:9:1: internal compiler error: Segmentation fault\n", nil, true},
		{"clang crash", "PLEASE submit a bug report to https://github.com/llvm/llvm-project/issues/\n", nil, true},
		{"stamp header is not FormatGuard", "<command-line>: fatal error: immunix-stamp.h: No such file or directory\n", nil, false},
	}
	for _, tt := range tests {
		if got := formatGuardImplicated([]byte(tt.stderr), fg, tt.user); got != tt.want {
			t.Errorf("%s: formatGuardImplicated = %v, want %v", tt.name, got, tt.want)
		}
	}
}
