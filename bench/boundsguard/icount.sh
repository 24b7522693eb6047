#!/bin/sh
# Instructions executed (valgrind's cachegrind, I refs), a load-independent
# companion to the CPU times of main.go: a bzip2 round trip of INPUT and, where
# built, speedtest1 --memdb --size SIZE, per variant of DIR (build.sh).
#
#   icount.sh DIR INPUT SIZE VARIANT...
set -eu
dir=$1 input=$2 size=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for v in "$@"; do
	a=$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$dir/$v/bzip2" -9 -c "$input" 2>"$tmp/e1" >"$tmp/x.bz2"; sed -n 's/.*I *refs: *//p' "$tmp/e1" | tr -d ,)
	b=$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$dir/$v/bzip2" -d -c "$tmp/x.bz2" 2>"$tmp/e2" >"$tmp/x"; sed -n 's/.*I *refs: *//p' "$tmp/e2" | tr -d ,)
	cmp -s "$tmp/x" "$input"
	echo "bzip2 $v $((a + b))"
	if [ -x "$dir/$v/speedtest1" ]; then
		c=$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$dir/$v/speedtest1" --memdb --size "$size" 2>"$tmp/e3" >/dev/null; sed -n 's/.*I *refs: *//p' "$tmp/e3" | tr -d ,)
		echo "speedtest1 $v $c"
	fi
done
