"""The trace module: every format accepted, every malformed case rejected with
its exact line and message, files and directories found, live sizes rounded as
the checked pass rounds them, the reference traces read right, and random input
(well-formed or not) handled."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mallocsim.allocators import resolve
from mallocsim.constants import TRACE_READ_CARRY_SIZE
from mallocsim.labs import LABS
from mallocsim.replay import LoadedAllocator, ReplayOptions, replay_trace
from mallocsim.trace import (
    TraceError,
    find_traces,
    load_trace,
    load_traces,
    parse_trace_text,
    rounded_up,
)

SHARED_TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "traces"
NULL = -1  # the id of "f -1", free(NULL), in Trace.ops()


# ------------------------------------------------------------- accepted formats


def test_classic_header():
    trace = parse_trace_text("20000\n6\n4\n1\na 0 2040\na 1 4010\nr 0 100\nf 1\n", "short")
    assert trace.info.format == "classic"
    assert trace.info.header == (20000, 6, 4, 1)
    # num_ids: the ids the ops use (0 and 1): the header's 6 bounds them, and the engine's tables,
    # cleared every pass, are that size (12 ops under 100,000 ids timed 45 times slower)
    assert (trace.num_ops, trace.num_ids, trace.info.weight) == (4, 2, 1)
    assert list(trace.ops()) == [
        ("a", 0, 2040, 0),
        ("a", 1, 4010, 0),
        ("r", 0, 100, 0),
        ("f", 1, 0, 0),
    ]
    assert trace.name == "short" and trace.path is None


def test_cmu_header():
    text = "1\n3\n8\n896\na 0 512\na 1 128\nr 0 640\na 2 128\nf 1\nr 0 768\nf 0\nf 2\n"
    trace = parse_trace_text(text)
    assert trace.info.format == "cmu"
    assert trace.info.header == (1, 3, 8, 896)
    assert trace.info.weight == 1


@pytest.mark.parametrize(("first", "fmt", "weight"), [(3, "cmu", 3), (4, "classic", 7)])
def test_first_header_number_chooses_the_format(first, fmt, weight):
    trace = parse_trace_text(f"{first}\n1\n1\n7\na 0 1\n")
    assert (trace.info.format, trace.info.weight) == (fmt, weight)


def test_script():
    trace = parse_trace_text("# a CS107 script\n\na 5 10\n  # indented\nf 5\na 2 1\nf -1\n\n")
    assert trace.info.format == "script"
    assert trace.info.header == (0, 0, 0, 0)
    assert trace.num_ids == 6  # the largest id + 1
    assert list(trace.ops()) == [("a", 5, 10, 0), ("f", 5, 0, 0), ("a", 2, 1, 0), ("f", NULL, 0, 0)]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("20000\r\n2\r\n2\r\n1\r\na 0 5\r\nf 0\r\n", id="crlf"),
        pytest.param("20000\n2\n2\n1\na 0 5\nf 0\n\n  \n\r\n\t\n", id="trailing-blank-lines"),
        pytest.param("20000\n2\n2\n1\n \ta \t0   5 \t\n  f\t0  \n", id="spaces-and-tabs"),
        pytest.param("20000\n2\n2\n1\na 0 5\nf 0", id="no-final-newline"),
        pytest.param("\ufeff20000\n2\n2\n1\na 0 5\nf 0\n", id="byte-order-mark"),
        pytest.param("# by hand\n20000\n\n2\n2\n1\na 0 5\n# x\nf 0\n", id="comments"),
    ],
)
def test_tolerated_layouts(text):
    trace = parse_trace_text(text)
    assert trace.info.header == (20000, 2, 2, 1)
    assert list(trace.ops()) == [("a", 0, 5, 0), ("f", 0, 0, 0)]


@pytest.mark.parametrize(
    ("text", "ops"),
    [
        pytest.param("a 0 1\na 1 2\n", [("a", 0, 1, 0), ("a", 1, 2, 0)], id="unbalanced"),
        pytest.param(
            "r 3 10\nf 3\n", [("r", 3, 10, 0), ("f", 3, 0, 0)], id="realloc-of-never-allocated"
        ),
        pytest.param(
            "a 0 1\nr 0 0\na 0 2\n",
            [("a", 0, 1, 0), ("r", 0, 0, 0), ("a", 0, 2, 0)],
            id="realloc-to-0-frees",
        ),
        pytest.param(
            "a 0 1\nf 0\na 0 2\n", [("a", 0, 1, 0), ("f", 0, 0, 0), ("a", 0, 2, 0)], id="id-reused"
        ),
        pytest.param("f -1\n", [("f", NULL, 0, 0)], id="free-null"),
        pytest.param("c 0 3 16\nf 0\n", [("c", 0, 16, 3), ("f", 0, 0, 0)], id="calloc-script"),
        pytest.param("20000\n1\n1\n1\nc 0 3 16\n", [("c", 0, 16, 3)], id="calloc-classic"),
        pytest.param("1\n1\n1\n0\nc 0 3 16\n", [("c", 0, 16, 3)], id="calloc-cmu"),
        pytest.param("a 0 281474976710656\n", [("a", 0, 2**48, 0)], id="largest-size"),
        pytest.param("c 0 65536 4294967296\n", [("c", 0, 2**32, 2**16)], id="largest-calloc"),
        pytest.param("a 16777215 1\n", [("a", 2**24 - 1, 1, 0)], id="largest-id"),
    ],
)
def test_accepted_ops(text, ops):
    assert list(parse_trace_text(text).ops()) == ops


# ----------------------------------------------------------------- malformed

MALFORMED = [
    # (id, text, line, message); line 0 means the whole file is to blame
    ("empty", "", 0, "empty trace file"),
    ("blank-and-comments-only", "\n  \n# nothing\r\n", 0, "empty trace file"),
    ("header-not-a-number", "20000\n6\nabc\n1\n", 3,
     "expected the number of ops (header line 3), found 'abc'"),
    ("header-cut-short", "20000\n6\n", 3,
     "expected the number of ops (header line 3), found the end of the file"),
    ("header-two-numbers", "20000\n6\n12 7\n1\n", 3,
     "expected the end of header line 3, found '7'"),
    ("header-on-one-line", "20000 6 12 1\n", 1, "expected the end of header line 1, found '6'"),
    ("not-a-trace", "xyz\n", 1,
     "expected a trace header (a number) or an op (a, r, f or c), found 'xyz'"),
    ("header-first-garbled", "12abc\n", 1, "expected a number (header line 1), found '12abc'"),
    ("cmu-peak-bad", "1\n2\n2\nx\n", 4, "expected the peak live bytes (header line 4), found 'x'"),
    ("classic-weight-negative", "20000\n2\n2\n-1\n", 4,
     "expected the weight (header line 4), found '-1'"),
    ("too-many-ids", "1\n16777217\n0\n0\n", 2,
     "the number of ids 16777217 is too large (at most 16777216)"),
    ("fewer-ops", "1\n2\n3\n0\na 0 1\nf 0\n", 3, "the header declares 3 ops but the file has 2"),
    ("more-ops", "1\n2\n1\n0\na 0 1\nf 0\n\na 1 2\n", 6,
     "the header declares 1 ops but the file has 3"),
    ("unknown-op", "a 0 1\nx 0 1\n", 2, "expected an op (a, r, f or c), found 'x'"),
    ("op-word", "a 0 1\nalloc 0 1\n", 2, "expected an op (a, r, f or c), found 'alloc'"),
    ("missing-size", "a 0 5\na 1\n", 2, "expected a size in bytes, found the end of the line"),
    ("missing-size-crlf", "a 0 5\r\nr 0\r\n", 2,
     "expected a size in bytes, found the end of the line"),
    ("missing-id", "a 0 5\nf\n", 2, "expected a block id, found the end of the line"),
    ("trailing-garbage", "a 0 5 7\n", 1, "expected the end of the line, found '7'"),
    ("trailing-on-free", "a 0 5\nf 0 x\n", 2, "expected the end of the line, found 'x'"),
    ("negative-size", "a 0 -5\n", 1, "expected a size in bytes, found '-5'"),
    ("size-with-unit", "a 0 5k\n", 1, "expected a size in bytes, found '5k'"),
    ("negative-id", "a -1 5\n", 1, "expected a block id, found '-1'"),
    ("size-too-large", "a 0 281474976710657\n", 1,
     "size 281474976710657 is larger than any heap (at most 2^48 bytes)"),
    ("size-beyond-64-bits", "a 0 123456789012345678901234\n", 1,
     "size 12345678901234567890... is larger than any heap (at most 2^48 bytes)"),
    ("calloc-too-large", "c 0 2 140737488355329\n", 1,
     "size 2*140737488355329 is larger than any heap (at most 2^48 bytes)"),
    ("calloc-count-too-large", "c 0 4294967296 1\n", 1,
     "calloc count 4294967296 does not fit in 32 bits"),
    ("calloc-missing-size", "c 0 5\n", 1, "expected an element size, found the end of the line"),
    ("id-out-of-range", "1\n2\n1\n0\na 2 5\n", 5,
     "block id 2 is out of range (the header declares 2 ids)"),
    ("script-id-too-large", "a 16777216 1\n", 1,
     "block id 16777216 is too large (at most 16777215)"),
    ("alloc-of-live", "a 0 1\na 0 2\n", 2, "a 0: block 0 is already allocated"),
    ("calloc-of-live", "a 0 1\nc 0 1 2\n", 2, "c 0: block 0 is already allocated"),
    ("free-never-allocated", "a 0 1\nf 5\n", 2, "f 5: block 5 is not allocated"),
    ("double-free", "a 0 1\nf 0\n\nf 0\n", 4,
     "f 0: block 0 is not allocated (it was freed before)"),
    ("free-after-realloc-0", "a 0 5\nr 0 0\nf 0\n", 3,
     "f 0: block 0 is not allocated (it was freed before)"),
    ("binary", b"a 0 1\n\x01\xff\x00zz 3\n", 2,
     "expected an op (a, r, f or c), found '\\x01\\xff\\x00zz'"),
    ("long-token", "a 0 1\n" + "q" * 30 + "\n", 2,
     "expected an op (a, r, f or c), found 'qqqqqqqqqqqqqqqqqqqq...'"),
    ("lone-carriage-return", "a 0 1\rf 0\n", 1, "expected a size in bytes, found '1\\x0df'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "message"), [pytest.param(*case[1:], id=case[0]) for case in MALFORMED]
)
def test_malformed(text, line, message):
    with pytest.raises(TraceError) as caught:
        parse_trace_text(text, "t.rep")
    where = f"t.rep:{line}" if line else "t.rep"
    assert str(caught.value) == f"{where}: {message}"


# -------------------------------------------------------------------- files


def test_load_trace_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.rep"
    path.write_text("20000\n2\n2\n1\na 0 5\nf 1\n")
    with pytest.raises(TraceError, match=r"^.*/bad\.rep:6: f 1: block 1 is not allocated$"):
        load_trace(path)


@pytest.mark.parametrize(("stem", "shown"), [("a\nb", "a\\x0ab"), ("x\u202ey", "x\\u202ey")])
def test_a_trace_named_with_a_newline_or_an_override_is_shown_escaped(tmp_path, stem, shown):
    # Its name goes into every table: a newline drew rows of its own (red-team pass 17).
    path = tmp_path / f"{stem}.rep"
    path.write_text("a 0 8\nf 0\n")
    assert load_trace(path).name == shown


def test_load_trace_missing_file(tmp_path):
    path = tmp_path / "none.rep"
    with pytest.raises(TraceError) as caught:
        load_trace(path)
    assert str(caught.value) == f"{path}: cannot open the file: No such file or directory"


def test_load_trace_and_line_of_op(tmp_path):
    path = tmp_path / "mine.rep"
    path.write_text("# by hand\n20000\n3\n3\n1\n\na 0 1\n# gap\nf 0\r\n\nf -1\n")
    trace = load_trace(path)
    assert (trace.name, trace.path, trace.num_ops) == ("mine", str(path), 3)
    assert [trace.line_of_op(i) for i in range(3)] == [7, 9, 11]
    assert trace.line_of_op(3) is None
    assert trace.line_of_op(-1) is None
    assert parse_trace_text("a 0 1\n").line_of_op(0) is None  # no file to read


def test_find_traces(tmp_path):
    for name in ("b.rep", "a.rep", "notes.txt"):
        (tmp_path / name).write_text("a 0 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.rep").write_text("a 0 1\n")
    single = tmp_path / "notes.txt"
    assert find_traces([tmp_path, single]) == [tmp_path / "a.rep", tmp_path / "b.rep", single]


def test_find_traces_leaves_a_missing_file_for_the_loader_to_name(tmp_path):
    missing = tmp_path / "nope.rep"
    assert find_traces([missing]) == [missing]


def test_find_traces_directory_without_traces(tmp_path):
    with pytest.raises(TraceError, match=r": no \.rep trace files in this directory$"):
        find_traces([tmp_path])


def test_load_traces_reports_a_bad_file_and_loads_the_others(tmp_path):
    (tmp_path / "a.rep").write_text("a 0 1\nf 0\n")
    (tmp_path / "b.rep").write_text("a 0 1\nq 0\n")
    (tmp_path / "c.rep").write_text("a 0 2\n")
    traces, problems = load_traces([tmp_path])
    assert [t.name for t in traces] == ["a", "c"]
    [problem] = problems
    assert problem.startswith(f"{tmp_path / 'b.rep'}:2: ")
    traces, problems = load_traces([tmp_path / "nope.rep", tmp_path / "a.rep"])
    assert [t.name for t in traces] == ["a"]
    assert problems == [f"{tmp_path / 'nope.rep'}: cannot open the file: No such file or directory"]


# ------------------------------------------------------ live sizes, rounded

# Live after each op, each size rounded up to 8 | to 16: a 1 -> 8 | 16, a 9 ->
# 24 | 32, r 17 replaces the 1 -> 40 | 48, c 3 x 5 -> 56 | 64 (the peak),
# free(NULL) changes nothing, f 1 -> 40 | 48, a 8 -> 48 | 64, "r 2 0" ends
# block 2 -> 32 | 48.
EVERY_KIND = "a 0 1\na 1 9\nr 0 17\nc 2 3 5\nf -1\nf 1\na 3 8\nr 2 0\n"


def test_peak_blocks_rounded_up_counts_live_sizes_as_the_checked_pass_does():
    trace = parse_trace_text(EVERY_KIND)
    assert trace.peak_blocks(rounded_up(8)) == 56 and trace.peak_blocks(rounded_up(16)) == 64
    assert trace.peak_blocks(rounded_up(1)) == 17 + 9 + 15  # not rounded: the peak payload
    # At 16 it is what the engine's checked pass reports as peak_aligned.
    with LoadedAllocator(resolve("glibc")) as alloc:
        result = replay_trace(trace, alloc, ReplayOptions(timing=False))
    assert result.valid and result.peak_aligned == 64


def test_peak_blocks_counts_each_live_block_as_the_rounding_given_says_once_per_size():
    asked = []

    def block_size(size):  # an allocator with a 100-byte header and no rounding
        asked.append(size)
        return size + 100

    trace = parse_trace_text(EVERY_KIND + "a 4 9\n")
    # The peak: after "c 2 3 5", 117 + 109 + 115 (at the end 117 + 108 + 109, 7 less).
    assert trace.peak_blocks(block_size) == 117 + 109 + 115
    assert sorted(asked) == [1, 8, 9, 15, 17]  # each size once; 0 ("r 2 0") counts 0
    assert trace.peak_blocks(lambda size: (size + 7) & ~7) == trace.peak_blocks(rounded_up(8))


def test_block_sizes_are_the_sizes_peak_blocks_asks_about():
    trace = parse_trace_text(EVERY_KIND + "a 4 9\n")
    assert trace.block_sizes() == {1, 8, 9, 15, 17}  # calloc's is 3 x 5; "r 2 0" has none


# --------------------------------------------------------- reference traces

REFERENCE_HEADERS = {
    "classic/amptjp-bal.rep": ("classic", (3000000, 2847, 5694, 1)),
    "classic/realloc-bal.rep": ("classic", (100, 4801, 14401, 1)),
    "classic/short1-bal.rep": ("classic", (20000, 6, 12, 1)),
    "cmu/syn-array.rep": ("cmu", (1, 40000, 80000, 31312856)),
    "cmu/syn-largemem-short.rep": ("cmu", (0, 21, 42, 38654727413)),
    "cmu/ngram-fox1.rep": ("cmu", (0, 18, 36, 656)),
}


@pytest.mark.skipif(not SHARED_TRACES.is_dir(), reason="../shared/traces is absent")
@pytest.mark.parametrize("name", sorted(REFERENCE_HEADERS))
def test_reference_headers(name):
    trace = load_trace(SHARED_TRACES / name)
    fmt, header = REFERENCE_HEADERS[name]
    assert (trace.info.format, trace.info.header) == (fmt, header)
    assert (trace.num_ids, trace.num_ops) == (header[1], header[2])


@pytest.mark.skipif(not SHARED_TRACES.is_dir(), reason="../shared/traces is absent")
def test_every_reference_trace_parses():
    paths = find_traces([SHARED_TRACES / "classic", SHARED_TRACES / "cmu"])
    assert len(paths) >= 20
    for path in paths:
        trace = load_trace(path)
        assert trace.num_ops == trace.info.header[2]
        assert trace.line_of_op(trace.num_ops - 1) == 4 + trace.num_ops


# ------------------------------------------------------------ random input


@st.composite
def well_formed(draw: st.DrawFn) -> list[tuple[str, int, int, int]]:
    """A valid op sequence: a/c only on ids not live, f only on live ids (or
    -1), r on any id; a block is live after a, c or r to a nonzero size."""
    live: set[int] = set()
    ops = []
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from("aarfc"))
        size = draw(st.one_of(st.integers(0, 100), st.integers(0, 2**48)))
        if kind == "f":
            ident = draw(st.sampled_from(sorted(live))) if live else NULL
            live.discard(ident)
            ops.append(("f", ident, 0, 0))
            continue
        ident = draw(st.integers(0, 12))
        if kind != "r" and ident in live:
            kind = "r"
        if kind == "c":
            count = draw(st.integers(0, 2**32 - 1))
            size = draw(st.integers(0, 2**48 // max(count, 1)))
            ops.append(("c", ident, size, count))
            live.add(ident)
        else:
            ops.append((kind, ident, size, 0))
            if kind == "a" or size > 0:
                live.add(ident)
            else:
                live.discard(ident)
    return ops


def op_line(op: tuple[str, int, int, int], gap: str) -> str:
    """An op as a trace line, its fields separated by `gap`."""
    letter, ident, size, count = op
    fields = {"f": (letter, ident), "c": (letter, ident, count, size)}
    return gap.join(map(str, fields.get(letter, (letter, ident, size))))


@given(
    ops=well_formed(),
    header=st.sampled_from(["classic", "cmu", "script"]),
    gap=st.sampled_from([" ", "\t", "  \t "]),
    newline=st.sampled_from(["\n", "\r\n"]),
    filler=st.sampled_from(["", "\n", "# note\n", "  \n"]),
)
@settings(max_examples=200, deadline=None)
def test_written_ops_read_back(ops, header, gap, newline, filler):
    lines = [op_line(op, gap) for op in ops]
    num_ids = max([i for _, i, _, _ in ops if i != NULL], default=-1) + 1
    first = {"classic": [str(10**6), str(num_ids + 3)], "cmu": ["2", str(num_ids + 3)]}
    head = [*first[header], str(len(ops)), "0"] if header != "script" else []
    text = filler.join(line + newline for line in head + lines)
    trace = parse_trace_text(text)
    assert list(trace.ops()) == ops
    assert trace.info.format == header
    assert trace.num_ids == num_ids  # a header's larger count bounds the ids, no more


@given(st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_random_bytes_give_a_trace_or_one_error_line(data):
    try:
        trace = parse_trace_text(data)
    except TraceError as error:
        assert "\n" not in str(error)
    else:
        assert trace.num_ops == len(list(trace.ops()))


@given(st.text(alphabet="0123456789arfcx -#\t\r\n", max_size=200))
@settings(max_examples=500, deadline=None)
def test_trace_like_text_gives_a_trace_or_one_error_line(text):
    try:
        parse_trace_text(text)
    except TraceError as error:
        assert str(error).startswith("<text>")


def test_a_traces_script_text_parses_back_to_the_same_ops():
    text = "a 0 24\nc 1 3 8\nr 0 100\nf -1\nf 1\nf 0\n"
    trace = parse_trace_text(text, "mixed")
    assert trace.script_text() == text
    assert list(parse_trace_text(trace.script_text(), "again").ops()) == list(trace.ops())


def test_a_cmu_labs_reading_takes_what_its_drivers_fscanf_takes_and_says_so():
    # The CMU drivers keep the size read last for an `a id` line without one and stop at the
    # header's op count; the 2013-2015 handout's own traces rely on both (labs.py).
    text = "0\n3\n5\n0\na 0 16\na 1\nf 0\nr 1\na 2 8\nf 2\nf 1\n"
    trace = parse_trace_text(text, "handout", LABS["cmu-2015"].trace_reading)
    assert list(trace.ops()) == [("a", 0, 16, 0), ("a", 1, 16, 0), ("f", 0, 0, 0),
                                 ("r", 1, 16, 0), ("a", 2, 8, 0)]  # fmt: skip
    assert trace.info.reading_note() == (
        "handout: 2 ops without a size took the size read before (from line 6) and 2 lines "
        "past the header's 5 ops not read (from line 10), as the lab's driver reads it"
    )
    assert LABS["cmu"].trace_reading == LABS["cmu-2015"].trace_reading
    for lab in ("csapp", "mallocsim"):  # strict: a size left out is a slip in the file
        with pytest.raises(TraceError, match=r"^handout:6: expected a size in bytes"):
            parse_trace_text(text, "handout", LABS[lab].trace_reading)
    # A trace that needs neither reads the same either way, and says nothing.
    whole = parse_trace_text("0\n1\n2\n0\na 0 8\nf 0\n", "whole", TRACE_READ_CARRY_SIZE)
    assert whole.info.reading_note() is None
    assert list(whole.ops()) == [("a", 0, 8, 0), ("f", 0, 0, 0)]


def test_an_unknown_reading_is_refused_before_the_parser_sees_it():
    with pytest.raises(ValueError, match="unknown trace reading flags 0x4"):
        parse_trace_text("a 0 8\n", "t", 4)
