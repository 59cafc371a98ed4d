#!/bin/sh
# The scale benchmark: a generated trace of N ops (default 10 million) must
# parse at millions of lines a second and replay in bounded memory per op.
#
#   tools/bench-scale.sh [OPS] [POLICY]      (make bench-scale)
#
# Prints the parse rate, then the wall time and peak RSS of a full checked
# replay (both checked runs and the timed passes) and the bytes per op.
set -eu
ops=${1:-10000000}
policy=${2:-segfit}
bin=${MALLOCSIM:-.venv/bin/mallocsim}
py=${PYTHON:-.venv/bin/python}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
trace="$dir/scale.rep"

"$bin" gen random --ops "$ops" --seed 7 -o "$trace"
echo "trace: $ops ops, $(wc -c < "$trace") bytes"
"$py" - "$trace" <<'PY'
import sys, time
from mallocsim import load_trace
start = time.perf_counter()
trace = load_trace(sys.argv[1])
seconds = time.perf_counter() - start
lines = trace.num_ops + 4
print(f"parse: {seconds:.2f} s, {lines / seconds / 1e6:.1f} M lines/s")
PY
/usr/bin/time -f "replay: %e s wall, peak RSS %M KB" "$bin" replay -a "$policy" --no-isolate "$trace" \
    > "$dir/report.txt" 2> "$dir/time.txt" || { cat "$dir/report.txt" "$dir/time.txt"; exit 1; }
grep -E "^scale " "$dir/report.txt"
cat "$dir/time.txt"
rss=$(sed -n 's/.*peak RSS \([0-9]*\) KB.*/\1/p' "$dir/time.txt")
echo "peak RSS per op: $(( rss * 1024 / ops )) bytes"
