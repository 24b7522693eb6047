#!/bin/bash
# Per-invocation cost of the zero-process mode (issue 20): one compile of
# hello.c (with -c, compile only; without, compile and link), four sides,
# in blocks of 25 runs, the sides alternating block by block, BLOCKS blocks:
#   hand     gcc with immunix-cc's hardening flags typed by hand
#   handfg   the same plus the FormatGuard headers (-isystem)
#   specs    gcc -specs=ZP/immunix.specs (immunix toolchain-config --out ZP)
#   wrapper  immunix-cc (IMMUNIX_CC=gcc)
# Prints per block "SIDE cpu_ms N" (perf stat task-clock: the compiler and
# all its children) and "SIDE wall_ms N" (mean of 25), then the median of
# the block means per side.
#
#   bash bench/zeroproc/invocation.sh ZP IMMUNIX_CC [-c] [BLOCKS]
set -euo pipefail
zp=$1 wrapper=$2 c=${3:-} blocks=${4:-8}
[ "$c" = "-" ] && c=
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n' > hello.c
hand="-fstack-protector-strong -fstack-clash-protection -fcf-protection=full -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -Wformat -Wformat-security -fPIE -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack"
fg=$(ls -d "$zp"/formatguard-include-*)
declare -A cmd
cmd[hand]="gcc $hand -O2 $c -o out.hand hello.c"
cmd[handfg]="gcc $hand -isystem $fg -O2 $c -o out.handfg hello.c"
cmd[specs]="gcc -specs=$zp/immunix.specs -O2 $c -o out.specs hello.c"
cmd[wrapper]="env IMMUNIX_CC=gcc $wrapper -O2 $c -o out.wrapper hello.c"
sides="hand handfg specs wrapper"
for s in $sides; do ${cmd[$s]}; done
out=$work/results
for ((b = 1; b <= blocks; b++)); do
	for s in $sides; do
		perf stat -x, -e task-clock -r 25 ${cmd[$s]} 2>&1 >/dev/null | awk -F, -v s="$s" '/task-clock/{printf "%s cpu_ms %s\n", s, $1}' | tee -a "$out"
		start=$(date +%s%N)
		for ((i = 0; i < 25; i++)); do ${cmd[$s]}; done
		end=$(date +%s%N)
		echo "$s wall_ms $(awk -v d=$((end - start)) 'BEGIN{printf "%.2f", d/25/1e6}')" | tee -a "$out"
	done
done
echo "# medians of the block means"
for s in $sides; do
	for m in cpu_ms wall_ms; do
		echo "$s $m $(awk -v s="$s" -v m="$m" '$1==s && $2==m {print $3}' "$out" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"
	done
done
