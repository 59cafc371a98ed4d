"""The pytest plugin, run in real pytest subprocesses (pytester): inert
without its options, one item per (trace, allocator), passes, failures shown
as the diagnosis and the trace line (no Python traceback), thresholds,
build failures, pytest-xdist and --junitxml."""

from __future__ import annotations

import importlib.util
import tomllib
import xml.etree.ElementTree as ET

import pytest

from .conftest import REPO, fixture_allocator, fixture_variant, handed_in_library
from .test_word_size import LINKED

pytest_plugins = ["pytester"]

GOOD_TRACE = "a 0 48\na 1 100\nf 1\nf 0\n"  # two mallocs: segfault.c crashes on its third
CRASH_TRACE = "a 0 8\na 1 8\na 2 8\nf 0\n"
# A bump allocator with the 2013-2015 CMU handouts' interface (no team record, int mm_init): a
# mem_sbrk at every malloc.
BUMP_2015 = """#include <stddef.h>
#include "memlib.h"
#include "mm.h"
int mm_init(void) { return 0; }
void *mm_malloc(size_t size) {
    void *p = mem_sbrk((int)((size + 7) & ~(size_t)7));
    return p == (void *)-1 ? NULL : p;
}
void mm_free(void *ptr) { (void)ptr; }
void *mm_realloc(void *ptr, size_t size) { return ptr == NULL ? mm_malloc(size) : NULL; }
void *mm_calloc(size_t n, size_t size) { return mm_malloc(n * size); }
void mm_checkheap(int lineno) { (void)lineno; }
"""


@pytest.fixture
def run(pytester, monkeypatch):
    """run(*args) -> RunResult of a pytest subprocess with only this plugin
    (and xdist) loaded, whatever is installed."""
    monkeypatch.setenv("PYTHONPATH", str(REPO / "driver"))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makefile(".rep", good=GOOD_TRACE, crash=CRASH_TRACE)

    xdist = ["-p", "xdist.plugin"] if importlib.util.find_spec("xdist") else []

    def go(*args: object):
        return pytester.runpytest_subprocess(
            "-p", "mallocsim.pytest_plugin", *xdist, *map(str, args)
        )

    return go


def allocator(name: str) -> str:
    return f"--mallocsim-allocator={fixture_allocator(name)}"


def test_inert_without_its_options(run, pytester):
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = run("-q")
    result.assert_outcomes(passed=1)
    assert "good.rep" not in result.stdout.str()


def test_one_item_per_trace_and_allocator(run, pytester):
    result = run(
        allocator("good_bump"),
        allocator("segfault"),
        "--mallocsim-dialect=classic",
        f"--mallocsim-traces={pytester.path}",
        "--collect-only",
        "-q",
    )
    assert result.ret == 0
    ids = [line for line in result.outlines if "::" in line]
    assert ids == [
        "crash.rep::good_bump.c",
        "crash.rep::segfault.c",
        "good.rep::good_bump.c",
        "good.rep::segfault.c",
    ]


def test_a_good_allocator_passes(run, pytester):
    result = run(
        allocator("good_bump"),
        "--mallocsim-dialect=classic",
        f"--mallocsim-traces={pytester.path}",
        "-m",
        "mallocsim",
    )
    result.assert_outcomes(passed=2)


def test_a_failure_shows_the_diagnosis_and_the_trace_line(run, pytester):
    crash = pytester.path / "crash.rep"
    result = run(
        allocator("segfault"), "--mallocsim-dialect=classic", f"--mallocsim-traces={crash}"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"{crash}:3: crashed with SIGSEGV at op 2 (a 2 8) in the checked pass",
            "  3 | a 2 8",
        ]
    )
    text = result.stdout.str()
    assert "Traceback" not in text and "pytest_plugin.py" not in text and "raise " not in text


