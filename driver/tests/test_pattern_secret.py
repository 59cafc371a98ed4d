"""The keyed payload pattern's secret (pattern_secret.py): one per grader, kept private, and a
key per allocator and trace, so that the same code gets the same verdict on every run."""

from __future__ import annotations

import stat

import pytest

from mallocsim.pattern_secret import SECRET_FILE, grader_secret, pattern_seed
from mallocsim.trace import load_trace

from .test_build import CSAPP_TEMPLATE, source


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_the_secret_is_drawn_once_and_kept_where_only_the_grader_reads(tmp_path):
    first = grader_secret()
    assert first is not None and len(first) == 32 and grader_secret() == first
    kept = tmp_path / "cache" / "mallocsim" / SECRET_FILE
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert [p.name for p in kept.parent.iterdir()] == [SECRET_FILE]  # no scratch file left


def test_a_damaged_secret_is_drawn_again(tmp_path):
    # One of another length gave every pass a key of its own, for good, and said nothing
    # (red-team pass 19).
    kept = tmp_path / "cache" / "mallocsim" / SECRET_FILE
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"short")
    secret = grader_secret()
    assert secret is not None and len(secret) == 32 and kept.read_bytes() == secret
    assert [p.name for p in kept.parent.iterdir()] == [SECRET_FILE]


def test_a_secret_that_cannot_be_kept_gives_no_seed(tmp_path, write_trace):
    (tmp_path / "cache" / "mallocsim" / SECRET_FILE).mkdir(parents=True)  # a folder in its place
    assert grader_secret() is None
    assert pattern_seed(None, load_trace(write_trace("t", "a 0 8\nf 0\n"))) is None


def test_each_allocator_and_trace_has_a_seed_of_its_own(tmp_path, write_trace):
    one, two = tmp_path / "one.so", tmp_path / "two.so"
    one.write_bytes(b"code of one")
    two.write_bytes(b"code of two")
    trace = load_trace(write_trace("t", "a 0 8\nf 0\n"))
    other = load_trace(write_trace("u", "a 0 8\nf 0\n"))  # the same ops, another trace
    seed = pattern_seed(one, trace)
    assert seed is not None and len(seed) == 80 and pattern_seed(one, trace) == seed
    assert len({seed, pattern_seed(two, trace), pattern_seed(one, other)}) == 3


# An allocator that reads its free block's first payload byte as its own flag: its verdict hangs
# on that byte, which the keyed pattern decides (a public solution's mm_free did so: 0 or 98 from
# one run to the next, lab check run 9).
READS_PAYLOAD = CSAPP_TEMPLATE.replace(
    "void mm_free(void *ptr) { (void)ptr; }",
    "void mm_free(void *ptr) { if (*(volatile unsigned char *)ptr & 2) *(volatile int *)0 = 0; }",
)


def test_code_that_reads_payloads_gets_one_verdict_run_after_run(cli, write_trace, tmp_path):
    assert READS_PAYLOAD != CSAPP_TEMPLATE
    path = source(tmp_path, "", READS_PAYLOAD)
    trace = write_trace("t", "".join(f"a {i} 16\nf {i}\n" for i in range(6)))
    verdicts = set()
    for _ in range(4):
        run = cli("grade", path, "--lab", "csapp", "--throughput", "time", "--no-cache", "-q",
                  trace)  # fmt: skip
        said = " ".join(run.said.split())
        verdicts.add(said[said.index("crashed") : said.index("pass")] if "crashed" in said else "")
    assert len(verdicts) == 1, verdicts
