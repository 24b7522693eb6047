#!/bin/sh
# Builds the CPU-bound benchmark set once per candidate protection, with
# immunix-cc, into OUT/VARIANT/: bzip2 (Debian source package) and sqlite3's
# speedtest1 (Debian's sqlite3 source, amalgamated); and, when named in the
# environment, zlib's minigzip and example (ZLIB_SRC), lzip, a C++ program
# (LZIP_SRC), testdata/containers.cpp, C++ indexing libstdc++ containers
# (CONTAINERS=1), and gawk with its test suite (GAWK_SRC). See BENCHMARKS.md.
#
#   [ZLIB_SRC=DIR] [LZIP_SRC=DIR] [CONTAINERS=1] [GAWK_SRC=DIR] \
#     build.sh IMMUNIX_CC_BINARY BZIP2_SRC SQLITE3_C SPEEDTEST1_C OUT
#
# BZIP2_SRC "-" skips bzip2; SQLITE3_C "-" skips speedtest1. C++ is built
# with immunix-c++ beside IMMUNIX_CC_BINARY (or $CXX_WRAPPER), with g++ or
# clang++ as the variant's compiler says. gawk is configured once per
# compiler (OUT/gawk-cfg-COMPILER, at the default level with every candidate
# disabled: today's immunix build), and each variant builds a copy of that
# tree with its own protections (OUT/VARIANT/gawk/, where `make check` runs).
#
# Each variant is "name:compiler:IMMUNIX_LEVEL:IMMUNIX_DISABLE", so every
# variant is what immunix-cc itself decides at that level, minus the named
# protections. Text sizes (size's text column) go to OUT/sizes.txt.
set -eu
cc=$1 bz=$2 sq=$3 st=$4 out=$5
cxx=${CXX_WRAPPER:-$(dirname "$cc")/immunix-c++}
all=bounds,autoinit,cxxassert,zeroregs,objsize
variants=${VARIANTS:-"base:gcc:default:$all"}
sizeof() { # VARIANT PROGRAM FILE
	size "$3" | tail -1 | awk -v n="$1" -v p="$2" '{print n, p, $1}' >>"$out/sizes.txt"
}
for v in $variants; do
	name=${v%%:*}; rest=${v#*:}
	comp=${rest%%:*}; rest=${rest#*:}
	level=${rest%%:*}; dis=${rest#*:}
	d=$out/$name
	mkdir -p "$d/o"
	case $comp in
	clang) cxxcomp=clang++ ;;
	*) cxxcomp=g++ ;;
	esac
	export IMMUNIX_CC=$comp IMMUNIX_CXX=$cxxcomp IMMUNIX_LEVEL=$level IMMUNIX_DISABLE=$dis
	if [ "$bz" != - ]; then
		for f in blocksort huffman crctable randtable compress decompress bzlib bzip2; do
			"$cc" -O2 -D_FILE_OFFSET_BITS=64 -c "$bz/$f.c" -o "$d/o/$f.o"
		done
		"$cc" -O2 -o "$d/bzip2" "$d"/o/blocksort.o "$d"/o/huffman.o "$d"/o/crctable.o \
			"$d"/o/randtable.o "$d"/o/compress.o "$d"/o/decompress.o "$d"/o/bzlib.o "$d"/o/bzip2.o
		sizeof "$name" bzip2 "$d/bzip2"
	fi
	if [ "$sq" != - ]; then
		"$cc" -O2 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_THREADSAFE=0 -c "$sq" -o "$d/o/sqlite3.obj"
		"$cc" -O2 -I"$(dirname "$sq")" -c "$st" -o "$d/o/speedtest1.obj"
		"$cc" -O2 -o "$d/speedtest1" "$d/o/speedtest1.obj" "$d/o/sqlite3.obj" -lm
		sizeof "$name" speedtest1 "$d/speedtest1"
	fi
	if [ -n "${ZLIB_SRC:-}" ]; then
		# zlib 1.2.13 as its own Makefile builds the static library, at -O2.
		mkdir -p "$d/z"
		zo=
		for f in adler32 crc32 deflate infback inffast inflate inftrees trees zutil \
			compress uncompr gzclose gzlib gzread gzwrite; do
			"$cc" -O2 -D_LARGEFILE64_SOURCE=1 -DHAVE_HIDDEN -I"$ZLIB_SRC" -c "$ZLIB_SRC/$f.c" -o "$d/z/$f.o"
			zo="$zo $d/z/$f.o"
		done
		for p in minigzip example; do
			"$cc" -O2 -D_LARGEFILE64_SOURCE=1 -I"$ZLIB_SRC" -c "$ZLIB_SRC/test/$p.c" -o "$d/z/$p.obj"
			# shellcheck disable=SC2086 # zo is a list of paths without blanks
			"$cc" -O2 -o "$d/$p" "$d/z/$p.obj" $zo
		done
		sizeof "$name" minigzip "$d/minigzip"
	fi
	if [ -n "${LZIP_SRC:-}" ]; then
		# lzip 1.23 (C++) as its Makefile builds it, at -O2.
		mkdir -p "$d/lz"
		lo=
		for f in arg_parser lzip_index list encoder_base encoder fast_encoder decoder main; do
			"$cxx" -O2 -DPROGVERSION='"1.23"' -c "$LZIP_SRC/$f.cc" -o "$d/lz/$f.o"
			lo="$lo $d/lz/$f.o"
		done
		# shellcheck disable=SC2086
		"$cxx" -O2 -o "$d/lzip" $lo
		sizeof "$name" lzip "$d/lzip"
	fi
	if [ -n "${CONTAINERS:-}" ]; then
		"$cxx" -O2 -o "$d/containers" "$(dirname "$0")/testdata/containers.cpp"
		sizeof "$name" containers "$d/containers"
	fi
	if [ -n "${GAWK_SRC:-}" ]; then
		cfg=$out/gawk-cfg-$comp
		if [ ! -f "$cfg/Makefile" ]; then
			rm -rf "$cfg"
			cp -a "$GAWK_SRC" "$cfg"
			(cd "$cfg" && IMMUNIX_LEVEL=default IMMUNIX_DISABLE=$all \
				./configure CC="$cc" CFLAGS=-O2 >configure.log 2>&1)
		fi
		rm -rf "$d/gawk"
		cp -a "$cfg" "$d/gawk"
		# configure wrote its own directory into the Makefiles (abs_builddir,
		# which some tests use): make them name the copy.
		old=$(sed -n 's/^abs_top_builddir = //p' "$cfg/Makefile")
		grep -rlF "$old" "$d/gawk" | while read -r f; do
			sed -i "s|$old|$d/gawk|g" "$f"
		done
		# gawk, its support library and the extensions the tests load; not
		# doc/ (Debian's source has no gawktexi.in to rebuild the manual).
		{ make -C "$d/gawk/support" -j2 && make -C "$d/gawk" -j2 gawk &&
			make -C "$d/gawk/extension" -j2; } >"$d/gawk-build.log" 2>&1
		sizeof "$name" gawk "$d/gawk/gawk"
	fi
done