def test_thresholds_fail_with_the_measure(run, pytester):
    good = pytester.path / "good.rep"
    result = run(
        allocator("good_bump"),
        "--mallocsim-dialect=classic",
        f"--mallocsim-traces={good}",
        "--mallocsim-min-util=0.9",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"{good}: utilization *% is below the minimum 90.0%"])
    result = run(
        allocator("good_bump"),
        "--mallocsim-dialect=classic",
        f"--mallocsim-traces={good}",
        "--mallocsim-min-throughput=1e12",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"{good}: throughput * Kops/s is below the minimum *"])


def test_a_throughput_threshold_is_held_to_the_speed_the_lab_charges(run, pytester):
    # The 2013-era memlib makes a brk system call at every growth, which the grade charges; the
    # plugin's threshold took the uncharged speed and passed a trace the grade showed below it
    # (red-team pass 49). A bump allocator in the 2015 handout's shape grows at each of 2,000
    # mallocs: charged at least 0.17 us each, 4,000 ops run at under 4,000 / 0.34 ms = 11,765
    # Kops/s, whatever the machine (uncharged, at some 300,000 here).
    from mallocsim.sbrk_cost import SECONDS_PER_CALL

    source = pytester.makefile(".c", mm=BUMP_2015)
    mallocs = 2000
    ops = "".join(f"a {i} 48\n" for i in range(mallocs))
    trace = pytester.makefile(".rep", grows=ops + "".join(f"f {i}\n" for i in range(mallocs)))
    bound = f"{2 * mallocs / (mallocs * SECONDS_PER_CALL) / 1000:.0f}"
    result = run(f"--mallocsim-allocator={source}", "--mallocsim-lab=cmu-2015",
                 f"--mallocsim-traces={trace}", f"--mallocsim-min-throughput={bound}")  # fmt: skip
    result.assert_outcomes(failed=1)
    said = f"{trace}: throughput * Kops/s is below the minimum 11,765 Kops/s"
    result.stdout.fnmatch_lines([said])


def test_build_failures_and_forbidden_calls_fail_their_items(run, pytester):
    broken = pytester.makefile(".c", mm='#include "mm.h"\nint mm_init(void) { return 0 }\n')
    good = pytester.path / "good.rep"
    result = run(
        f"--mallocsim-allocator={broken}",
        "--mallocsim-dialect=classic",
        f"--mallocsim-traces={good}",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"{broken}: does not compile:", "*error: expected*"])
    result = run(
        allocator("calls_malloc"), "--mallocsim-dialect=classic", f"--mallocsim-traces={good}"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*called free at mm_init*"])


def test_a_library_handed_in_built_is_tested_only_when_trusted(run, pytester):
    # As `grade` does: its code runs as it loads, before the sandbox is sealed.
    library = handed_in_library(fixture_allocator("good_bump"), pytester.path / "mm.so")
    chosen = [f"--mallocsim-allocator={library}", "--mallocsim-dialect=classic"]
    result = run(*chosen, f"--mallocsim-traces={pytester.path / 'good.rep'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: mallocsim: {library}: a library handed in built runs *"])
    result = run(
        *chosen, f"--mallocsim-traces={pytester.path / 'good.rep'}", "--mallocsim-trust-built"
    )
    result.assert_outcomes(passed=1)


def test_bad_usage_is_one_error_line(run, pytester):
    result = run(allocator("good_bump"), "--mallocsim-dialect=classic")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --mallocsim-allocator needs --mallocsim-traces=PATH"])
    result = run(allocator("good_bump"), f"--mallocsim-traces={pytester.path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: mallocsim: *say which lab it is written for*"])
    result = run(
        allocator("good_bump"),
        "--mallocsim-dialect=classic",
        f"--mallocsim-traces={pytester.path}",
        "--mallocsim-timeout=-1",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: mallocsim: --mallocsim-timeout must be at least 0.01 seconds, not -1*"]
    )


