package testenv

import (
	"reflect"
	"testing"
)

func TestSourceVersionsNewestFirst(t *testing.T) {
	NeedsTool(t, "dpkg")
	tests := []struct {
		name, showsrc string
		want          []string
	}{
		{"zlib as this archive lists it", "Package: zlib\nVersion: 1:1.2.13.dfsg-1\nPackage-List: \n\nPackage: zlib\nVersion: 1:1.2.13.dfsg-1\n\nPackage: zlib\nVersion: 1:1.2.13.dfsg-1+deb12u1\n",
			[]string{"1:1.2.13.dfsg-1+deb12u1", "1:1.2.13.dfsg-1"}},
		{"epoch beats upstream", "Version: 2.0-1\nVersion: 1:1.0-1\nVersion: 1.9~rc1-1\n",
			[]string{"1:1.0-1", "2.0-1", "1.9~rc1-1"}},
		{"none", "Package: x\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newestFirst(sourceVersions(tt.showsrc)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
