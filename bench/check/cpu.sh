#!/bin/bash
# CPU time (user+sys, children included) of immunix check, an older
# immunix check, hardening-check and checksec on the same list of ELF
# files, all started at once. CPU time, not wall time: on this shared
# 2-core machine the load average ran between 20 and 60 while it was
# measured, and wall time measured the other engineers' jobs.
#
#   find /usr/bin /usr/lib/x86_64-linux-gnu -type f ... (ELF only, sorted) | awk 'NR%8==1' > sub.txt
#   bench/check/cpu.sh sub.txt NEW/immunix-tools OLD/immunix-tools
#
# Prints one line per tool: name, user seconds, system seconds, wall.
# hardening-check and checksec are slow enough that a partial run can be
# read from /proc/PID/stat (utime+stime+cutime+cstime) against the number
# of files they have reported so far (BENCHMARKS.md says which was used).
set -e
list=$1 new=$2 old=$3
out=$(mktemp -d)
/usr/bin/time -f "immunix-check %U %S %e" -o "$out/new" "$new" check -f json -j 1 --progress never - < "$list" > "$out/new.json" 2>/dev/null &
/usr/bin/time -f "immunix-check-old %U %S %e" -o "$out/old" "$old" check -f json -j 1 --progress never - < "$list" > "$out/old.json" 2>/dev/null &
/usr/bin/time -f "hardening-check %U %S %e" -o "$out/hc" bash -c "xargs -n 200 hardening-check < '$list' > '$out/hc.txt' 2>&1" &
/usr/bin/time -f "checksec %U %S %e" -o "$out/cs" bash -c "while read f; do checksec --output=csv --file=\"\$f\"; done < '$list' > '$out/cs.txt' 2>&1" &
wait || true
cat "$out/new" "$out/old" "$out/hc" "$out/cs" | grep -v '^Command'
echo "outputs in $out"
