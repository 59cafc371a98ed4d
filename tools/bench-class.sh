#!/usr/bin/env bash
# The class benchmark: grade a generated class of submissions (correct, slow,
# crashing, hanging and non-compiling, in both labs; tools/make_class.py) as
# an instructor would, from a cold cache, and report what it costs.
#
#   tools/bench-class.sh                            (make bench-class)
#   STUDENTS=40 JOBS=1 tools/bench-class.sh         a smaller class, one job
#
# Run 1, cold: each lab's class graded with -j JOBS into a gradebook; the wall
#   time, the cost per submission, each category's scores (categories.csv
#   joined with the gradebook: correct and slow must pass, the rest fail), and
#   PASS when the whole class took under 10 minutes.
# Run 2, regrade: 5 correct csapp submissions changed, the same command again;
#   the grader's last lines, and PASS when exactly those 5 were graded anew.
# Run 3, scaling: the first SUBSET csapp submissions, each from a fresh cache,
#   with -j 1 then -j 2: both wall times and the speed-up.
#
# Settings: STUDENTS (300), JOBS (2), SUBSET (40), SEED (1); TIMEOUT fixes
# every trace's limit (--timeout; unset: the grader's own limits); KEEP=1
# keeps the class, the gradebooks and the logs. Grade exit status 1 (some
# submission failed) is expected; 2 or more stops the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
students=${STUDENTS:-300}
jobs=${JOBS:-2}
subset=${SUBSET:-40}
seed=${SEED:-1}
bin=${MALLOCSIM:-.venv/bin/mallocsim}
py=${PYTHON:-python3}
budget=600 # seconds: the class must be graded within 10 minutes
if [ -d ../shared/traces ]; then
    classic=../shared/traces/classic
    cmu=../shared/traces/cmu
else
    classic=traces
    cmu=traces
fi
timeout_flag=()
if [ -n "${TIMEOUT:-}" ]; then
    timeout_flag=(--timeout "$TIMEOUT")
fi

work=$(mktemp -d)
if [ -n "${KEEP:-}" ]; then
    trap 'echo "kept: $work"' EXIT
else
    trap 'rm -rf "$work"' EXIT
fi
class=$work/class

# run_grade LOG ARGS...: `mallocsim grade --quiet ARGS...` into LOG; sets
# $elapsed (wall seconds). Status 1 (a submission failed) is a result.
run_grade() {
    local log=$1 start end status=0
    shift
    start=$(date +%s.%N)
    "$bin" grade --quiet "${timeout_flag[@]}" "$@" > "$log" 2>&1 || status=$?
    end=$(date +%s.%N)
    if [ "$status" -ge 2 ]; then
        echo "mallocsim grade stopped with status $status: $*" >&2
        tail -n 20 "$log" >&2
        exit "$status"
    fi
    elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}')
}

# summarize LAB GRADEBOOK: each category's count, passes and scores.
summarize() {
    "$py" - "$class/categories.csv" "$1" "$2" <<'PY'
import csv, statistics, sys
categories, lab, gradebook = sys.argv[1:]
with open(gradebook, newline="") as f:
    rows = {r["student"]: r for r in csv.DictReader(f)}
intent = {}
with open(categories, newline="") as f:
    for r in csv.DictReader(f):
        if r["lab"] == lab:
            intent.setdefault(r["category"], []).append(r["student"])

def passed(row):
    if "passed" in row:
        return row["passed"].strip().lower() in ("true", "1", "yes")
    return row.get("valid") == row.get("traces")

def numbers(graded, column):
    return [float(r[column]) for r in graded if (r.get(column) or "").strip()]

# T/T_ref tells slow from correct where the score cannot (a throughput part already 0).
print(f"  {'category':<14} {'n':>4} {'passed':>7}   score min / mean / max   mean T/T_ref")
wrong, missing = [], []
order = ["correct", "slow", "crashing", "hanging", "non-compiling"]
for category in sorted(intent, key=lambda c: order.index(c) if c in order else len(order)):
    names = intent[category]
    graded = [rows[n] for n in names if n in rows]
    missing += [n for n in names if n not in rows]
    ok = [r for r in graded if passed(r)]
    should = category in ("correct", "slow")
    wrong += [f"{r['student']} ({category})" for r in graded if passed(r) != should]
    scores, ratios = numbers(graded, "score"), numbers(ok, "throughput_ratio")
    spread = (f"{min(scores):6.1f} / {statistics.fmean(scores):5.1f} / {max(scores):5.1f}"
              if scores else f"{'-':>6}{'':17}")
    ratio = f"{statistics.fmean(ratios):.3f}" if ratios else "-"
    print(f"  {category:<14} {len(names):>4} {len(ok):>7}   {spread}   {ratio:>12}")
if missing:
    print(f"  not in the gradebook: {len(missing)} ({' '.join(missing[:10])})")
print("  against intent (correct and slow pass, the rest fail): "
      + (f"{len(wrong)} disagree: {' '.join(wrong[:10])}" if wrong else "all agree"))
PY
}

