"""The fixture allocators' own contract: bump_faults.c's banner names exactly the
switches its code tests, and fixture_allocator() refuses a name it has no file for."""

from __future__ import annotations

import re

import pytest

from .conftest import BUMP_FAULTS, bump_fault_names, fixture_allocator


def test_bump_faults_banner_names_exactly_the_switches_its_code_tests():
    code = BUMP_FAULTS.read_text().split("*/", 1)[1]
    tested = set(re.findall(r"#\s*(?:el)?ifn?def\s+([A-Z_]+)", code))
    tested |= set(re.findall(r"defined\(([A-Z_]+)\)", code))
    # the dialect, the derived switch and a variant's parameter are not variants
    tested -= {"MM_DIALECT_CMU", "REUSE", "INIT_POOL", "SLOW_STEPS", "PAST_BREAK_WRITES"}
    assert {name.upper() for name in bump_fault_names()} == tested


def test_a_variant_is_the_source_with_its_switch_in_front_under_its_own_name():
    variant = fixture_allocator("overlap")
    assert variant.name == "overlap.c"
    assert variant.read_text() == "#define OVERLAP\n" + BUMP_FAULTS.read_text()


def test_an_unknown_fixture_allocator_is_refused():
    with pytest.raises(ValueError, match="no fixture allocator 'no_such_bug'"):
        fixture_allocator("no_such_bug")
