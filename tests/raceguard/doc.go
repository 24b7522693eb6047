// Package raceguard holds the end-to-end tests of RaceGuard: victim
// programs of the temporary-file race built by immunix-cc over gcc and
// clang (and plainly, to prove each attack real), run as root and as an
// ordinary user while an attacker of another uid or the same uid plants a
// symlink, a hard link or a file of its own inside the window, with the
// kernel's fs.protected_symlinks and fs.protected_regular at 0 and at 1;
// and the programs that must raise no alarm (threads, fork, probe/create/
// remove/create, a library's probe and the program's create).
//
// The window is deterministic: the victim (testdata/victim.c) prints
// "ready NAME" between its probe and its create and blocks on stdin until
// the attacker has planted its file.
//
// Example:
//
//	go test ./tests/raceguard/          # needs root (other uids, sysctls)
package raceguard
