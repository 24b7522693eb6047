// Command floor is the cheapest possible Go compiler wrapper: it execs its
// arguments and does nothing else. bench/ccwrap times it to show how much
// of immunix-cc's overhead is the Go runtime starting at all.
//
//	go build -o /tmp/floor ./bench/ccwrap/floor
//	go run ./bench/ccwrap -wrapper /tmp/immunix-cc -cc /bin/true -floor /tmp/floor
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: floor PROGRAM [ARGS...]")
		os.Exit(2)
	}
	path, err := exec.LookPath(os.Args[1])
	if err == nil {
		err = syscall.Exec(path, os.Args[1:], os.Environ())
	}
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}
