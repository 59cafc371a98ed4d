"""The drop-in malloc (libmallocsim.so): real programs give the same output on
it as on glibc, threads and fork work, and `mallocsim run` runs a program on it.

Each program runs twice, once plainly and once with the library preloaded, and
the outputs must be equal byte for byte. Python runs with PYTHONMALLOC=malloc
in both runs, so every object goes through malloc rather than Python's own
small-object allocator.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mallocsim._native import NATIVE_DIR
from mallocsim.allocators import builtin_policies

from .conftest import REPO

# MALLOCSIM_DROPIN runs these tests on another build, e.g. another policy's:
#   MALLOCSIM_DROPIN=driver/mallocsim/_native/libmallocsim-explicit.so
DROPIN = Path(os.environ.get("MALLOCSIM_DROPIN", NATIVE_DIR / "libmallocsim.so"))
STRESS_SOURCE = REPO / "c" / "tests" / "test_dropin_threads.c"

# A non-trivial workload: dicts, sets, strings, big integers, json, regexes,
# sorting, a class hierarchy and garbage; it prints a digest of the results.
PYTHON_SCRIPT = r"""
import hashlib, json, re, collections

class Node:
    def __init__(self, key, children):
        self.key, self.children = key, children

def tree(depth, key):
    return Node(key, [tree(depth - 1, key * 3 + i) for i in range(3)] if depth else [])

def walk(node):
    return node.key + sum(walk(child) for child in node.children)

words = [f"w{(i * 7919) % 10007:05d}" * (1 + i % 5) for i in range(60000)]
counts = collections.Counter(w[:4] for w in words)
index = {w: i for i, w in enumerate(words)}
text = " ".join(words[:20000])
found = re.findall(r"w(\d{3})1", text)
blob = json.dumps({"counts": counts, "sample": words[::97], "found": found[:500]})
back = json.loads(blob)
big = 1
for i in range(1, 3000):
    big = big * i + len(words[i])
trees = [walk(tree(7, k)) for k in range(8)]
grown = []
for i in range(20000):
    grown.append(bytearray(i % 700))
    if i % 3 == 0:
        grown.pop(0)
digest = hashlib.sha256()
for part in (sorted(index)[:1000], back["sample"], str(big % 10**60), trees, len(grown)):
    digest.update(repr(part).encode())
print(len(words), len(counts), len(found), digest.hexdigest())
"""

# 100,000 rows: insert, index, aggregate, join, update, delete, query.
SQLITE_SCRIPT = """
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x,
    printf('name-%06d-%s', x, substr('abcdefghijklmnopqrstuvwxyz', x % 26 + 1, x % 7 + 1)),
    x % 97, (x * 7919) % 10007 / 3.0 FROM c;
CREATE INDEX t_grp ON t(grp);
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(val), min(name), max(name) FROM t;
SELECT grp, count(*), round(avg(val), 4) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT a.id, b.id FROM t a JOIN t b ON a.grp = b.grp AND b.id = a.id + 97 WHERE a.id < 300 LIMIT 5;
UPDATE t SET name = name || '-updated' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), group_concat(substr(name, -8), ',')
    FROM (SELECT name FROM t ORDER BY name DESC LIMIT 20);
SELECT grp, length(group_concat(name)) FROM t GROUP BY grp ORDER BY 2 DESC LIMIT 3;
"""

FORK_SCRIPT = r"""
import os, subprocess, threading, multiprocessing

def churn(stop):
    while not stop.is_set():
        junk = [bytes(n % 500) for n in range(2000)]
        del junk

def square(n):
    return sum(i * i for i in range(n))

stop = threading.Event()
threads = [threading.Thread(target=churn, args=(stop,)) for _ in range(3)]
for t in threads:
    t.start()
statuses = []
for _ in range(20):  # fork while other threads hold and take the malloc lock
    pid = os.fork()
    if pid == 0:
        ok = len([bytes(100) for _ in range(1000)]) == 1000
        os._exit(0 if ok else 1)
    statuses.append(os.waitpid(pid, 0)[1])
echo = subprocess.run(["echo", "from a child"], capture_output=True, text=True).stdout
with multiprocessing.get_context("fork").Pool(2) as pool:
    squares = pool.map(square, range(200, 260))
stop.set()
for t in threads:
    t.join()
print(statuses == [0] * 20, echo.strip(), sum(squares))
"""


@pytest.fixture(scope="module")
def dropin() -> Path:
    assert DROPIN.exists(), f"{DROPIN} is not built: run `make native`"
    return DROPIN


def run_both(dropin: Path, command: list, **kwargs: object) -> tuple[str, str]:
    """The command's stdout on glibc and on the drop-in library (both must succeed)."""
    env = dict(os.environ, PYTHONMALLOC="malloc", LC_ALL="C")
    outputs = []
    for preload in ("", str(dropin)):
        result = subprocess.run(
            command,
            env=dict(env, LD_PRELOAD=preload),
            capture_output=True,
            timeout=120,
            **kwargs,
        )
        where = "on libmallocsim" if preload else "on glibc"
        assert result.returncode == 0, f"{command[0]} {where}: {result.stderr[-2000:]!r}"
        outputs.append(result.stdout)
    return outputs[0], outputs[1]


