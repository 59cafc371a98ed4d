"""`mallocsim init`: the starter files are written (never over a student's
work unless forced), the starter mm.c builds warning-free and passes every
check, and the starter grading.toml documents the true defaults."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace

import pytest

from mallocsim._native import HEADER_DIR
from mallocsim.config import GradingConfig, for_lab, load_config
from mallocsim.labs import LABS

STRICT = [
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    "-Werror",
    "-fPIC",
    "-shared",
]


def test_init_writes_the_three_files_and_keeps_existing_ones(cli, tmp_path):
    lab = tmp_path / "lab"
    run = cli("init", lab)
    assert run.status == 0, run.err
    assert sorted(p.name for p in lab.iterdir()) == ["README.md", "grading.toml", "mm.c"]
    assert "mallocsim grade mm.c --config grading.toml" in (lab / "README.md").read_text()
    (lab / "mm.c").write_text("/* my work */\n")
    run = cli("init", lab)
    assert run.status == 2 and "already exist: pass --force" in run.err
    assert (lab / "mm.c").read_text() == "/* my work */\n"
    assert cli("init", "--force", lab).status == 0
    assert "starter allocator" in (lab / "mm.c").read_text()


def test_the_starter_config_states_the_defaults(cli, tmp_path):
    cli("init", tmp_path)
    assert load_config(tmp_path / "grading.toml") == GradingConfig(dialect="classic")


@pytest.mark.parametrize("lab", LABS)
def test_the_starter_config_of_a_lab_grades_by_that_labs_values_and_shows_them(cli, tmp_path, lab):
    # The file set the mallocsim lab's values: with `lab = "cmu-2015"` written in, a file graded
    # 60.0 where --lab cmu-2015 gave 53.4; and `init` had no --lab, so the README's Gradescope
    # autograder gave every CS:APP student 0, "not 16-byte aligned" (lab check run 14).
    run = cli("init", "--lab", lab, tmp_path)
    assert run.status == 0, run.err
    config = tmp_path / "grading.toml"
    expected = for_lab(lab) if lab != "mallocsim" else replace(for_lab(lab), dialect="classic")
    assert load_config(config) == expected
    lab_part, rest = config.read_text().split("[points]")  # [grade] and [score]
    shown = re.sub(r"^# ((\w+) = [^#]*#)(?! the lab sets none)", r"\1", lab_part, flags=re.M)
    assert shown != lab_part
    config.write_text(shown + "[points]" + rest)  # every value the file shows, set: the lab's own
    # The handout's constants, set to the lab's own values: the same rules.
    constants = {"alignment": LABS[lab].alignment, "heap_limit": LABS[lab].heap_limit}
    assert load_config(config) == replace(expected, timeout=60.0, word_size="auto", **constants)
    assert load_config(config).profile == LABS[lab]
    assert (tmp_path / "mm.c").exists() == (lab in ("mallocsim", "csapp"))
    # Where the lab sets none, the example shown is TOML too (it read "none": red-team pass 26).
    examples = re.sub(r"^# (\w+ = [^#]*# the lab sets none)", r"\1", lab_part, flags=re.M)
    config.write_text(examples + "[points]" + rest)
    load_config(config)


def test_the_starter_builds_warning_free_and_grades_valid(cli, tmp_path, shared_traces):
    cli("init", tmp_path)
    subprocess.run(
        ["cc", *STRICT, f"-I{HEADER_DIR}", "-o", str(tmp_path / "mm.so"), str(tmp_path / "mm.c")],
        check=True,
    )
    run = cli(
        "grade",
        tmp_path / "mm.c",
        "--config",
        tmp_path / "grading.toml",
        shared_traces / "classic" / "short1-bal.rep",
        shared_traces / "classic" / "binary-bal.rep",
        shared_traces / "cmu" / "syn-mix-short.rep",
    )
    assert run.status == 0, run.out + run.err
    assert "valid traces        3 / 3" in run.out


def test_init_into_an_unwritable_place_is_one_line(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = cli("init", blocker / "lab")
    assert run.status == 2 and len(run.err.splitlines()) == 1 and "Traceback" not in run.err
