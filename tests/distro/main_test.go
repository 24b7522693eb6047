package distro

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveImage()
	os.Exit(code)
}
