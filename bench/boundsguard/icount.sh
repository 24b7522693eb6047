#!/bin/sh
# Instructions executed (valgrind's cachegrind, I refs), a load-independent
# companion to the CPU times of main.go, per variant of DIR (build.sh), each
# where built: a bzip2 round trip of INPUT (-9), speedtest1 --memdb --size
# SIZE, a zlib minigzip round trip of INPUT (-9), an lzip round trip of INPUT
# (its default level), containers (testdata/containers.cpp) at scale
# SIZE/10 (at least 1), its checksum the same in every variant, and,
# when GAWK_TESTS names tests of gawk's test suite,
# those tests run by gawk's own test/Makefile with every gawk it starts under
# cachegrind (through AWKPROG) and their I refs summed. Outputs of the
# round trips are compared with INPUT.
#
#   [GAWK_TESTS="test..."] icount.sh DIR INPUT SIZE VARIANT...
set -eu
dir=$1 input=$2 size=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cg="valgrind --tool=cachegrind --cache-sim=no"
# irefs FILE: the I refs cachegrind printed to FILE.
irefs() { sed -n 's/.*I *refs: *//p' "$1" | tr -d ,; }
# trip NAME PROG COMPRESS-ARGS DECOMPRESS-ARGS: a round trip through stdin.
trip() {
	# shellcheck disable=SC2086 # the argument lists are words
	$cg --cachegrind-out-file=/dev/null "$2" $3 <"$input" 2>"$tmp/e1" >"$tmp/x.c"
	# shellcheck disable=SC2086
	$cg --cachegrind-out-file=/dev/null "$2" $4 <"$tmp/x.c" 2>"$tmp/e2" >"$tmp/x"
	cmp -s "$tmp/x" "$input" || { echo "$1 $v: round trip changed the data" >&2; exit 1; }
	echo "$1 $v $(($(irefs "$tmp/e1") + $(irefs "$tmp/e2")))"
}
for v in "$@"; do
	[ -x "$dir/$v/bzip2" ] && trip bzip2 "$dir/$v/bzip2" "-9 -c" "-d -c"
	if [ -x "$dir/$v/speedtest1" ]; then
		c=$($cg --cachegrind-out-file=/dev/null "$dir/$v/speedtest1" --memdb --size "$size" 2>"$tmp/e3" >/dev/null; irefs "$tmp/e3")
		echo "speedtest1 $v $c"
	fi
	[ -x "$dir/$v/minigzip" ] && trip zlib "$dir/$v/minigzip" "-9" "-d"
	[ -x "$dir/$v/lzip" ] && trip lzip "$dir/$v/lzip" "-c" "-d -c"
	if [ -x "$dir/$v/containers" ]; then
		scale=$((size / 10)); [ "$scale" -ge 1 ] || scale=1
		sum=$($cg --cachegrind-out-file=/dev/null "$dir/$v/containers" "$scale" 2>"$tmp/e4")
		echo "containers $v $(irefs "$tmp/e4") (checksum $sum)"
	fi
	if [ -n "${GAWK_TESTS:-}" ] && [ -f "$dir/$v/gawk/test/Makefile" ]; then
		rm -rf "$tmp/cg" && mkdir "$tmp/cg"
		# Every gawk the tests start, also those run by a test's own shell
		# script ($(abs_builddir)/$(AWKPROG)): AWKPROG names, relative to
		# test/ as the Makefile wants it, a wrapper beside gawk that runs
		# gawk (its argv[0] still .../gawk) under cachegrind.
		w=$dir/$v/gawk/gawk-cachegrind
		printf '#!/bin/sh\nexec %s -q --cachegrind-out-file=%s/cg/cg.%%p "$(dirname "$0")/gawk" "$@"\n' "$cg" "$tmp" >"$w"
		chmod +x "$w"
		# shellcheck disable=SC2086 # GAWK_TESTS is a list of make targets
		make -s -C "$dir/$v/gawk/test" AWKPROG=../gawk-cachegrind $GAWK_TESTS >"$tmp/gawk.log" 2>&1 || true
		rm -f "$w"
		n=$(find "$tmp/cg" -name 'cg.*' | wc -l)
		sum=$(cat "$tmp/cg"/cg.* | awk '/^summary:/ {s += $2} END {printf "%.0f", s}')
		# The tests' own verdicts: they must be the same in every variant.
		failed=$(grep -c -e '^--- ' -e 'EXIT CODE' "$tmp/gawk.log" || true)
		echo "gawk $v $sum ($n gawk runs, $failed diff lines)"
	fi
done
