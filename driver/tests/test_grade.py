"""`mallocsim grade` end to end: a score computed by hand, T_ref measured from
glibc, the autograder files, every broken student allocator in the fixtures
graded with its diagnosis (and the grader finishing each one), handout-shaped
allocators of both dialects, and each kind of bad input as one clear line."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from mallocsim._native import HEADER_DIR
from mallocsim.config import for_lab, lab_overrides, load_config
from mallocsim.errors import UsageError

from .conftest import BUG_SHOWN_BY, fixture_allocator, fixture_variant, handed_in_library
from .test_init import STRICT

# good_bump on "a 0 48, f 0": the heap holds one 16-byte header and 48 bytes,
# the peak payload is 48: utilization 48 / 64 = 0.75.
QUARTER_WASTE = "a 0 48\nf 0\n"
FAST = '[grade]\nmin_seconds = 0.0\nthroughput = "time"\n[score]\nreference_throughput = 1e6\n'


@pytest.fixture
def config(tmp_path):
    def write(text: str = FAST) -> str:
        path = tmp_path / "grading.toml"
        path.write_text(text)
        return str(path)

    return write


def grade(cli, allocator: str, dialect: str, *args: object):
    return cli("grade", fixture_allocator(allocator), "--dialect", dialect, *args)


def test_a_score_computed_by_hand(cli, config, write_trace, tmp_path):
    trace = write_trace("quarter", QUARTER_WASTE)
    toml = config(FAST + "util_weight = 1.0\n")  # the index is 100 * U alone
    results, junit = tmp_path / "results.json", tmp_path / "report.xml"
    run = grade(
        cli,
        "good_bump",
        "classic",
        "--config",
        toml,
        "--gradescope",
        results,
        "--junit",
        junit,
        trace,
    )
    assert run.status == 0, run.err
    assert "Results for" in run.said and "quarter" in run.out
    assert "utilization U       75.0%" in run.out
    assert "performance index   75.0 / 100" in run.out and "(configured)" in run.out
    document = json.loads(results.read_text())
    assert document["score"] == pytest.approx(75.0)
    trace_test, index_test = document["tests"]
    assert trace_test["name"] == "trace quarter" and "utilization 75.0%" in trace_test["output"]
    assert index_test["name"] == "performance index"
    assert (index_test["score"], index_test["max_score"]) == (pytest.approx(75.0), 100.0)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["score"] == "75" and properties["formula"] == "csapp"


def test_t_ref_is_measured_from_glibc_when_not_configured(cli, config, write_trace):
    trace = write_trace("quarter", QUARTER_WASTE)
    # With heap checks on: they apply to the student's allocator, not to glibc.
    run = grade(
        cli,
        "good_bump",
        "classic",
        "--config",
        config('[grade]\nmin_seconds = 0.0\ncheck_heap = true\nthroughput = "time"\n'),
        trace,
    )
    assert run.status == 0, run.err
    assert "Kops/s (glibc, timed in this run)" in run.said


def test_by_default_t_and_t_ref_are_instructions_counted_by_valgrind(cli, config, write_trace):
    # 400 ops a pass: a pass of 40 (a microsecond) is no measure of the clock check's under
    # load, which the hand-overs around each pass dominate (test_lab_rules.py says more).
    trace = write_trace("quarter", QUARTER_WASTE * 200)
    run = grade(cli, "good_bump", "classic", trace)
    assert run.status == 0, run.err
    assert "instructions counted by valgrind, confirmed by the clock" in run.said
    assert "instructions/op (glibc, counted by valgrind the same way)" in run.said


def test_the_cmu_formula_and_correctness_points(cli, config, write_trace, tmp_path):
    trace = write_trace("quarter", QUARTER_WASTE)
    # U = 0.75 is past max_util 0.74: all 60 utilization points; T_ref is
    # huge, so no throughput points. Index 60; points 40 + 60 * 0.6 = 76.
    toml = config(
        "[grade]\nformula = 'cmu'\nmin_seconds = 0.0\nthroughput = 'time'\n"
        "[score]\nreference_throughput = 1e15\n"
        "[points]\ncorrectness = 40\nperformance = 60\n"
    )
    results = tmp_path / "results.json"
    run = grade(cli, "good_bump", "classic", "--config", toml, "--gradescope", results, trace)
    assert run.status == 0, run.err
    assert "CMU 15-213 linear thresholds" in run.said
    document = json.loads(results.read_text())
    assert document["score"] == pytest.approx(76.0)
    assert [t["max_score"] for t in document["tests"]] == [40.0, 60.0]


@pytest.mark.parametrize(
    ("fixture", "diagnosis"),
    [
        ("segfault", "crashed with SIGSEGV at op 2 (a 2 8)"),
        ("hang", "within 1 s of CPU time: stopped at op 1 (f 0)"),
        ("overlap", "overlaps block 1"),
        ("misaligned", "not 16-byte aligned"),
        ("metadata_overwrite", "payload"),
        ("realloc_drops_data", "realloc"),
        ("calloc_no_zero", "not zero"),
        ("null_early", "malloc returned NULL for 200 bytes"),
        ("init_no_reset", "does mm_init really reset"),
        ("outside_heap", "not inside the heap"),
    ],
)
def test_each_broken_allocator_is_graded_with_its_diagnosis(
    cli, config, write_trace, tmp_path, fixture, diagnosis
):
    dialect, text = BUG_SHOWN_BY[fixture]
    trace = write_trace("probe", text)
    results, junit = tmp_path / "results.json", tmp_path / "report.xml"
    run = grade(
        cli,
        fixture,
        dialect,
        "--config",
        config(),
        "--timeout",
        "1",
        "--gradescope",
        results,
        "--junit",
        junit,
        trace,
    )
    assert run.status == 1, run.out + run.err
    assert "Traceback" not in run.err
    document = json.loads(results.read_text())
    assert document["score"] == 0.0
    assert diagnosis in document["tests"][0]["output"]
    assert document["tests"][0]["output"].startswith(f"{trace}:")  # file and line
    failure = ET.parse(junit).getroot().find("testsuite/testcase/failure")
    assert diagnosis in failure.get("message")


def _failed_in_its_checker(cli, config, write_trace, fixture: str) -> str:
    """What a grade with heap checks says of a fixture whose checker fails on its third call
    (after op 2 of the probe), on one line; its status 1 checked."""
    trace = write_trace("probe", BUG_SHOWN_BY["segfault"][1])
    run = grade(cli, fixture, "classic", "--config", config(), "--check-heap", trace)
    assert run.status == 1, run.out + run.err
    # Without the checker the same file is valid.
    assert grade(cli, fixture, "classic", "--config", config(), trace).status == 0
    return " ".join(run.said.split())


def test_a_courses_own_alignment_and_heap_limit_are_the_checks_it_grades_by(
    cli, config, write_trace
):
    # A course that edited its handout's ALIGNMENT or MAX_HEAP grades by them (grading.toml's
    # alignment and heap_limit), through every pass, and the grade says so.
    small = write_trace("small", "a 0 24\nf 0\n")
    big = write_trace("big", f"a 0 {3 << 20}\nf 0\n")
    run = grade(cli, "misaligned", "classic", "--config", config(), "--wide", small, big)
    assert run.status == 1 and run.out.count("not 16-byte aligned") == 2, run.out
    course = FAST.replace("[grade]\n", "[grade]\nalignment = 8\nheap_limit = 2_097_152\n")
    run = grade(cli, "misaligned", "classic", "--config", config(course), "--wide", small, big)
    assert run.status == 1 and "not 16-byte aligned" not in run.out, run.out
    assert "malloc returned NULL for 3145728 bytes (heap 0 B of 2.0 MiB limit)" in run.out
    assert re.search(r"small\s+yes", run.out) and re.search(r"big\s+NO", run.out)
    assert (
        "scored otherwise than the mallocsim lab's driver: reference_throughput 1000000.0 (the "
        "lab's: none), alignment 8 (the lab's: 16), heap_limit 2097152 (the lab's: none)" in run.out
    )


def test_memory_past_the_break_is_there_as_the_labs_drivers_map_it_and_written_counts_as_heap(
    cli, write_trace, tmp_path
):
    # The labs' drivers take their whole heap up front: a public CS:APP solution whose realloc
    # copied the block before it along with its own read that far past its break, valid under its
    # driver (86), crashed here (SIGBUS) on the two realloc traces, 0 (lab check run 20). What is
    # written there is storage the break does not show: heap for the utilization.
    trace = write_trace("grows", "a 0 4000\na 1 4000\nf 0\nf 1\n")
    reads = grade(cli, "past_break", "classic", "--lab", "csapp", "--no-team-check", trace)
    assert reads.status == 0 and "past its break" not in reads.out, reads.out
    assert "SIGBUS" in grade(cli, "past_break", "classic", trace).out  # no limit, no such memory
    writes = fixture_variant(
        "bump_faults", "#define PAST_BREAK\n#define PAST_BREAK_WRITES\n", tmp_path / "mm.c"
    )
    run = cli("grade", writes, "--lab", "csapp", "--no-team-check", "--wide", trace)
    assert run.status == 0, run.out
    # good_bump's heap is 8,032 bytes (two 16-byte headers and blocks); the last write's page
    # ends at 8,032 + 3 pages, rounded up to a page
    said = "the allocator wrote memory past its break, up to 20,480 bytes above the heap's start"
    assert said in " ".join(run.out.split()), run.out
    assert re.search(r"grows\s+yes\s+39\.1%", run.out), run.out  # 8,000 / 20,480


def test_a_crash_in_the_heap_checker_is_told_from_the_op_before_it(cli, config, write_trace):
    # A student whose malloc is right and whose mm_checkheap crashes is sent to the checker, not
    # to op 2, which went well: the engine marks its progress word while the checker runs.
    said = _failed_in_its_checker(cli, config, write_trace, "checker_crashes")
    assert (
        "crashed with SIGSEGV at mm_checkheap, called after op 2 (a 2 8) in the checked pass"
        in said
    )


def test_an_allocator_that_exits_is_shown_with_the_end_of_what_it_printed(cli, config, write_trace):
    # A heap checker's report, printed before its exit(0), went to /dev/null: the student read
    # "exited with status 0" and nothing of their own report (lab check run 17).
    said = _failed_in_its_checker(cli, config, write_trace, "checker_exits")
    assert (
        "exited with status 0 at mm_checkheap, called after op 2 (a 2 8) in the checked pass"
        in said
    )
    assert (
        "line 1999: nothing wrong here | mm_checkheap: the free list is not sorted (check 3)"
        in (said)
    )
    assert "line 1000:" not in said  # the end only


def test_calling_the_system_malloc_fails_every_trace_where_it_is_called(
    cli, config, write_trace, tmp_path
):
    results = tmp_path / "results.json"
    run = grade(
        cli,
        "calls_malloc",
        "classic",
        "--config",
        config(),
        "--gradescope",
        results,
        write_trace("t", QUARTER_WASTE),
    )
    # The call ends the pass where it is made (c/src/forbidden_calls.c): the handouts link the
    # C library, and a file that only names free in code that never runs grades there.
    assert run.status == 1
    said = " ".join(run.out.split())
    assert "called free at mm_init in the checked pass, which an allocator may not" in said
    document = json.loads(results.read_text())
    assert document["score"] == 0.0
    assert any("called free at mm_init" in test["output"] for test in document["tests"])


def test_the_grader_keeps_every_result_when_one_trace_crashes(cli, config, write_trace, tmp_path):
    write_trace("a_crash", "a 0 8\na 1 8\na 2 8\n")
    write_trace("b_fine", "a 0 8\na 1 8\nf 0\n")
    results = tmp_path / "results.json"
    run = grade(cli, "segfault", "classic", "--config", config(), "--gradescope", results, tmp_path)
    assert run.status == 1
    crash, fine, _ = json.loads(results.read_text())["tests"]
    assert "SIGSEGV" in crash["output"] and fine["output"].startswith("valid")
    assert "1 of 2 traces invalid" in run.said


@pytest.mark.parametrize(
    ("fixture", "dialect"), [("handout_classic", "classic"), ("handout_cmu", "cmu")]
)
def test_handout_shaped_allocators_compile_unchanged_and_pass(
    cli, config, write_trace, fixture, dialect
):
    trace = write_trace("mixed", "a 0 100\na 1 5000\nr 0 300\nf 1\na 2 40\nf 0\nf 2\n")
    run = grade(cli, fixture, dialect, "--config", config(), trace)
    assert run.status == 0, run.out + run.err
    assert "valid traces        1 / 1" in run.out


@pytest.mark.parametrize(
    ("fixture", "defines"),
    [("handout_classic", []), ("handout_cmu", ["-DMM_DIALECT_CMU", "-DDRIVER"])],
)
def test_handout_shaped_allocators_build_with_strict_warnings(tmp_path, fixture, defines):
    source = fixture_allocator(fixture)
    out = tmp_path / "mm.so"
    subprocess.run(["cc", *STRICT, *defines, f"-I{HEADER_DIR}", "-o", out, source], check=True)


def test_a_file_that_does_not_compile_gets_the_compiler_messages(
    cli, config, write_trace, tmp_path
):
    source = tmp_path / "mm.c"
    source.write_text('#include "mm.h"\nint mm_init(void) { return 0 }\n')
    results = tmp_path / "results.json"
    run = cli(
        "grade",
        source,
        "--dialect",
        "classic",
        "--config",
        config(),
        "--gradescope",
        results,
        write_trace("t", QUARTER_WASTE),
    )
    assert run.status == 1 and "Traceback" not in run.err
    assert "does not compile" in run.err and "error: expected" in run.err
    output = json.loads(results.read_text())["tests"][0]["output"]
    assert "error: expected" in output


def test_a_wrong_dialect_is_one_clear_line_first(cli, config, write_trace):
    run = grade(
        cli, "handout_cmu", "classic", "--config", config(), write_trace("t", QUARTER_WASTE)
    )
    assert run.status == 1
    first = run.err.splitlines()[0]
    assert first.endswith("handout_cmu.c builds as a cmu lab's mm.c: try --lab cmu")


def test_a_missing_symbol_and_an_unloadable_library_are_one_line(
    cli, config, write_trace, tmp_path
):
    trace = write_trace("t", QUARTER_WASTE)
    source = tmp_path / "half.c"
    source.write_text(
        '#include "mm.h"\nteam_t team;\nint mm_init(void) { return 0; }\n'
        "void *mm_malloc(size_t n) { (void)n; return 0; }\nvoid mm_free(void *p) { (void)p; }\n"
    )
    run = cli("grade", source, "--dialect", "classic", "--config", config(), trace)
    assert run.status == 1
    assert run.err.strip() == f"mallocsim grade: {source}: does not export mm_realloc"
    junk = tmp_path / "junk.so"
    junk.write_text("not a library\n")
    run = cli("grade", junk, "--dialect", "classic", "--config", config(), trace, "--trust-built")
    assert run.status == 1
    assert run.err.strip() == f"mallocsim grade: {junk}: not an ELF shared library"


def test_a_library_handed_in_built_is_graded_only_when_trusted(cli, write_trace, tmp_path):
    # Its constructors run as it loads, before the seal (an mm.c's are held back by its build):
    # red-team pass 42 took 93.9 by time that way. A class and Gradescope take only C source.
    library = handed_in_library(fixture_allocator("handout_classic"), tmp_path / "mm.so")
    trace = write_trace("t", QUARTER_WASTE)
    run = cli("grade", library, "--dialect", "classic", "-q", trace)
    assert run.status == 2 and run.out == ""
    assert run.err == (
        f"mallocsim grade: {library}: a library handed in built runs its own code as it loads, "
        "before the sandbox seals it: grade its source (mm.c), or trust it (--trust-built; "
        "pytest: --mallocsim-trust-built)\n"
    )
    run = cli("grade", library, "--dialect", "classic", "-q", trace, "--trust-built")
    assert run.status == 0 and "valid traces        1 / 1" in run.out


def test_heap_checks_of_an_allocator_without_a_checker_are_said_once_and_skipped(
    cli, config, write_trace, tmp_path
):
    # Not an error (the lab's driver would run it): the grade goes on without
    # heap checks, and the output says so once.
    toml = config(FAST.replace("[grade]\n", "[grade]\ncheck_heap = true\n"))
    run = grade(
        cli, "handout_classic", "classic", "--config", toml, write_trace("t", QUARTER_WASTE)
    )
    assert run.status == 0, run.err
    assert run.out.count("no heap checker") == 1
    assert "heap checks skipped: no heap checker (mm_checkheap) is defined" in run.said


def test_usage_errors_are_one_line_and_status_2(cli, config, write_trace, tmp_path):
    trace = write_trace("t", QUARTER_WASTE)
    run = grade(cli, "good_bump", "classic", "--config", tmp_path / "none.toml", trace)
    assert run.status == 2 and "none.toml" in run.err and len(run.err.splitlines()) == 1
    run = cli("grade", fixture_allocator("good_bump"), trace)
    assert run.status == 2 and "--dialect classic" in run.err
    toml = config(FAST + "[[traces]]\nname = 'amptjp-bal'\n")
    run = grade(cli, "good_bump", "classic", "--config", toml, trace)
    assert run.status == 2
    assert "the configuration grades amptjp-bal, but no such trace was given" in run.err


def test_the_configuration_picks_the_traces_and_their_weights(cli, config, write_trace, tmp_path):
    write_trace("quarter", QUARTER_WASTE)  # U = 0.75
    write_trace("half", "a 0 16\nf 0\n")  # U = 16 / 32 = 0.5
    write_trace("left_out", "a 0 8\n")
    toml = config(
        FAST + "util_weight = 1.0\n[[traces]]\nname = 'quarter'\nweight = 3\n"
        "[[traces]]\nname = 'half'\n"
    )
    run = grade(cli, "good_bump", "classic", "--config", toml, tmp_path)
    assert run.status == 0, run.err
    assert "left_out" not in run.out
    assert "utilization U       68.8%" in run.out  # (3 * 0.75 + 0.5) / 4 = 0.6875


def test_a_reference_that_cannot_be_measured_keeps_the_results():
    from dataclasses import replace

    from mallocsim.config import for_lab
    from mallocsim.grading import measure_reference
    from mallocsim.trace import parse_trace_text

    huge = parse_trace_text("a 0 100000000000000\n", "huge")  # glibc says NULL: no timing
    config = replace(for_lab("mallocsim"), throughput="time", min_seconds=0.0)
    reference, source = measure_reference([huge], config, 10.0)
    assert reference is None
    assert source.startswith("glibc could not be measured: huge: op 0 (a 0 100000000000000)")


def test_the_clock_check_times_the_reference_on_the_traces_it_can_run():
    # A trace glibc cannot run makes T_ref unmeasurable, but must not switch the clock's check of
    # a count off: the check compares over the traces the reference ran.
    from dataclasses import replace

    from mallocsim.config import for_lab
    from mallocsim.grading import reference_costs
    from mallocsim.trace import parse_trace_text

    huge = parse_trace_text("a 0 100000000000000\n", "huge")
    small = parse_trace_text("a 0 16\nf 0\n", "small")
    config = replace(for_lab("mallocsim"), reference="glibc", min_seconds=0.0)
    every, why = reference_costs([small, huge], config, "time", 10.0)
    assert every is None and why.startswith("glibc could not be measured: huge: op 0")
    some, how = reference_costs([small, huge], config, "time", 10.0, every=False)
    assert some is not None and set(some) == {"small"} and some["small"] > 0
    assert how == "timed in this run"


def test_a_library_that_stops_loading_midway_keeps_the_earlier_results(write_trace, monkeypatch):
    from mallocsim import grading
    from mallocsim.allocators import resolve
    from mallocsim.config import GradingConfig
    from mallocsim.errors import UsageError

    real = grading.replay_isolated
    calls = []

    def flaky(trace, spec, options, timeout, stall=None):
        calls.append(trace.name)
        if len(calls) == 2:
            raise UsageError("lib.so: cannot load: gone")
        return real(trace, spec, options, timeout, stall)

    monkeypatch.setattr(grading, "replay_isolated", flaky)
    paths = [str(write_trace(name, QUARTER_WASTE)) for name in ("one", "two")]
    spec = resolve(str(fixture_allocator("good_bump")), "classic")
    config = GradingConfig(reference_throughput=1e6, min_seconds=0.0, throughput="time")
    got = grading.grade(spec, grading.plan(config, paths), config)
    assert got.problem is None
    one, two = got.results
    assert one.valid and not two.valid and two.error == "lib.so: cannot load: gone"


# A cmu library graded as classic is not in the list: its mm_init's true is 1, which the
# labs' drivers (they test mm_init() < 0) take for success, and so do we.
@pytest.mark.parametrize(("fixture", "built_as", "graded_as"), [("handout_classic", [], "cmu")])
def test_a_library_graded_in_the_wrong_dialect_gets_one_line(
    cli, config, write_trace, tmp_path, fixture, built_as, graded_as
):
    from mallocsim._native import NATIVE_DIR

    library = tmp_path / f"{fixture}.so"
    subprocess.run(
        [
            "cc",
            "-O1",
            "-fPIC",
            "-shared",
            *built_as,
            f"-I{HEADER_DIR}",
            "-o",
            library,
            fixture_allocator(fixture),
            f"-L{NATIVE_DIR}",
            "-lmsheap",
            f"-Wl,-rpath,{NATIVE_DIR}",
        ],
        check=True,
    )
    run = cli(
        "grade",
        library,
        "--dialect",
        graded_as,
        "--config",
        config(),
        "--trust-built",
        "--quiet",  # no progress lines: stderr holds the hint alone
        write_trace("t", QUARTER_WASTE),
    )
    assert run.status == 1
    [line] = run.err.strip().splitlines()
    assert line.endswith(
        f"allocator's would under --dialect {graded_as}: try --dialect "
        f"{'cmu' if graded_as == 'classic' else 'classic'}"
    )


def test_junit_names_each_trace_under_the_allocator(cli, config, write_trace, tmp_path):
    write_trace("a_crash", "a 0 8\na 1 8\na 2 8\n")
    write_trace("b_fine", "a 0 8\nf 0\n")
    junit = tmp_path / "report.xml"
    grade(cli, "segfault", "classic", "--config", config(), "--junit", junit, tmp_path)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("mallocsim.segfault_c", "a_crash"),
        ("mallocsim.segfault_c", "b_fine"),
    ]
    assert "SIGSEGV" in cases[0].find("failure").text and cases[1].find("failure") is None


def test_a_junit_file_stays_xml_whatever_an_assert_said(cli, write_trace, tmp_path):
    # An assert()'s message is the student's text: U+FFFF and U+FFFE in it, which no XML may hold,
    # made the --junit file unreadable (red-team pass 12). They are shown as escapes.
    text = fixture_allocator("labs/csapp_implicit").read_text()
    head = "void *mm_malloc(size_t size) {"
    said = '\n    assert(size != 4321 && "\uffff\ufffe");'  # the characters, in UTF-8
    path = tmp_path / "mm.c"
    path.write_text("#include <assert.h>\n" + text.replace(head, head + said, 1))
    junit = tmp_path / "report.xml"
    run = cli("grade", path, "--lab", "csapp", "--throughput", "time", "--junit", junit,
              write_trace("t", "a 0 24\na 1 4321\nf 0\nf 1\n"))  # fmt: skip
    assert run.status == 1 and "assertion failed" in run.said, run.said
    failure = ET.parse(junit).getroot().find("testsuite").find("testcase").find("failure")
    assert "\\uffff\\ufffe" in failure.text, failure.text


def test_a_course_scales_the_reference_and_the_grade_says_which_measure_it_used(
    cli, config, write_trace, tmp_path
):
    from dataclasses import replace

    from mallocsim.config import for_lab
    from mallocsim.grading import measure_reference
    from mallocsim.trace import load_trace

    trace = load_trace(write_trace("quarter", QUARTER_WASTE * 20))
    counted = for_lab("csapp")  # glibc's instructions: the same every run
    whole, source = measure_reference([trace], counted, 60.0)
    half, scaled = measure_reference([trace], replace(counted, reference_scale=0.5), 60.0)
    assert half == pytest.approx(whole / 2) and whole is not None
    assert source == "glibc, counted by valgrind the same way"
    assert scaled == "0.5 x glibc, counted by valgrind the same way"
    junit = tmp_path / "report.xml"
    grade(cli, "good_bump", "classic", "--config", config(), "--junit", junit, trace.path)
    properties = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
    assert (properties["lab"], properties["throughput_measure"]) == ("mallocsim", "time")


def test_counting_instructions_without_valgrind_is_one_line_before_any_work(
    cli, write_trace, monkeypatch
):
    import shutil

    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "valgrind" else real(name))
    run = grade(cli, "good_bump", "classic", write_trace("t", QUARTER_WASTE))
    assert run.status == 2 and run.out == ""
    assert run.err.strip() == (
        'mallocsim grade: throughput = "instructions" (--throughput time does without it) '
        "needs valgrind (apt-get install valgrind)"
    )


def test_a_crash_of_pointers_kept_in_4_byte_integers_is_explained(cli, write_trace, tmp_path):
    # Written for the handout's -m32 build: its free-list links are pointers cut to 32 bits.
    trace = write_trace("t", "a 0 24\na 1 24\na 2 24\na 3 24\nf 0\nf 2\na 4 24\n")
    cut = fixture_variant(
        "labs/csapp_explicit", "#define LINKS_AS_32_BIT_POINTERS\n", tmp_path / "cut.c"
    )
    # Built for x86-64 (the csapp lab's default builds it -m32: test_word_size.py).
    run = cli(
        "grade", cut, "--lab", "csapp", "--throughput", "time", "--word-size", "64", "-q", trace
    )
    assert run.status == 1 and "crashed with SIGSEGV" in run.said
    said = " ".join(run.said.split())
    assert "pointers in 4-byte integers: mm.c keeps a pointer in an int" in said
    assert "the likeliest cause of the failed trace" in said and "-m32" in said
    # The same cut where nothing fails is only a warning; the offsets' version, not even that.
    harmless = tmp_path / "harmless.c"
    harmless.write_text(
        fixture_allocator("labs/csapp_explicit").read_text()
        + "unsigned int cut_short(void *p) { return (unsigned int)p; }\n"
    )
    for source, warned in ((harmless, True), (fixture_allocator("labs/csapp_explicit"), False)):
        run = cli(
            "grade", source, "--lab", "csapp", "--throughput", "time", "--word-size", "64",
            "-q", trace,
        )  # fmt: skip
        assert run.status == 0 and "4-byte integers" not in run.said, run.said
        assert ("[-Wpointer-to-int-cast]" in run.said) == warned


def test_an_mm_init_that_keeps_some_state_is_graded_as_the_labs_drivers_grade_it(cli, write_trace):
    # A public CMU solution whose chunk size adapts and is never reset got 100 under the real
    # F20 driver and failed 7 of 10 traces here ("mm_init does not reset"): the drivers check a
    # second run's validity, not its heap.
    trace = write_trace("steps", "a 0 3000\na 1 3000\na 2 3000\n")
    run = grade(cli, "growth_kept", "classic", "--throughput", "time", "-q", trace)
    assert run.status == 0, run.said
    said = " ".join(run.said.split())
    assert "steps: mm_init does not reset all its state" in said
    assert "valid traces 1 / 1" in said


def test_the_cmu_labs_t_ref_is_its_reference_solutions_share_of_segfits(cli, write_trace):
    # CMU's T_ref is its reference solution's throughput, a share of segfit's (docs/labs.md):
    # segfit's own would take every real solution's throughput points. Counted, a quarter;
    # timed, 0.14: the handouts' own mdriver-ref, run on this machine, stood so to two public
    # files under their drivers, where a quarter gave a file at 100 there 68-76 (lab check 19).
    for lab in ("cmu", "cmu-2022"):
        config = for_lab(lab)
        assert config.reference_scale_for("instructions") == 0.25
        assert config.reference_scale_for("time") == 0.14
    trace = write_trace("t", "a 0 24\na 1 100\nf 0\na 2 40\nf 1\nf 2\n")
    source = fixture_allocator("labs/cmu_segregated")
    run = cli("grade", source, "--lab", "cmu", "--throughput", "time", "-q", trace)
    assert run.status == 0, run.said
    said = " ".join(run.said.split())
    assert "reference T_ref" in said and "(0.14 x segfit, timed in this run)" in said


def test_a_course_sets_the_timed_t_ref_scale_of_its_own(tmp_path):
    config = tmp_path / "grading.toml"
    config.write_text('[grade]\nlab = "cmu"\n[score]\ntimed_reference_scale = 0.2\n')
    loaded = load_config(config)
    assert loaded.reference_scale_for("time") == 0.2
    assert loaded.reference_scale_for("instructions") == 0.25
    timed = replace(loaded, throughput="time")
    assert lab_overrides(timed) == (
        "scored otherwise than the cmu lab's driver: timed_reference_scale 0.2 (the lab's: 0.14)"
    )


@pytest.mark.parametrize("setting", ["reference_throughput = 2e7", "timed_reference_scale = 0.2"])
def test_a_timed_t_refs_setting_is_named_unused_where_throughput_is_counted(tmp_path, setting):
    # A course's reference_throughput, in a grade counting instructions (the default), was said
    # to be "scored otherwise", as if T_ref were the course's (red-team pass 49); it was segfit's
    # count, as the setting is for timed grades only.
    config = tmp_path / "grading.toml"
    config.write_text(f'[grade]\nlab = "cmu-2015"\n[score]\n{setting}\n')
    name = setting.split()[0]
    assert lab_overrides(load_config(config)) == (
        f"{name} set T_ref where throughput is timed (--throughput time): unused here, where it "
        "is counted"
    )


def test_heap_checks_check_the_debug_build_and_measure_the_graded_one(cli, write_trace, tmp_path):
    # The lab's debug build (mdriver-dbg) only checks; its graded build is measured and timed.
    # This one's debug build grows its heap by a megabyte at a time: the grade's utilization
    # must be the graded build's. (Before, it was measured, and timed, on the debug build.)
    wasteful = (
        fixture_allocator("labs/cmu_segregated")
        .read_text()
        .replace(
            "static const size_t chunksize = (size_t)1 << 12;",
            "#ifdef DEBUG\nstatic const size_t chunksize = (size_t)1 << 20;\n#else\n"
            "static const size_t chunksize = (size_t)1 << 12;\n#endif",
        )
    )
    source = tmp_path / "mm.c"
    source.write_text(wasteful)
    trace = write_trace("t", "a 0 2000\na 1 3000\nf 0\na 2 1000\nf 1\nf 2\n")
    records = {}
    for name, extra in (("plain", ()), ("checked", ("--check-heap",))):
        record = tmp_path / f"{name}.json"
        run = cli("grade", source, "--lab", "cmu", "--throughput", "time", *extra, trace,
                  "--json", record)  # fmt: skip
        assert run.status == 0, run.said
        records[name] = json.loads(record.read_text())["grade"]["score"]
    assert records["checked"]["utilization"] == records["plain"]["utilization"] > 0.5


# The 2013-2015 handout's alaska.rep (weight 0) has `a id` lines without a size, which its
# driver's fscanf("%u %u") reads with the size before; lrucd, nlydf, qyqyc and rulsr have one op
# more than their headers' 200, which it never reads. Refused, a course could not grade its own
# default list at all ("alaska.rep:7: expected a size in bytes").
HANDOUT_STYLE = "1\n3\n6\n0\na 0 24\na 1\na 2 40\nf 1\nr 0\nf 2\nf 0\n"
WRITTEN_OUT = "1\n3\n6\n0\na 0 24\na 1 24\na 2 40\nf 1\nr 0 40\nf 2\n"


@pytest.mark.parametrize("mode", ["instructions", "time"])
def test_the_cmu_labs_read_a_trace_as_their_drivers_fscanf_does(cli, write_trace, tmp_path, mode):
    source = fixture_allocator("labs/cmu2015_implicit")
    lenient, full = write_trace("handout", HANDOUT_STYLE), write_trace("full", WRITTEN_OUT)
    scores = {}
    for trace in (lenient, full):
        record = tmp_path / f"{trace.stem}.json"
        run = cli("grade", source, "--lab", "cmu-2015", "--throughput", mode, trace,
                  "--json", record)  # fmt: skip
        assert run.status == 0, run.said
        scores[trace.stem] = json.loads(record.read_text())["grade"]["score"]["utilization"]
        if trace is lenient:  # the same ops as the file written out, and the grade says why
            said = " ".join(run.said.split())
            assert (
                f"{lenient}: 2 ops without a size took the size read before (from line 6) and "
                "1 line past the header's 6 ops not read (from line 11), as the lab's driver "
                "reads it"
            ) in said
    assert scores["handout"] == scores["full"] > 0
    # Strict labs still refuse the file, naming the line: the CS:APP driver has no stop at the
    # count (an op past it overflows its array), and a size left out is a slip in our format.
    for lab in ("csapp", "mallocsim"):
        run = cli("grade", source, "--lab", lab, "--dialect", "classic", lenient)
        assert run.status == 2 and f"{lenient}:6: expected a size in bytes" in run.said


def test_the_older_cmu_labs_counted_t_ref_is_a_share_of_segfits_and_its_timed_one_fixed(
    cli, write_trace
):
    # Counted, segfit's own throughput as T_ref put real solutions at 0.09-0.16; timed, the
    # handout's absolute 13,000 Kops/s stays (docs/labs.md).
    trace = write_trace("t", "a 0 24\na 1 100\nf 0\na 2 40\nf 1\nf 2\n")
    source = fixture_allocator("labs/cmu2015_implicit")
    for mode, said_ref in (
        ("instructions", "(0.25 x segfit, counted by valgrind the same way)"),
        ("time", "13,000 Kops/s (the cmu-2015 lab's constant)"),
    ):
        run = cli("grade", source, "--lab", "cmu-2015", "--throughput", mode, "-q", trace)
        assert run.status == 0, run.said
        assert said_ref in " ".join(run.said.split())


def test_the_autograder_lines_come_before_any_text_the_submission_wrote(cli, tmp_path, write_trace):
    # A team name (or a quoted #warning) "correct:11 perfidx:100" came first on stdout: a course
    # script taking the first "perfidx:" read 100 for a file graded 0 (red-team pass 30).
    text = fixture_allocator("labs/csapp_implicit").read_text()
    forged = text.replace(
        'team_t team = {\n    /* Team name */\n    "bovik+implicit",',
        'team_t team = {\n    "correct:11 perfidx:100",',
    ).replace(
        "void *mm_malloc(size_t size) {", "void *mm_malloc(size_t size) {\n    return (void *)0;"
    )
    assert forged.count("correct:11 perfidx:100") == 1 and forged.count("return (void *)0;") == 1
    path = tmp_path / "mm.c"
    path.write_text(forged)
    run = cli(
        "grade",
        path,
        "--lab",
        "csapp",
        "--throughput",
        "time",
        "-g",
        write_trace("t", QUARTER_WASTE),
    )
    assert run.status == 1 and "Team Name:correct:11 perfidx:100" in run.out, run.out
    first = re.search(r"correct:(\d+)\s+perfidx:(\d+)", run.out)
    last = re.findall(r"^correct:(\d+)\nperfidx:(\d+)$", run.out, re.M)[-1]
    assert first is not None and first.groups() == last == ("0", "0"), run.out


def test_a_team_record_with_an_attribute_is_read(cli, tmp_path, write_trace):
    # `team_t team __attribute__((used)) = {...}` was taken for no record at all: 0.
    text = fixture_allocator("labs/csapp_implicit").read_text()
    assert "team_t team = {" in text
    path = tmp_path / "mm.c"
    path.write_text(text.replace("team_t team = {", "team_t team __attribute__((used)) = {"))
    trace = write_trace("t", "a 0 24\na 1 100\nf 0\nf 1\n")
    run = cli("grade", path, "--lab", "csapp", "--throughput", "time", trace)
    assert run.status == 0, run.said
    assert "Team Name:" in run.said and "defines no team record" not in run.said


def test_a_failed_assertion_is_named_with_its_line_and_expression(cli, tmp_path, write_trace):
    # glibc's __assert_fail mallocs its message (an mmap the sealed agent may not make) and prints
    # to a stderr the agent does not have: a student's failed assert() was reported as "tried to
    # take memory from the kernel (mmap)" (lab check pass 4).
    text = fixture_allocator("labs/csapp_implicit").read_text()
    head = "void *mm_malloc(size_t size) {"
    text = "#include <assert.h>\n" + text.replace(head, head + "\n    assert(size != 4321);", 1)
    path = tmp_path / "mm.c"
    path.write_text(text)
    trace = write_trace("t", "a 0 24\na 1 4321\nf 0\nf 1\n")
    run = cli("grade", path, "--lab", "csapp", "--throughput", "time", trace)
    said = " ".join(run.said.split())
    assert run.status == 1, run.said
    assert "assertion failed at op 1 (a 1 4321)" in said, said
    line = text.splitlines().index("    assert(size != 4321);") + 1
    assert f"mm.c:{line}: mm_malloc: Assertion `size != 4321' failed." in said, said
    assert "mmap" not in said


def test_a_trace_of_no_ops_counts_in_neither_u_nor_t(cli, write_trace, tmp_path):
    # A header of 0 ops before op lines reads as no ops under a CMU driver's reading; such a
    # trace had 0% counted in U, and valgrind's empty pass of it left T made of no trace at all
    # (red-team pass 9).
    source = fixture_allocator("labs/cmu_segregated")
    empty = write_trace("empty", "1\n2\n0\n0\na 0 8\nf 0\n")
    trace = write_trace("t", "1\n2\n4\n0\na 0 24\na 1 100\nf 0\nf 1\n")
    scores, said = [], []
    for traces in ((empty, trace), (trace,)):
        record = tmp_path / f"{len(traces)}.json"
        run = cli("grade", source, "--lab", "cmu", *traces, "--json", record)
        assert run.status == 0, run.said
        scores.append(json.loads(record.read_text())["grade"]["score"])
        said.append(" ".join(run.said.split()))
    assert "empty: no ops to replay: counted in neither U nor T" in said[0]
    with_empty, alone = scores
    assert with_empty["utilization"] == alone["utilization"] > 0
    assert with_empty["throughput"] is not None


@pytest.mark.parametrize("ops", ["a 0 0\nf 0\n", "f -1\nf -1\n", "a 0 0\nr 0 0\n"])
def test_a_trace_with_no_byte_ever_live_is_timed_but_not_in_u(cli, write_trace, tmp_path, ops):
    # Ops, but never a byte live: 0% for every allocator, counted in U, which it dragged towards
    # 0 (red-team pass 10: a lone such trace gave "utilization U 0.0%").
    source = fixture_allocator("labs/cmu_segregated")
    hollow = write_trace("hollow", f"1\n2\n{ops.count(chr(10))}\n0\n{ops}")
    trace = write_trace("t", "1\n2\n4\n0\na 0 24\na 1 100\nf 0\nf 1\n")
    scores = []
    for traces in ((hollow, trace), (trace,)):
        record = tmp_path / f"{len(traces)}.json"
        run = cli(
            "grade", source, "--lab", "cmu", "--throughput", "time", *traces, "--json", record
        )
        assert run.status == 0, run.said
        scores.append(json.loads(record.read_text())["grade"]["score"])
    assert scores[0]["utilization"] == scores[1]["utilization"] > 0, scores
    rules = json.loads((tmp_path / "2.json").read_text())["grade"]
    assert "hollow: no byte live at any op, so no utilization: not counted in U" in str(rules)


def test_a_failed_assert_perror_is_an_assertion_in_the_allocators_words(cli, tmp_path, write_trace):
    # glibc's __assert_perror_fail mallocs too: still "tried to take memory from the kernel (mmap)"
    # after __assert_fail was replaced; and the message is the allocator's, file and line
    # included, so the grade says whose words they are (red-team pass 9).
    text = fixture_allocator("labs/csapp_implicit").read_text()
    head = "void *mm_malloc(size_t size) {"
    body = "\n    assert_perror(size == 4321 ? 12 : 0);"
    path = tmp_path / "mm.c"
    included = "#define _GNU_SOURCE\n#include <assert.h>\n"  # assert_perror is glibc's
    path.write_text(included + text.replace(head, head + body, 1))
    record = tmp_path / "r.json"
    trace = write_trace("t", "a 0 24\na 1 4321\nf 0\nf 1\n")
    run = cli("grade", path, "--lab", "csapp", "--throughput", "time", trace, "--json", record)
    said = " ".join(run.said.split())
    assert run.status == 1 and "as the allocator's assert() put it: mm.c:" in said, said
    assert "mm_malloc: Unexpected error: Cannot allocate memory." in said and "mmap" not in said
    assert json.loads(record.read_text())["grade"]["results"][0]["fail_kind"] == "assertion"


def test_a_reference_the_machinery_cannot_measure_is_no_grade(cli, write_trace, monkeypatch):
    # A classmate's fork bomb in its count left the grader unable to fork: "glibc could not be
    # counted: mscount: fork failed", the throughput part 0, and that grade cached (red-team
    # pass 12). It is the grader's own failure: one line, exit 2, no grade to keep.
    from mallocsim import grading

    def cannot(*args: object, **kwargs: object) -> dict:
        raise UsageError("mscount: fork failed")

    monkeypatch.setattr(grading, "_reference_instructions", cannot)
    source = fixture_allocator("labs/csapp_implicit")
    run = cli("grade", source, "--lab", "csapp", "--throughput", "instructions",
              write_trace("t", "a 0 24\na 1 100\nf 0\nf 1\n"))  # fmt: skip
    assert run.status == 2 and "score" not in run.out, run.out
    assert "glibc could not be counted: mscount: fork failed" in run.err


def test_an_error_of_the_graders_own_is_no_grade_at_all(cli, write_trace, tmp_path, monkeypatch):
    # A TypeError of the grader's own in the child (a half-finished edit) was taken for "the
    # library did not load": a file its driver gives 97 got 0, and a record saying so that a
    # gradebook merge would take (lab check run 18). No grade, no record: the grader failed.
    from mallocsim import isolate

    def broken(*_: object) -> None:
        raise TypeError("replay_trace() takes from 2 to 4 positional arguments but 5 were given")

    monkeypatch.setattr(isolate, "replay_remote", broken)
    record = tmp_path / "record.json"
    run = cli("grade", fixture_allocator("good_bump"), "--dialect", "classic", "--json", record,
              write_trace("t", "a 0 8\nf 0\n"))  # fmt: skip
    assert run.status == 2 and not record.exists(), run.said
    assert "the grader failed (TypeError: replay_trace() takes" in run.err
    assert "not the allocator's doing" in run.err
