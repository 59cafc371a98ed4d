#!/bin/sh
# The grade-stability benchmark: one submission graded RUNS times (default 10),
# idle or with both cores loaded, each score printed, then the spread.
#
#   tools/bench-grade.sh [MM.C] [LAB] [TRACES] [MEASURE]     (make bench-grade)
#   LOAD=2 tools/bench-grade.sh ...     the same with 2 busy loops beside it
#
# MEASURE is the grade's throughput measure: "instructions" (the default,
# counted by callgrind: the score must not move) or "time" (the lab's own,
# seconds of the timed passes: it moves with the machine's load).
set -eu
source=${1:-driver/tests/allocators/labs/csapp_explicit.c}
lab=${2:-csapp}
traces=${3:-../shared/traces/classic}
measure=${4:-instructions}
runs=${RUNS:-10}
load=${LOAD:-0}
bin=${MALLOCSIM:-.venv/bin/mallocsim}
scores=$(mktemp)
burners=""
trap 'rm -f "$scores"; for p in $burners; do kill "$p" 2>/dev/null || true; done' EXIT
i=0
while [ "$i" -lt "$load" ]; do
    sh -c 'while :; do :; done' &
    burners="$burners $!"
    i=$((i + 1))
done
echo "grading $source, lab $lab, throughput by $measure, $runs runs, $load busy loops beside"
i=1
while [ "$i" -le "$runs" ]; do
    start=$(date +%s.%N)
    line=$("$bin" grade "$source" --lab "$lab" --throughput "$measure" "$traces" 2>/dev/null |
        grep '^  score ' || true)
    end=$(date +%s.%N)
    score=$(echo "$line" | awk '{print $2}')
    awk -v i="$i" -v s="${score:-failed}" -v a="$start" -v b="$end" \
        'BEGIN {printf "run %2d: score %s  (%.1f s)\n", i, s, b - a}'
    echo "${score:-nan}" >> "$scores"
    i=$((i + 1))
done
sort -n "$scores" | awk '{v[NR] = $1} END {printf "min %s  max %s  spread %.2f points\n", v[1], v[NR], v[NR] - v[1]}'
