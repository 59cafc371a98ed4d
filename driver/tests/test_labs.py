"""Lab profiles as data: each lab's rules, the traces a folder gives under a lab
(the lab's list, in its order), how each trace counts, and the grading
configuration taking a lab's constants with a file's overrides on top."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mallocsim.config import ConfigError, for_lab, lab_overrides, load_config
from mallocsim.errors import UsageError
from mallocsim.labs import (
    CSAPP_TRACES,
    LABS,
    MIB,
    TraceRule,
    lab_named,
    select_trace_paths,
    selection_notes,
    trace_rules,
)

from .conftest import fixture_allocator


def test_each_lab_says_what_its_driver_requires():
    csapp, cmu, old, ours = LABS["csapp"], LABS["cmu"], LABS["cmu-2015"], LABS["mallocsim"]
    assert (csapp.alignment, csapp.heap_limit, csapp.dialect) == (8, 20 * MIB, "classic")
    assert csapp.team and not csapp.heap_shrinks and csapp.traces == CSAPP_TRACES
    assert csapp.scoring.reference_throughput == 600e3  # AVG_LIBC_THRUPUT
    assert (cmu.alignment, cmu.heap_limit, cmu.dialect) == (16, 100 * MIB, "cmu")
    assert cmu.realloc_zero_null and "DRIVER" in cmu.defines and cmu.header_weights
    assert cmu.scoring.throughput_mean == "harmonic"
    assert old.dialect == "classic" and old.headers == "cmu-2015"
    assert (ours.alignment, ours.heap_limit, ours.dialect) == (16, None, None)
    for lab in LABS.values():  # every profile is complete and consistent
        assert lab.alignment in (8, 16) and lab.checkers
        assert lab.fresh_heap in ("poisoned", "zeroed")
        assert lab.scoring.formula in ("csapp", "cmu")
    # A list grades a trace once, but where its driver's lists it twice (PKU 2022's config.h).
    assert {n for n, lab in LABS.items() if len(set(lab.traces)) < len(lab.traces)} == {
        "cmu-pku-2022"
    }
    # A trace's first pass, as the drivers give it: zeros (the CS:APP heap is malloc'd once, the
    # CMU ones mapped afresh for every trace; F20's mdriver-uninit, which would fail a read of a
    # byte never written, is for students' debugging: its autograder runs mdriver).
    assert {n: lab.fresh_heap for n, lab in LABS.items()} == {
        "mallocsim": "poisoned", "csapp": "zeroed", "cmu": "zeroed", "cmu-2022": "zeroed",
        "cmu-2015": "zeroed", "cmu-pku": "zeroed", "cmu-pku-2022": "zeroed",
        "cmu-pku-2025": "zeroed",
    }  # fmt: skip
    # Later passes: what the last left (mem_reset_brk moves the break), but in the F22+ CMU
    # handouts, whose mem_reset_brk maps the heap afresh before every pass.
    assert {n for n, lab in LABS.items() if lab.pass_heap == "zeroed"} == {"cmu-2022"}
    assert all(lab.pass_heap in ("left", "zeroed") for lab in LABS.values())
    f22 = LABS["cmu-2022"]
    assert replace(
        f22,
        name="cmu",
        title=cmu.title,
        pass_heap="left",
        trace_reading=0,
        libraries=("-lm", "-lrt"),
        memlib_calls_sbrk=True,  # F20's memlib calls sbrk; F22's only moves a pointer
    ) == replace(cmu, trace_reading=0)  # the rest as F20's: traces, scoring, limit, checks
    pku = LABS["cmu-pku"]  # F15's but for its config.h's bounds, and its asserts kept (no NDEBUG)
    assert (
        replace(pku, name=old.name, title=old.title, scoring=old.scoring, defines=old.defines)
        == old
    )
    assert pku.defines == ("DRIVER",) and "NDEBUG" in old.defines
    assert (pku.scoring.max_util, pku.scoring.reference_throughput) == (0.91, 13750e3)
    # Counted, T_ref is segfit's times a share calibrated on cmu-2015's 13,000 Kops/s: the share
    # goes with each handout's absolute T_ref (a quarter against 2025's 12,000 counted a file
    # timed at 47 of 80 under its threshold, red-team pass 34).
    per_ops = old.scoring.reference_scale / (old.scoring.reference_throughput or 1)
    for lab in ("cmu-pku", "cmu-pku-2022", "cmu-pku-2025"):
        scoring = LABS[lab].scoring
        assert scoring.reference_scale == pytest.approx(per_ops * scoring.reference_throughput)
    for later in ("cmu-pku-2022", "cmu-pku-2025"):  # the 2013 one's but for config.h and mdriver.c
        lab = LABS[later]
        assert (
            replace(lab, name=pku.name, title=pku.title, traces=pku.traces, scoring=pku.scoring)
            == pku
        )


def test_an_unknown_lab_is_one_line_naming_the_known_ones():
    with pytest.raises(UsageError, match="unknown lab 'cs213': expected one of mallocsim, csapp"):
        lab_named("cs213")


def make_folder(tmp_path, *names: str):
    folder = tmp_path / "traces"
    folder.mkdir()
    for name in names:
        (folder / f"{name}.rep").write_text("a 0 8\nf 0\n")
    return folder


def test_a_folder_gives_the_labs_traces_in_the_labs_order(tmp_path):
    folder = make_folder(tmp_path, *sorted(CSAPP_TRACES), "short1-bal", "short2-bal")
    selection = select_trace_paths(LABS["csapp"], [folder])
    assert [p.stem for p in selection.paths] == list(CSAPP_TRACES)
    assert [p.split("/")[-1] for p in selection.left_out] == ["short1-bal.rep", "short2-bal.rep"]
    assert selection.missing == ()
    (note,) = selection_notes(LABS["csapp"], selection)
    assert (
        note == "not graded by the csapp lab (name the files to run them): short1-bal, short2-bal"
    )


def test_a_trace_its_labs_driver_lists_twice_is_graded_twice(tmp_path):
    folder = make_folder(tmp_path, *set(LABS["cmu-pku-2022"].traces))
    selection = select_trace_paths(LABS["cmu-pku-2022"], [folder])
    stems = [p.stem for p in selection.paths]
    assert stems == list(LABS["cmu-pku-2022"].traces) and len(stems) == 22
    assert (stems.count("corners"), stems.count("cp-decl")) == (2, 2)


def test_traces_the_folder_lacks_are_named_and_files_run_as_given(tmp_path):
    folder = make_folder(tmp_path, "syn-array", "ngram-fox1", "syn-array-short")
    extra = tmp_path / "mine.rep"
    extra.write_text("a 0 8\nf 0\n")
    selection = select_trace_paths(LABS["cmu"], [folder, extra])
    assert [p.stem for p in selection.paths] == [
        "syn-array-short",
        "ngram-fox1",
        "syn-array",
        "mine",
    ]
    notes = selection_notes(LABS["cmu"], selection)
    assert notes[-1].startswith("23 of the cmu lab's 26 traces are not in the folders given: ")


def test_the_mallocsim_lab_runs_every_trace_of_a_folder(tmp_path):
    folder = make_folder(tmp_path, "b", "a")
    selection = select_trace_paths(LABS["mallocsim"], [folder])
    assert [p.stem for p in selection.paths] == ["a", "b"] and not selection.left_out


def test_a_folder_with_nothing_to_run_is_one_line_and_the_others_still_run(tmp_path):
    folder = make_folder(tmp_path, "mine")
    named = tmp_path / "nope.rep"  # run as given: the loader says it is missing
    selection = select_trace_paths(LABS["csapp"], [folder, named])
    assert selection.paths == (named,)
    [problem] = selection.problems
    assert problem.startswith(f"{folder}: holds none of the traces the csapp lab grades")


def test_how_traces_count_under_each_lab():
    traces = [("syn-array-short", "cmu", 0), ("syn-array", "cmu", 1), ("scaled", "cmu", 3)]
    assert trace_rules(LABS["cmu"], traces) == {
        "syn-array-short": TraceRule("syn-array-short", 1.0, False, False),
        "syn-array": TraceRule("syn-array", 1.0, True, True),
        "scaled": TraceRule("scaled", 1.0, False, True),
    }
    # The CS:APP driver counts every trace for both, whatever a header says.
    assert trace_rules(LABS["csapp"], traces)["syn-array-short"] == TraceRule("syn-array-short")


def test_a_labs_configuration_carries_its_drivers_constants():
    csapp, cmu = for_lab("csapp"), for_lab("cmu")
    assert (csapp.formula, csapp.reference_throughput, csapp.dialect) == ("csapp", 600e3, "classic")
    assert (cmu.formula, cmu.throughput_mean, cmu.index_digits) == ("cmu", "harmonic", 1)
    assert csapp.throughput == "instructions"  # the deterministic measure by default


def test_a_file_overrides_its_labs_constants_and_the_command_line_picks_the_lab(tmp_path):
    path = tmp_path / "grading.toml"
    path.write_text('[grade]\nlab = "csapp"\n[score]\nreference_throughput = 21.5e6\n')
    config = load_config(path)
    assert (config.lab, config.formula, config.reference_throughput) == ("csapp", "csapp", 21.5e6)
    config = load_config(path, lab="cmu")  # --lab wins; the file's override still applies
    assert (config.lab, config.formula, config.reference_throughput) == ("cmu", "cmu", 21.5e6)


def test_a_course_sets_its_handouts_alignment_and_heap_limit(tmp_path):
    # A -m32 handout edited to ALIGNMENT 4, where its driver gives a file 86, was graded 0 here,
    # "not 8-byte aligned" on 7 traces, with no setting to follow the course (lab check run 19).
    path = tmp_path / "grading.toml"
    path.write_text('[grade]\nlab = "csapp"\nalignment = 4\nheap_limit = 33_554_432\n')
    config = load_config(path)
    assert (config.profile.alignment, config.profile.heap_limit) == (4, 32 * MIB)
    assert config.profile == replace(LABS["csapp"], alignment=4, heap_limit=32 * MIB)
    assert lab_overrides(config) == (
        "scored otherwise than the csapp lab's driver: alignment 4 (the lab's: 8), "
        "heap_limit 33554432 (the lab's: 20971520)"
    )
    assert load_config(path, lab="cmu").profile.alignment == 4  # the course's, over --lab's
    # Left out, or set to the lab's own value: the lab's rules, and nothing said.
    assert load_config(None, lab="csapp").profile == LABS["csapp"]
    path.write_text('[grade]\nlab = "csapp"\nalignment = 8\n')
    assert lab_overrides(load_config(path)) is None
    mallocsim = replace(for_lab("mallocsim"), heap_limit=MIB)
    assert lab_overrides(mallocsim) == (
        "scored otherwise than the mallocsim lab's driver: heap_limit 1048576 (the lab's: none)"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("alignment = 12", "a power of two from 4 to 4096, got 12"),
        ("alignment = 2", "a power of two from 4 to 4096, got 2"),
        ("alignment = 8192", "a power of two from 4 to 4096, got 8192"),
        ('alignment = "8"', "a power of two from 4 to 4096, got '8'"),
        ("alignment = true", "a power of two from 4 to 4096, got True"),
        ("heap_limit = 4096", "bytes from 1048576 (1 MiB) to 1099511627776 (1 TiB), got 4096"),
        (
            "heap_limit = 20.5e6",
            "bytes from 1048576 (1 MiB) to 1099511627776 (1 TiB), got 20500000.0",
        ),
        ("heap_limit = 0", "bytes from 1048576 (1 MiB) to 1099511627776 (1 TiB), got 0"),
        ("heap_limit = -1", "got -1"),
        ("heap_limit = 2_199_023_255_552", "got 2199023255552"),
    ],
)
def test_a_bad_alignment_or_heap_limit_is_one_line(tmp_path, line, expected):
    path = tmp_path / "grading.toml"
    path.write_text(f"[grade]\n{line}\n")
    key = line.split()[0]
    with pytest.raises(ConfigError, match=rf"grading.toml: \[grade\] {key}: expected .*") as caught:
        load_config(path)
    assert str(caught.value).endswith(expected) and "\n" not in str(caught.value)


def test_a_bad_lab_in_a_file_is_one_line(tmp_path):
    path = tmp_path / "grading.toml"
    path.write_text('[grade]\nlab = "cs213"\n')
    with pytest.raises(ConfigError, match=r"grading.toml: \[grade\] lab: expected one of"):
        load_config(path)


def test_a_grade_says_each_scoring_value_set_otherwise_than_its_labs_driver(
    cli, write_trace, tmp_path
):
    # A grading.toml that kept the mallocsim lab's values under lab = "cmu-2015" graded 60.0
    # where the lab gives 53.4, and said nothing (lab check run 14).
    assert lab_overrides(for_lab("cmu-2015")) is None
    changed = replace(for_lab("cmu-2015"), util_weight=0.6, min_util=0.55)
    assert lab_overrides(changed) == (
        "scored otherwise than the cmu-2015 lab's driver: util_weight 0.6 (the lab's: 0.61), "
        "min_util 0.55 (the lab's: 0.6)"
    )
    toml = tmp_path / "grading.toml"
    toml.write_text('[grade]\nlab = "csapp"\n[score]\nutil_weight = 0.5\n')
    trace = write_trace("t", "a 0 8\nf 0\n")
    allocator = fixture_allocator("good_bump")
    run = cli("grade", allocator, "--config", toml, "--no-team-check", "--wide", trace)
    assert (
        "scored otherwise than the csapp lab's driver: util_weight 0.5 (the lab's: 0.6)" in run.out
    )
    run = cli("grade", allocator, "--lab", "csapp", "--no-team-check", "--wide", trace)
    assert "scored otherwise" not in run.out


def test_every_scoring_rule_set_otherwise_is_said_the_traces_too():
    # A harmonic mean, invalid traces counted as 0 and a course's own trace rules changed scores
    # with no note (red-team pass 26).
    lab = for_lab("csapp")
    changed = replace(lab, mean="harmonic", invalid="trace", traces=(TraceRule("t"),))
    assert lab_overrides(changed) == (
        "scored otherwise than the csapp lab's driver: mean harmonic (the lab's: arithmetic), "
        "invalid trace (the lab's: zero), its own [[traces]] (t)"
    )