# regraded GRADEBOOK: the students graded anew in this run (not from the cache).
regraded() {
    "$py" - "$1" <<'PY'
import csv, sys
with open(sys.argv[1], newline="") as f:
    rows = list(csv.DictReader(f))
if rows and "cached" not in rows[0]:
    sys.exit("the gradebook has no 'cached' column")
print(" ".join(sorted(r["student"] for r in rows
                      if r["cached"].strip().lower() not in ("true", "1", "yes"))))
PY
}

"$py" tools/make_class.py "$class" --students "$students" --seed "$seed"
echo "grading with $bin, -j $jobs, traces $classic and $cmu${TIMEOUT:+, --timeout $TIMEOUT}"

echo
echo "== run 1: the whole class, cold cache"
export XDG_CACHE_HOME=$work/cache
total=0
for lab in csapp cmu; do
    if [ "$lab" = csapp ]; then traces=$classic; else traces=$cmu; fi
    count=$(find "$class/$lab" -name mm.c | wc -l)
    run_grade "$work/$lab.log" --lab "$lab" -j "$jobs" "$class/$lab" "$traces" \
        --gradebook "$work/$lab.csv"
    total=$(awk -v a="$total" -v b="$elapsed" 'BEGIN {print a + b}')
    awk -v l="$lab" -v n="$count" -v s="$elapsed" -v j="$jobs" 'BEGIN {
        printf "%s: %d submissions in %.1f s wall: %.2f s each (%.2f core-s at -j %d)\n",
            l, n, s, s / n, s * j / n, j}'
    summarize "$lab" "$work/$lab.csv"
done
awk -v n="$students" -v s="$total" -v b="$budget" 'BEGIN {
    printf "class: %d submissions in %.1f s wall (%.2f s each): %s (under %d s)\n",
        n, s, s / n, (s < b ? "PASS" : "FAIL"), b}'

echo
correct=$(awk -F, '$1 == "csapp" && $3 == "correct"' "$class/categories.csv" | wc -l)
change=$((correct < 5 ? correct : 5))
echo "== run 2: $change csapp submissions changed, the same command again"
changed=$("$py" tools/make_class.py "$class" --change "$change" --seed "$seed" --lab csapp | xargs)
echo "changed: $changed"
run_grade "$work/csapp-regrade.log" --lab csapp -j "$jobs" "$class/csapp" "$classic" \
    --gradebook "$work/csapp-regrade.csv"
tail -n 3 "$work/csapp-regrade.log" | sed 's/^/  | /'
again=$(regraded "$work/csapp-regrade.csv")
echo "graded anew: ${again:-none}"
echo "csapp regrade: $elapsed s wall: $([ "$again" = "$changed" ] && echo PASS || echo FAIL)" \
    "(only the changed ones graded)"

echo
echo "== run 3: scaling, the first $subset csapp submissions, each from a fresh cache"
mapfile -t some < <(find "$class/csapp" -name mm.c | sort | head -n "$subset")
declare -A wall
for j in 1 2; do
    export XDG_CACHE_HOME=$work/cache-j$j
    run_grade "$work/scaling-j$j.log" --lab csapp -j "$j" "${some[@]}" "$classic" \
        --gradebook "$work/scaling-j$j.csv"
    wall[$j]=$elapsed
    echo "-j $j: ${#some[@]} submissions in $elapsed s wall"
done
awk -v a="${wall[1]}" -v b="${wall[2]}" 'BEGIN {printf "speed-up -j 2 over -j 1: %.2fx\n", a / b}'
