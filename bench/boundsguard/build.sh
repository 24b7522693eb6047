#!/bin/sh
# Builds the CPU-bound benchmark set once per candidate protection, with
# immunix-cc, into OUT/VARIANT/: bzip2 (Debian source package) and sqlite3's
# speedtest1 (Debian's sqlite3 source, amalgamated). See BENCHMARKS.md.
#
#   build.sh IMMUNIX_CC_BINARY BZIP2_SRC SQLITE3_C SPEEDTEST1_C OUT
#
# SQLITE3_C "-" builds bzip2 alone.
#
# Each variant is "name:compiler:IMMUNIX_LEVEL:IMMUNIX_DISABLE", so every
# variant is what immunix-cc itself decides at that level, minus the named
# protections.
set -eu
cc=$1 bz=$2 sq=$3 st=$4 out=$5
variants=${VARIANTS:-"base:gcc:default:bounds,autoinit,cxxassert,zeroregs,objsize"}
for v in $variants; do
	name=${v%%:*}; rest=${v#*:}
	comp=${rest%%:*}; rest=${rest#*:}
	level=${rest%%:*}; dis=${rest#*:}
	d=$out/$name
	mkdir -p "$d/o"
	export IMMUNIX_CC=$comp IMMUNIX_LEVEL=$level IMMUNIX_DISABLE=$dis
	for f in blocksort huffman crctable randtable compress decompress bzlib bzip2; do
		"$cc" -O2 -D_FILE_OFFSET_BITS=64 -c "$bz/$f.c" -o "$d/o/$f.o"
	done
	"$cc" -O2 -o "$d/bzip2" "$d"/o/*.o
	size "$d/bzip2" | tail -1 | awk -v n="$name" '{print n, "bzip2", $1}' >>"$out/sizes.txt"
	[ "$sq" = - ] && continue # "-": bzip2 only
	"$cc" -O2 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_THREADSAFE=0 -c "$sq" -o "$d/o/sqlite3.obj"
	"$cc" -O2 -I"$(dirname "$sq")" -c "$st" -o "$d/o/speedtest1.obj"
	"$cc" -O2 -o "$d/speedtest1" "$d/o/speedtest1.obj" "$d/o/sqlite3.obj" -lm
	size "$d/speedtest1" | tail -1 | awk -v n="$name" '{print n, "speedtest1", $1}' >>"$out/sizes.txt"
done