def test_heap_checks_of_an_allocator_without_a_checker_are_said_once_and_skipped(run, pytester):
    traces = f"--mallocsim-traces={pytester.path}"
    result = run(
        allocator("handout_classic"),
        "--mallocsim-dialect=classic",
        traces,
        "--mallocsim-check-heap",
    )
    assert result.ret == pytest.ExitCode.OK
    notes = [line for line in result.stdout.lines if "heap checks skipped" in line]
    assert notes == [
        "mallocsim: handout_classic.c: heap checks skipped: no heap checker "
        "(mm_checkheap) is defined"
    ]
    config = pytester.makefile(".toml", grading="[grade]\ncheck_heap = true\n")
    result = run(
        allocator("handout_classic"),
        "--mallocsim-dialect=classic",
        traces,
        f"--mallocsim-config={config}",
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["mallocsim: handout_classic.c: heap checks skipped: *"])
    # An allocator that has one is checked, and one that does not build fails its items.
    broken = pytester.makefile(".c", mm='#include "mm.h"\nint mm_init(void) { return 0 }\n')
    result = run(
        allocator("good_bump"),
        f"--mallocsim-allocator={broken}",
        "--mallocsim-dialect=classic",
        traces,
        "--mallocsim-check-heap",
    )
    result.assert_outcomes(passed=2, failed=2)


def test_a_grading_config_gives_the_dialect_and_the_traces(run, pytester):
    config = pytester.makefile(
        ".toml", grading="[grade]\ndialect = 'classic'\n[[traces]]\nname = 'good'\n"
    )
    result = run(
        allocator("good_bump"),
        f"--mallocsim-config={config}",
        f"--mallocsim-traces={pytester.path}",
        "--collect-only",
        "-q",
    )
    assert [line for line in result.outlines if "::" in line] == ["good.rep::good_bump.c"]
    config.write_text("[[traces]]\nname = 'absent'\n")
    result = run(
        allocator("good_bump"),
        "--mallocsim-dialect=classic",
        f"--mallocsim-config={config}",
        f"--mallocsim-traces={pytester.path}",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: mallocsim: the configuration grades absent, *"])


def test_under_xdist(run, pytester):
    pytest.importorskip("xdist")
    result = run(
        allocator("good_bump"),
        allocator("segfault"),
        "--mallocsim-dialect=classic",
        f"--mallocsim-traces={pytester.path}",
        "-n",
        "2",
    )
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*crashed with SIGSEGV at op 2 (a 2 8)*"])


def test_junit_xml(run, pytester):
    report = pytester.path / "report.xml"
    result = run(
        allocator("segfault"),
        "--mallocsim-dialect=classic",
        f"--mallocsim-traces={pytester.path}",
        f"--junitxml={report}",
    )
    result.assert_outcomes(passed=1, failed=1)
    cases = {c.get("classname"): c for c in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == {"crash.rep", "good.rep"}
    assert "SIGSEGV at op 2" in cases["crash.rep"].find("failure").get("message")
    properties = {p.get("name"): p.get("value") for p in cases["good.rep"].iter("property")}
    assert 0 < float(properties["utilization"]) <= 1


def test_registered_as_a_pytest11_entry_point():
    with open(REPO / "pyproject.toml", "rb") as handle:
        project = tomllib.load(handle)["project"]
    assert project["entry-points"]["pytest11"] == {"mallocsim": "mallocsim.pytest_plugin"}


def test_importing_the_plugin_loads_nothing_native():
    # pytest imports the plugin in every run where mallocsim is installed: it
    # must not need the native core (nor load it) until its options are given.
    import os
    import subprocess
    import sys

    import mallocsim

    code = (
        "import sys, mallocsim.pytest_plugin\n"
        "print(sorted(m for m in sys.modules if m.startswith('mallocsim')))"
    )
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(mallocsim.__file__)))
    env = {**os.environ, "PYTHONPATH": package_root}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.strip() == "['mallocsim', 'mallocsim.pytest_plugin']"


