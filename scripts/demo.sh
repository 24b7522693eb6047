#!/usr/bin/env bash
# The immunix demo: installs immunix (scripts/install.sh), builds examples/vuln/vuln.c once with
# the plain compiler and once with immunix-cc, attacks both, and shows the
# difference. Run as root on Debian 12: bash scripts/demo.sh
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$here/scripts/deps.sh" || exit 1
bash "$here/scripts/install.sh" || exit 1
# The programs: /usr/bin from the Debian packages, PREFIX/usr/bin otherwise.
export PATH=${PREFIX:+$PREFIX/usr/bin:}$PATH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$here/examples/vuln/vuln.c
long=$(printf 'A%.0s' $(seq 1 64))

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
  printf '$ %s\n' "$*"
  "$@"
  printf '[exit status %d]\n' "$?"
}

say "Build the vulnerable program twice"
run /usr/bin/gcc -O2 -o "$work/vuln-plain" "$src"   # the real gcc, even where the masquerade directory is first in PATH
run immunix-cc -O2 -o "$work/vuln-immunix" "$src"

say "Honest use: both behave the same"
run "$work/vuln-plain" greet world
run "$work/vuln-immunix" greet world

say "Stack smash, plain gcc: the return address is overwritten"
run "$work/vuln-plain" greet "$long"
say "Stack smash, immunix-cc: StackGuard raises an intruder alert and halts"
run "$work/vuln-immunix" greet "$long"

say "Format-string attack, plain gcc: the stack leaks"
run "$work/vuln-plain" echo '%x %x %x %x %x %x'
say "Format-string attack, immunix-cc: FormatGuard stops it before any output"
run "$work/vuln-immunix" echo '%x %x %x %x %x %x'

say "What each binary carries (immunix check)"
run immunix check "$work/vuln-plain" "$work/vuln-immunix"
exit 0
