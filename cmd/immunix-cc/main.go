// Command immunix-cc is immunix's hardening compiler wrapper. Every argument
// belongs to the compiler; package ccwrap does the work. Installed also as
// immunix-c++ and under masquerade names (gcc, cc, clang++...).
package main

import (
	"os"

	"github.com/immunix/immunix/ccwrap"
)

func main() {
	os.Exit(ccwrap.Main(ccwrap.OSEnv()))
}