def _under(dropin, script: str) -> list[str]:
    """The words a Python script prints with the drop-in preloaded."""
    env = dict(os.environ, LD_PRELOAD=str(dropin))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_library_serves_malloc(dropin):
    # Guards the other tests: the library is loaded and malloc is its own.
    script = (
        "import ctypes; libc = ctypes.CDLL(None); libc.malloc.restype = ctypes.c_void_p;"
        "p = libc.malloc(100);"
        "maps = open('/proc/self/maps').read();"
        "print('libmallocsim' in maps, libc.malloc_usable_size(ctypes.c_void_p(p)) >= 100)"
    )
    assert _under(dropin, script) == ["True", "True"]


def test_python_script(dropin):
    plain, ours = run_both(dropin, [sys.executable, "-c", PYTHON_SCRIPT])
    assert plain == ours and len(plain) > 64


def test_sqlite_100k_rows(dropin, tmp_path):
    command = ["sh", "-c", 'rm -f "$0"; exec sqlite3 "$0"', str(tmp_path / "t.db")]
    plain, ours = run_both(dropin, command, input=SQLITE_SCRIPT.encode())
    assert plain == ours and plain.startswith(b"100000|")


def test_gcc_compiles_a_file(dropin, tmp_path):
    command = [
        "gcc",
        "-std=c11",
        "-D_GNU_SOURCE",
        "-O2",
        "-S",
        "-o",
        "-",
        str(STRESS_SOURCE),
        f"-I{REPO / 'c' / 'tests'}",
    ]
    plain, ours = run_both(dropin, command)
    assert plain == ours and b"main:" in plain


def test_git_on_the_repo(dropin, tmp_path):
    # A clone of a fixed commit, so others' work in the checkout cannot change
    # the answer between the two runs.
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    script = (
        'set -e; rm -rf "$1"; git clone -q --no-checkout "$0" "$1"; cd "$1";'
        'git checkout -q "$2"; git log --oneline | head -50; git status --porcelain;'
        "git ls-files | wc -l; git log --stat -3 | tail -20"
    )
    plain, ours = run_both(dropin, ["sh", "-c", script, str(REPO), str(tmp_path / "clone"), head])
    assert plain == ours and head[:7].encode() in plain


def test_fork_threads_and_subprocesses(dropin):
    plain, ours = run_both(dropin, [sys.executable, "-c", FORK_SCRIPT])
    assert plain == ours and plain.startswith(b"True from a child")


def test_threaded_stress(dropin, tmp_path):
    binary = tmp_path / "stress"
    subprocess.run(
        ["gcc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-pthread", "-o", binary, STRESS_SOURCE],
        check=True,
    )
    env = dict(os.environ, LD_PRELOAD=str(dropin), EXPECT_MALLOC_FROM="libmallocsim")
    result = subprocess.run(
        [binary, "4", "60000"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


@pytest.mark.parametrize("policy", builtin_policies())
def test_every_policy_runs_python(policy):
    # `mallocsim run --policy`: each policy's own drop-in library, on a
    # workload light enough for the slowest (implicit, first fit).
    script = (
        "import json; rows = [{'k': i, 's': 'x' * (i % 300)} for i in range(20000)];"
        "print(len(json.dumps(rows)), len(json.loads(json.dumps(rows))))"
    )
    command = [sys.executable, "-c", script]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO / "driver"), os.environ.get("PYTHONPATH", "")]),
    )
    plain = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    ours = subprocess.run(
        [sys.executable, "-m", "mallocsim", "run", "--policy", policy, "--", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == plain


def test_mallocsim_run_passes_the_exit_status(dropin, cli):
    env_check = "case $LD_PRELOAD in *libmallocsim.so*) exit 3;; esac; exit 9"
    # `run` replaces nothing in-process: its status is the program's.
    assert cli("run", "--", "sh", "-c", env_check).status == 3
    missing = cli("run", "--", "/nonexistent/program")
    assert missing.status == 2 and "cannot run" in missing.err
    assert cli("run").status == 2
    unknown = cli("run", "--policy", "nonesuch", "--", "true")
    assert unknown.status == 2 and "no drop-in library for policy 'nonesuch'" in unknown.err


def test_the_mapping_threshold_rises_as_glibcs_does(dropin):
    # A block of one large size allocated and freed again and again comes from the heap once
    # one was freed, not from a mapping each time (mawk ran 6 times glibc's time so).
    script = (
        "import ctypes; libc = ctypes.CDLL(None);"
        "libc.malloc.restype = ctypes.c_void_p; libc.malloc.argtypes = [ctypes.c_size_t];"
        "libc.free.argtypes = [ctypes.c_void_p];"
        "libc.sbrk.restype = ctypes.c_void_p; libc.sbrk.argtypes = [ctypes.c_ssize_t];"
        "first = libc.malloc(300 << 10); mapped = first > libc.sbrk(0); libc.free(first);"
        "second = libc.malloc(300 << 10); print(mapped, second < libc.sbrk(0))"
    )
    assert _under(dropin, script) == ["True", "True"]