def test_a_lab_picks_its_traces_in_its_order_and_applies_its_rules(run, pytester):
    folder = pytester.mkdir("lab")
    for name in ("expr-bal", "amptjp-bal", "mine"):  # the csapp lab lists the first two
        (folder / f"{name}.rep").write_text(GOOD_TRACE)
    result = run(
        allocator("good_bump"),
        "--mallocsim-lab=csapp",
        f"--mallocsim-traces={folder}",
        "--collect-only",
        "-q",
    )
    assert result.ret == 0, result.stderr.str()
    items = [line for line in result.stdout.lines if "::" in line]
    assert [item.split("::")[0].split("/")[-1] for item in items] == [
        "amptjp-bal.rep",
        "expr-bal.rep",
    ]
    # good_bump's blocks are 16-byte aligned, so also 8: it passes the csapp lab's checks.
    result = run(allocator("good_bump"), "--mallocsim-lab=csapp", f"--mallocsim-traces={folder}")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(
    "attack, said",
    [
        ("FORGE_ANSWER", "overlaps block 0"),
        ("CHEAT_TIMED", "in the timed passes: op 1 (a 1 100)"),  # timed: a throughput floor
        ("KERNEL_MEMORY", "tried to take memory from the kernel (mmap)"),
        ("CONSTRUCTOR_WRITE", "tried to create or write a file (openat)"),
    ],
)
def test_an_attack_fails_its_item_named_and_leaves_nothing(run, pytester, attack, said):
    pwned = pytester.path / "pwned"
    defines = f'#define ATTACK {attack}\n#define ATTACK_PATH "{pwned}"\n#define ATTACK_PORT 0\n'
    source = fixture_variant("attacks", defines, pytester.path / f"{attack.lower()}.c")
    good = pytester.path / "good.rep"
    result = run(
        f"--mallocsim-allocator={source}", "--mallocsim-dialect=classic",
        f"--mallocsim-traces={good}", "--mallocsim-min-throughput=1",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    assert said in " ".join(result.stdout.str().split())
    assert not pwned.exists()


def test_a_conftest_in_the_allocators_folder_is_refused_before_it_runs(run, pytester):
    # pytest started in a student's folder imports its conftest.py as the grader (red-team
    # pass 22: a broken mm.c reported passing, the grader's environment written out).
    pwned = pytester.path / "pwned"
    pytester.makeconftest(f"open({str(pwned)!r}, 'w').close()\n")
    mm = pytester.path / "mm.c"
    mm.write_text(fixture_allocator("good_bump").read_text())
    good = pytester.path / "good.rep"
    result = run(
        f"--mallocsim-allocator={mm}", "--mallocsim-dialect=cmu", f"--mallocsim-traces={good}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"pytest would load {pytester.path / 'conftest.py'}, in the folder of an allocator" in (
        " ".join(result.stderr.str().split())
    )
    assert not pwned.exists()
    result = run(
        f"--mallocsim-allocator={mm}", "--mallocsim-dialect=cmu", f"--mallocsim-traces={good}",
        "--noconftest",
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    assert not pwned.exists()


def test_an_ini_file_in_the_allocators_folder_is_refused(run, pytester, tmp_path_factory):
    # Its plugins load before any plugin can look: the refusal keeps a grader from relying on
    # a way of running pytest that a submission takes over.
    pytester.makeini("[pytest]\naddopts = -q\n")
    mm = pytester.path / "mm.c"
    mm.write_text(fixture_allocator("good_bump").read_text())
    result = run(f"--mallocsim-allocator={mm}", f"--mallocsim-traces={pytester.path / 'good.rep'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "mallocsim: pytest's configuration is" in result.stderr.str()
    elsewhere = tmp_path_factory.mktemp("course") / "pytest.ini"
    elsewhere.write_text("[pytest]\n")
    result = run(
        "-c", elsewhere, "--rootdir", elsewhere.parent, f"--mallocsim-allocator={mm}",
        "--mallocsim-dialect=cmu", f"--mallocsim-traces={pytester.path / 'good.rep'}",
    )  # fmt: skip
    result.assert_outcomes(passed=1)


def test_a_trace_named_with_brackets_is_one_usage_line(run, pytester):
    # pytest reads "[...]" in a path as a test's parameters, and ran no trace at all.
    (pytester.path / "short[1].rep").write_text(GOOD_TRACE)
    result = run(
        allocator("good_bump"), "--mallocsim-dialect=cmu",
        f"--mallocsim-traces={pytester.path / 'short[1].rep'}",
        f"--mallocsim-traces={pytester.path / 'good.rep'}",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "short[1].rep: pytest cannot collect a path holding '[' or ']'" in result.stderr.str()


def test_the_csapp_team_check_and_m32_build_are_grades(run, pytester):
    # The plugin gave a file `grade` refuses (no team record) a pass, and failed every item of
    # a file `grade` builds -m32 as its handout does (red-team pass 22).
    nameless = pytester.path / "nameless.c"
    nameless.write_text(
        fixture_allocator("labs/csapp_explicit").read_text().replace("team_t team", "team_t tea")
    )
    linked = pytester.makefile(".rep", linked=LINKED)
    result = run(
        f"--mallocsim-allocator={nameless}", "--mallocsim-lab=csapp", f"--mallocsim-traces={linked}"
    )
    result.assert_outcomes(failed=1)
    assert "defines no team record" in result.stdout.str()
    adjacent = fixture_variant(
        "labs/csapp_explicit", "#define LINKS_AS_ADJACENT_POINTERS\n", pytester.path / "adj.c"
    )
    result = run(
        f"--mallocsim-allocator={adjacent}", "--mallocsim-lab=csapp", f"--mallocsim-traces={linked}"
    )
    result.assert_outcomes(passed=1)
    assert "adj.c: built -m32, as the csapp handout's Makefile builds it" in result.stdout.str()


def test_nothing_of_a_submission_is_collected_or_loaded_but_its_planned_traces(
    run, pytester, tmp_path_factory
):
    # Red-team pass 23, from a grader's own folder: a path argument covering the submissions had
    # pytest import a student's test_*.py and conftest.py while collecting; a trace kept in the
    # student's folder loaded the conftest beside it; a link mm.c -> src/mm.c had the guard look
    # in src/ alone; a pyproject.toml with no pytest section was refused as an ini file.
    pwned = pytester.path / "pwned"
    alice = pytester.mkdir("submissions") / "alice"
    alice.mkdir()
    (alice / "mm.c").write_text(fixture_allocator("good_bump").read_text())
    (alice / "conftest.py").write_text(f"open({str(pwned)!r}, 'w').close()\n")
    (alice / "test_x.py").write_text(f"open({str(pwned)!r}, 'w').close()\ndef test_x(): pass\n")
    mm, good = alice / "mm.c", pytester.path / "good.rep"
    result = run(
        f"--mallocsim-allocator={mm}", "--mallocsim-dialect=cmu", f"--mallocsim-traces={good}", "."
    )
    result.assert_outcomes(passed=1)
    assert not pwned.exists()
    (alice / "mine.rep").write_text(GOOD_TRACE)
    result = run(
        f"--mallocsim-allocator={mm}",
        "--mallocsim-dialect=cmu",
        f"--mallocsim-traces={alice / 'mine.rep'}",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR and not pwned.exists()
    assert f"lies under {alice / 'conftest.py'}" in " ".join(result.stderr.str().split())
    bob = tmp_path_factory.mktemp("bob")
    (bob / "src").mkdir()
    (bob / "src" / "mm.c").write_text(fixture_allocator("good_bump").read_text())
    (bob / "mm.c").symlink_to(bob / "src" / "mm.c")
    (bob / "conftest.py").write_text(f"open({str(pwned)!r}, 'w').close()\n")
    result = run(
        f"--mallocsim-allocator={bob / 'mm.c'}",
        "--mallocsim-dialect=cmu",
        f"--mallocsim-traces={good}",
        bob,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR and not pwned.exists()
    carol = tmp_path_factory.mktemp("carol")
    (carol / "mm.c").write_text(fixture_allocator("good_bump").read_text())
    (carol / "pyproject.toml").write_text('[project]\nname = "carol"\n')
    result = run(
        "--rootdir",
        carol,
        "-c",
        carol / "pyproject.toml",
        f"--mallocsim-allocator={carol / 'mm.c'}",
        "--mallocsim-dialect=cmu",
        f"--mallocsim-traces={good}",
    )
    result.assert_outcomes(passed=1)
