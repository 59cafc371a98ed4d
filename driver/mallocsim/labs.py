"""Lab profiles: the rules of each malloc lab's own driver, as data in one place.

A grade is only as good as its agreement with the lab a course runs. A profile
fixes everything a lab's driver decides (read from the published handouts; see
../shared/LABS.md beside the checkout): the interface a student's mm.c is built
against (mm_init's type, the handout's mm.h and memlib.h, the defines its
Makefile passes, the heap checker's names), the alignment every payload needs,
the heap limit, whether the heap may shrink, the team check, the realloc(p, 0)
rule, the default trace list and order and how each trace counts, and the
scoring formula with the lab's constants.

Adding a semester's lab is one more LabProfile in LABS; nothing else changes.
This module imports nothing native: `--help`, `gen`, `diff` and `report` work
without the C build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mallocsim.constants import (
    TRACE_READ_CARRY_SIZE,
    TRACE_READ_STOP_AT_COUNT,
    TRACE_READ_STRICT,
    TRACE_SUFFIX,
)
from mallocsim.errors import UsageError

MIB = 1 << 20


@dataclass(frozen=True)
class TraceRule:
    """How one trace counts in the score."""

    name: str  # the trace file's stem ("amptjp-bal")
    weight: float = 1.0  # its weight in the utilization mean
    utilization: bool = True  # counted in the utilization U
    throughput: bool = True  # counted in the throughput T


# CMU header weights: (counted in utilization, counted in throughput).
HEADER_WEIGHTS = {0: (False, False), 1: (True, True), 2: (True, False), 3: (False, True)}


def header_rule(name: str, trace_format: str, weight: int) -> TraceRule:
    """How a trace counts by its own header: the CMU weight (0 correctness only,
    1 both, 2 utilization only, 3 throughput only); a classic header's weight
    field is unused by its driver, and a headerless script counts for both."""
    if trace_format != "cmu":
        return TraceRule(name)
    utilization, throughput = HEADER_WEIGHTS.get(weight, (True, True))
    return TraceRule(name, 1.0, utilization, throughput)


@dataclass(frozen=True)
class Scoring:
    """A lab's performance index and its constants.

    csapp: P = 100 * (w * U + (1 - w) * min(1, T / T_ref)), U the plain mean of
           every graded trace's utilization, T total ops / total seconds.
    cmu:   P = 100 * (w * u + (1 - w) * t), u = clamp((U - min_util) /
           (max_util - min_util)), t = clamp((T / T_ref - min_speed_ratio) /
           (max_speed_ratio - min_speed_ratio)), U the mean over the
           utilization-weighted traces, T the harmonic mean of the per-trace
           throughputs over the throughput-weighted ones.
    """

    formula: str  # "csapp" or "cmu"
    util_weight: float = 0.6
    throughput_mean: str = "total"  # "total": total ops / total time; "harmonic": per trace
    reference_throughput: float | None = None  # the lab's fixed T_ref (ops/s), if it has one
    reference_allocator: str = "segfit"  # what T_ref is measured from when it is not fixed
    reference_scale: float = 1.0  # T_ref = this * the reference allocator's throughput
    # T_ref's scale when throughput is timed (--throughput time), where it differs (None: the same)
    timed_reference_scale: float | None = None
    min_util: float = 0.55
    max_util: float = 0.74
    min_speed_ratio: float = 0.5
    max_speed_ratio: float = 0.9
    index_digits: int = 0  # how the lab's driver prints the index ("%.0f", "%.1f")
    index_joiner: str = "+"  # between its parts: "Perf index = 44 (util) + 30 (thru) = 74/100"
    # Writable global data mm.c may define before index points are taken (None: no limit), and
    # how many: one per `global_data_bytes_per_point` bytes past it, at most the maximum.
    global_data_limit: int | None = None
    global_data_bytes_per_point: float = 8.0
    global_data_max_deduction: float = 20.0
    # What the lab's driver prints its index out of, and its autograder grades out of: 100, or
    # PKU 2025's 80 (its perfindex is (p1 + p2) * 80). The index here stays 0..100; the lab's
    # points (the configuration's performance_points) and its driver line are on this scale.
    index_out_of: float = 100.0
    # The index, on that scale, below which the lab's autograder gives no points at all (PKU's
    # PERF_THRESHHOLD: 50 in 2022, 48 of 80 in 2025); 0: none.
    zero_below: float = 0.0
    # T_ref in ops a second on the lab's own grading machines where T_ref is measured, not fixed
    # (F20's throughputs.txt): what a second of the memlib's system calls weighs against a counted
    # T_ref (sbrk_cost.py); a fixed T_ref (reference_throughput) is its own.
    driver_reference_speed: float | None = None


@dataclass(frozen=True)
class LabProfile:
    """Everything a lab's driver decides about a student's allocator."""

    name: str  # what --lab takes
    title: str  # for people, in reports
    dialect: str | None  # mm_init: "classic" (int, 0 = success), "cmu" (bool); None = say it
    headers: str | None  # folder under include/labs/ with the handout's mm.h and memlib.h
    defines: tuple[str, ...]  # what the lab's Makefile passes when it builds mm.c
    debug_defines: tuple[str, ...]  # what its debug build adds (the build heap checks use)
    checkers: tuple[str, ...]  # the heap checker's names, in the order they are looked for
    alignment: int  # every payload pointer a multiple of this
    heap_limit: int | None  # bytes the heap may reach (mem_sbrk fails past it); None: no limit
    heap_shrinks: bool  # whether a negative mem_sbrk is allowed
    team: bool  # the classic team_t check before any trace runs
    realloc_zero_null: bool  # realloc(p, 0) must free the block and return NULL
    traces: tuple[str, ...]  # the default trace list, in its order; () = every trace given
    header_weights: bool  # traces count by their header's CMU weight (else all count)
    scoring: Scoring
    driver_quirks: tuple[str, ...] = ()  # where this lab's driver is wrong (see quirks.py)
    # The optimisation level the lab's Makefile builds mm.c at: CS:APP's -O2, the CMU handouts' -O3.
    # It decides more than speed: a file whose functions are C99 `inline` without an external
    # definition links only where every call is inlined (a public 2015 solution, 99 under its
    # driver, did not link at -O2).
    optimization: str = "-O2"
    # The C compiler the lab's Makefile names: CS:APP's and the older CMU handouts' gcc; the F20
    # CMU handout's clang (`CC = $(LLVM_PATH)clang`), whose extensions students' code then uses
    # and gcc refuses (a `static const` array bound at file scope, _Pragma inside an expression).
    # CC in the environment overrides it.
    compiler: str = "gcc"
    # What the lab's Makefile links mdriver with besides mm.o and the C library: the F20
    # handout's LDLIBS = -lm -lrt (a file that calls log2 links there; the older handouts, F22's
    # and CS:APP's link none).
    libraries: tuple[str, ...] = ()
    # Fresh heap memory in the checked passes: "poisoned" (0xA5 bytes, reproducibly) or "zeroed".
    # "zeroed" where the driver's first pass of a trace starts on a zero heap and nothing checks
    # reads of bytes never written: an allocator that reads one (an uninitialised footer that no
    # pass ever writes) works there, and a poison gave it 0.
    fresh_heap: str = "poisoned"
    # What the timed passes start on: "left", what the pass before them left, as the CS:APP and
    # F20 drivers' later passes of a trace do (memlib's mem_reset_brk moves the break and clears
    # nothing: an allocator that trusts memory a pass before wrote fails there, as in the
    # driver's); "zeroed", as the F22+ CMU drivers, whose mem_reset_brk maps the heap afresh
    # before every pass (a file reading a word it never wrote passed under the 2024 handout's
    # driver and crashed in a timed pass here: lab check run 9).
    pass_heap: str = "left"
    # The word size mm.c is built for (WORD_SIZES): "64"; "32" as the CS:APP handout's Makefile
    # builds it (-m32, run in a 32-bit agent); "auto": 64, unless the 64-bit build keeps pointers
    # in 4-byte integers (code written for the handout's -m32, which crashes on x86-64), then 32.
    word_size: str = "64"
    # How the lab's driver reads a trace file (constants.TRACE_READ_* flags): strictly, or as the
    # CMU drivers' fscanf does, which the 2013-2015 handout's own traces need (CMU_DRIVER_READING).
    trace_reading: int = TRACE_READ_STRICT
    # Where the lab's memlib puts the heap, when it fixes the place (None: anywhere). The CMU
    # handouts map it at 0x800000000 (F15's memlib; F20's TRY_DENSE_HEAP_START), and a public 2015
    # solution keeps its links as 32-bit offsets OR'ed with that address: 99 under its driver, a
    # crash at op 0 with the heap elsewhere.
    heap_at: int | None = None
    # Whether the handout's mem_sbrk also calls the real sbrk for every growth, as the F20 and
    # 2013-era CMU memlibs do ("to have similar semantics as a real allocator"): under their
    # drivers each growth is then a brk system call in the timed passes, which the grade charges
    # to the throughput (sbrk_cost.py). CS:APP's and the F22+ memlibs only move a pointer.
    memlib_calls_sbrk: bool = False


WORD_SIZES = ("auto", "64", "32")

# The CMU drivers (F15's and F20's read_trace) read an op with fscanf("%u %u", &index, &size) and
# stop at the header's op count: a line without a size keeps the size read last, and lines past
# the count are never read. The 2013-2015 handout's default list relies on both: alaska.rep
# (weight 0, checked only) has 29,923 `a id` lines without a size and one op past its 100,000;
# lrucd, nlydf, qyqyc and rulsr (weight 1) have 201 ops for a header's 200. The CS:APP driver has
# no such stop (an op past the count overflows its array), and its traces need neither.
CMU_DRIVER_READING = TRACE_READ_CARRY_SIZE | TRACE_READ_STOP_AT_COUNT
CMU_HEAP_AT = 0x800000000  # where the CMU handouts' memlibs map the heap (LabProfile.heap_at)

CSAPP_TRACES = (
    "amptjp-bal",
    "cccp-bal",
    "cp-decl-bal",
    "expr-bal",
    "coalescing-bal",
    "random-bal",
    "random2-bal",
    "binary-bal",
    "binary2-bal",
    "realloc-bal",
    "realloc2-bal",
)
CMU_TRACES = (
    "syn-array-short",
    "syn-struct-short",
    "syn-string-short",
    "syn-mix-short",
    "ngram-fox1",
    "syn-mix-realloc",
    "bdd-aa4",
    "bdd-aa32",
    "bdd-ma4",
    "bdd-nq7",
    "cbit-abs",
    "cbit-parity",
    "cbit-satadd",
    "cbit-xyz",
    "ngram-gulliver1",
    "ngram-gulliver2",
    "ngram-moby1",
    "ngram-shake1",
    "syn-array",
    "syn-mix",
    "syn-string",
    "syn-struct",
    "syn-array-scaled",
    "syn-string-scaled",
    "syn-struct-scaled",
    "syn-mix-scaled",
)

# The Fall 2015 handout's config.h (real-program traces with a 4-line header: weight, ids, ops,
# ignore-ranges).
CMU_2015_TRACES = (
    "alaska",
    "amptjp",
    "bash",
    "boat",
    "cccp",
    "chrome",
    "coalesce-big",
    "coalescing-bal",
    "corners",
    "cp-decl",
    "exhaust",
    "firefox",
    "firefox-reddit",
    "hostname",
    "login",
    "lrucd",
    "ls",
    "malloc",
    "malloc-free",
    "needle",
    "nlydf",
    "perl",
    "qyqyc",
    "random",
    "random2",
    "rm",
    "rulsr",
    "seglist",
    "short2",
)

# The CMU 15-213 F20 handout (the `cmu` lab), and the F22+ handouts (2022-2024) that differ
# from it in what decides a verdict: every pass starts on a heap mapped afresh, and a trace
# file's every line is read strictly (tracefile.c), its errors fatal. Read side by side,
# docs/labs.md (the F22+ handouts).
CMU_F20 = LabProfile(
    name="cmu",
    title="CMU 15-213 malloc lab (F20 handout)",
    dialect="cmu",
    headers="cmu",
    defines=("DRIVER",),
    debug_defines=("DEBUG=1",),
    checkers=("mm_checkheap",),
    alignment=16,
    heap_limit=100 * MIB,
    heap_shrinks=False,
    team=False,
    realloc_zero_null=True,
    # mem_init maps every trace's heap afresh (anonymous, so zero) and mem_deinit unmaps
    # it. The handout also ships mdriver-uninit, a MemorySanitizer build that fails a read
    # of a byte never written, but for students' debugging: its autograder (driver.pl)
    # runs mdriver and mdriver-emulate. A public file that never wrote a free block's
    # links had 10/10 there and 0 poisoned here (lab check pass 5).
    fresh_heap="zeroed",
    traces=CMU_TRACES,
    header_weights=True,
    # The F20 autograder (driver.pl) also runs mdriver-emulate, whose instrumented
    # build of mm.c measures its global data: past 128 bytes, (bytes - 128) / 8
    # points come off the score, at most 20 ("128-byte global data limit exceeded").
    # T_ref is the throughput of CMU's reference solution (mdriver-ref, shipped as a
    # binary) on the grading machine (throughputs.txt, or measured by mdriver-ref where
    # the CPU is not listed). segfit, far faster, stands for it scaled. Counted: a public
    # solution whose Autolab run shows the reference at 0.767 of its own throughput
    # runs here at 210 instructions an op (segfit 76): 0.28 of segfit's, 0.25 kept.
    # Timed: the handouts' own mdriver-ref, run by their drivers on this machine, stands
    # to two public files as 0.140 and 0.145 of segfit's timed throughput stands to
    # them timed here (lab check 19; docs/labs.md).
    scoring=Scoring(
        "cmu",
        throughput_mean="harmonic",
        reference_scale=0.25,
        timed_reference_scale=0.14,
        index_digits=1,
        global_data_limit=128,
        # throughputs.txt's figure for the Xeon Gold 6132 of its Autolab runs (docs/labs.md)
        driver_reference_speed=9261e3,
    ),
    compiler="clang",
    libraries=("-lm", "-lrt"),
    optimization="-O3",
    trace_reading=CMU_DRIVER_READING,
    heap_at=CMU_HEAP_AT,
    memlib_calls_sbrk=True,  # `!sparse && sbrk(incr)`: mdriver's heap is the dense one
    driver_quirks=("cmu-maxfill",),
)
CMU_F22 = replace(
    CMU_F20,
    name="cmu-2022",
    title="CMU 15-213 malloc lab (F22+ handouts, 2022-2024)",
    pass_heap="zeroed",
    trace_reading=TRACE_READ_STRICT,
    libraries=(),
    memlib_calls_sbrk=False,
)

CMU_2015 = LabProfile(
    name="cmu-2015",
    title="CMU 15-213 malloc lab (64-bit handouts, about F13-F15)",
    dialect="classic",
    headers="cmu-2015",
    # The S14 and F14 Makefiles build the graded driver (mdriver.fast) with -DNDEBUG: a
    # student's `#ifndef NDEBUG` heap dumps and asserts are off there (one public
    # solution, 92 under it, printed its heap at every op without it and timed out).
    defines=("DRIVER", "NDEBUG"),
    debug_defines=("DEBUG=1",),
    checkers=("mm_checkheap",),
    alignment=8,
    heap_limit=100 * MIB,
    heap_shrinks=False,
    team=False,
    realloc_zero_null=True,
    # mem_init maps the heap afresh from /dev/zero for every trace; no sanitizer build.
    fresh_heap="zeroed",
    traces=CMU_2015_TRACES,
    header_weights=True,
    # config.h (F15): U between 0.60 and 0.92, T between 0 and an absolute 13,000 Kops/s
    # (T_ref with ratios 0..1), UTIL_WEIGHT .61, T total ops / total seconds. Counted
    # (--throughput instructions), T_ref is a quarter of segfit's: three public S14-F15
    # solutions then stand to it as, timed here, to the 13,000 Kops/s (T / T_ref 0.62,
    # 0.36 and 0.52 counted, 0.64, 0.26 and 0.56 timed; docs/labs.md).
    scoring=Scoring(
        "cmu",
        util_weight=0.61,
        reference_throughput=13000e3,
        reference_scale=0.25,
        min_util=0.60,
        max_util=0.92,
        min_speed_ratio=0.0,
        max_speed_ratio=1.0,
        index_digits=0,
        index_joiner="&",
    ),
    optimization="-O3",
    trace_reading=CMU_DRIVER_READING,
    heap_at=CMU_HEAP_AT,
    memlib_calls_sbrk=True,  # every 2013-2015 and PKU memlib.c: `sbrk(incr) == (void *) -1`
    driver_quirks=("cmu2013-ignore-ranges",),
)


# Peking University's ICS edition of the 2013-era handout (its config.h, in public copies such as
# Zuixie/csapp-malloclab and yangzhixuan/malloclab): the cmu-2015 lab but for its scores' bounds,
# U between 0.60 and 0.91 and T between 3,000 and 13,750 Kops/s. Graded as cmu-2015 its files'
# util parts came out 1-2 points under their driver's (50 against 52), and a throughput under
# 3,000 Kops/s earned points (lab check run 16).
def _counted_scale(max_speed: float) -> float:
    """The counted T_ref's share of segfit's for a handout whose absolute T_ref is
    `max_speed` ops/s: cmu-2015's quarter stands for its 13,000 Kops/s, and the share
    goes with it (PKU 2025's 12,000 with a quarter: a file timed at 47 of 80 was counted
    under its threshold, 0, red-team pass 34)."""
    base = CMU_2015.scoring
    assert base.reference_throughput is not None
    return base.reference_scale * max_speed / base.reference_throughput


CMU_PKU = replace(
    CMU_2015,
    name="cmu-pku",
    title="CMU 15-213 malloc lab, Peking University's ICS edition (2013-era 64-bit handout)",
    # No PKU Makefile (2013, 2022, 2025) defines NDEBUG: a student's assert that fires aborts its
    # driver, and was compiled out here (a 98/100 file with one added assert: the driver's
    # "Assertion `ptr != NULL' failed", graded 83 here; lab check run 23).
    defines=("DRIVER",),
    scoring=replace(
        CMU_2015.scoring,
        reference_throughput=13750e3,
        reference_scale=_counted_scale(13750e3),
        max_util=0.91,
        min_speed_ratio=3000 / 13750,
    ),
)

# Peking University's later ICS handouts (MOLYHECI/PKU_ICS2022_LABS, ZHXQ-Summer/
# PKU-ICS-25FALL-LAB, lab check run 17): the 2013 one's driver, memlib and checks, but for
# config.h and the score. A default list of their own, which the 2022 one grades corners and
# cp-decl twice in (as its driver does: cp-decl, weighted, counts twice in U and T); U from 0.70;
# and PERF_THRESHHOLD, under which the autograder's score is 0 (mdriver.c's raw_score).
PKU_2022_TRACES = (
    "alaska", "amptjp", "bash", "boat", "binary2-bal", "cccp", "cccp-bal", "chrome",
    "coalesce-big", "coalescing-bal", "corners", "cp-decl", "exhaust", "expr-bal", "corners",
    "firefox-reddit2", "freeciv", "perl", "malloc", "malloc-free", "cp-decl", "realloc",
)  # fmt: skip
PKU_2025_TRACES = (
    "alaska", "amptjp", "bash", "boat", "binary2-bal", "cccp", "chrome", "coalesce-big",
    "coalescing-bal", "corners", "cp-decl", "exhaust", "expr-bal", "freeciv", "ls", "malloc",
    "malloc-free", "perl", "realloc",
)  # fmt: skip


def _pku_edition(
    year: int, traces: tuple[str, ...], max_speed: float, **bounds: float
) -> LabProfile:
    """The 2013 PKU lab with a later handout's list and config.h: T from 3,000 Kops/s to
    `max_speed` ops/s, U from 0.70, and `bounds`, the rest of its scoring values."""
    scale = f", out of {bounds['index_out_of']:g}" if "index_out_of" in bounds else ""
    return replace(
        CMU_PKU,
        name=f"cmu-pku-{year}",
        title=f"CMU 15-213 malloc lab, Peking University's ICS edition ({year} handout{scale})",
        traces=traces,
        scoring=replace(
            CMU_PKU.scoring,
            reference_throughput=max_speed,
            reference_scale=_counted_scale(max_speed),
            min_speed_ratio=3000e3 / max_speed,
            min_util=0.70,
            **bounds,
        ),
    )


CMU_PKU_2022 = _pku_edition(2022, PKU_2022_TRACES, 13000e3, max_util=0.91, zero_below=50.0)
# UTIL_WEIGHT .6, and everything out of 80.
CMU_PKU_2025 = _pku_edition(
    2025, PKU_2025_TRACES, 12000e3, max_util=0.90, util_weight=0.6, index_out_of=80.0,
    zero_below=48.0,
)  # fmt: skip

LABS: dict[str, LabProfile] = {
    lab.name: lab
    for lab in (
        LabProfile(
            name="mallocsim",
            title="mallocsim's own rules (16-byte alignment, no heap limit)",
            dialect=None,
            headers=None,
            defines=("DRIVER",),
            debug_defines=(),
            checkers=("mm_checkheap",),
            alignment=16,
            heap_limit=None,
            heap_shrinks=True,
            team=False,
            realloc_zero_null=False,
            traces=(),
            header_weights=True,
            scoring=Scoring("csapp", reference_allocator="glibc"),
        ),
        LabProfile(
            name="csapp",
            title="CS:APP malloc lab (classic handout, mdriver 2002-2015)",
            dialect="classic",
            headers="csapp",
            defines=(),
            debug_defines=(),
            checkers=("mm_check", "mm_checkheap"),
            alignment=8,
            heap_limit=20 * MIB,
            heap_shrinks=False,
            team=True,
            realloc_zero_null=False,
            traces=CSAPP_TRACES,
            # mem_init mallocs the 20 MB heap once (zero pages); each pass resets the break only.
            # A public solution read a footer no pass ever writes: 90 under the driver, 0 poisoned.
            fresh_heap="zeroed",
            header_weights=False,
            # T_ref is "libc's throughput" (AVG_LIBC_THRUPUT): a fixed 600 Kops/s when
            # timed as the driver times, glibc counted the same way when counted.
            scoring=Scoring(
                "csapp", reference_throughput=600e3, reference_allocator="glibc", index_digits=0
            ),
            driver_quirks=(
                "csapp-realloc-char",
                "csapp-block0-zero",
                "csapp-overlap-ends",
                "csapp-live-bytes",
            ),
            word_size="auto",
        ),
        CMU_F20,
        CMU_F22,
        CMU_2015,
        CMU_PKU,
        CMU_PKU_2022,
        CMU_PKU_2025,
    )
}
DEFAULT_LAB = "mallocsim"

# Names a lab's headers map a handout's name to (labs/csapp/memlib.h's macros: mem_sbrk takes an
# int there), and what a message says instead: a file that defined mem_sbrk was told it "defines
# mem_sbrk_int", a name it never wrote (lab check run 15). In that lab only: a cmu file's own
# helper named mem_sbrk_int was said to be mem_sbrk (red-team pass 26).
HEADER_RENAMES = {"csapp": {"mem_sbrk_int": "mem_sbrk", "mem_deinit_lab": "mem_deinit"}}


def as_written(text: str, lab: str) -> str:
    """`text` with each name lab `lab`'s headers rename shown as the student's file wrote it."""
    for renamed, written in HEADER_RENAMES.get(lab, {}).items():
        text = re.sub(rf"\b{renamed}\b", written, text)
    return text


def lab_named(name: str) -> LabProfile:
    """The profile called `name`; a UsageError naming the known ones otherwise."""
    try:
        return LABS[name]
    except KeyError:
        raise UsageError(f"unknown lab {name!r}: expected one of {', '.join(LABS)}") from None


@dataclass(frozen=True)
class TraceSelection:
    """The trace files a lab grades from what the user named, and what was left out."""

    paths: tuple[Path, ...]  # in the order they run
    left_out: tuple[str, ...]  # files in a named folder that the lab does not list
    missing: tuple[str, ...]  # traces the lab lists that no named folder holds
    problems: tuple[str, ...] = ()  # a line for each named folder with nothing to run


def select_trace_paths(lab: LabProfile, given: Iterable[str | Path]) -> TraceSelection:
    """The trace files for `given` (files and folders) under a lab's list: a file
    named is run as given; a folder gives the lab's listed traces it holds, in the
    lab's order (every .rep file in name order when the lab lists none). Never
    raises: a named path that is no trace file (missing, a FIFO, a symbolic link
    loop) is in `paths` for the loader to say why, a folder's entries named
    *.rep too (a dangling link) but for subfolders, which are a line of
    `problems`, as is a folder with nothing to run; the other traces still run.
    A folder's paths are files, so selecting them again gives them back."""
    paths: list[Path] = []
    left_out: list[str] = []
    problems: list[str] = []
    missing: set[str] = set(lab.traces)
    folders = 0
    for item in given:
        path = Path(item)
        if not path.is_dir():
            paths.append(path)
            missing.discard(path.stem)
            continue
        folders += 1
        files = {p.stem: p for p in path.glob(f"*{TRACE_SUFFIX}")}
        if not files:
            why = (
                f"is a folder, not a trace file (and holds no {TRACE_SUFFIX} trace files)"
                if path.suffix == TRACE_SUFFIX
                else f"no {TRACE_SUFFIX} trace files in this directory"
            )
            problems.append(f"{path}: {why}")
            continue
        listed = [name for name in lab.traces if name in files] if lab.traces else sorted(files)
        if not listed:
            problems.append(
                f"{path}: holds none of the traces the {lab.name} lab grades "
                f"({', '.join(lab.traces[:3])}, ...); name the files to run them anyway"
            )
            continue
        for name in listed:  # a subfolder is never taken for a folder of traces
            if files[name].is_dir():
                problems.append(f"{files[name]}: is a folder, not a trace file")
            else:
                paths.append(files[name])
        missing -= set(listed)
        if lab.traces:
            left_out.extend(str(files[n]) for n in sorted(files) if n not in lab.traces)
    shown_missing = tuple(n for n in lab.traces if n in missing) if folders else ()
    return TraceSelection(tuple(paths), tuple(left_out), shown_missing, tuple(problems))


def selection_notes(lab: LabProfile, selection: TraceSelection) -> list[str]:
    """Lines saying which traces a lab's list left out or could not find."""
    notes = []
    if selection.left_out:
        names = ", ".join(Path(p).stem for p in selection.left_out)
        notes.append(f"not graded by the {lab.name} lab (name the files to run them): {names}")
    if selection.missing:
        notes.append(
            f"{len(selection.missing)} of the {lab.name} lab's {len(lab.traces)} traces are not "
            f"in the folders given: {', '.join(selection.missing)}"
        )
    return notes


def trace_rules(lab: LabProfile, traces: Sequence[tuple[str, str, int]]) -> dict[str, TraceRule]:
    """How each trace (name, header format, header weight) counts under a lab."""
    if lab.header_weights:
        return {name: header_rule(name, fmt, weight) for name, fmt, weight in traces}
    return {name: TraceRule(name) for name, _, _ in traces}
