"""The trace generator (`mallocsim gen`): reproducible from the seed, exact op
counts, balanced, and every kind replays valid on every policy."""

from __future__ import annotations

import pytest

from mallocsim.allocators import builtin_policies
from mallocsim.generate import KINDS, generate
from mallocsim.trace import load_trace

OPS = 4000


def test_same_seed_same_bytes(tmp_path, cli):
    first, again, other = (tmp_path / f"{n}.rep" for n in range(3))
    for path, seed in ((first, 7), (again, 7), (other, 8)):
        assert cli("gen", "arrays", "--ops", OPS, "--seed", seed, "-o", path).status == 0
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ops", [2, 3, 101, 1000])
def test_exact_op_count_and_balanced(kind, ops, tmp_path):
    path = tmp_path / "t.rep"
    path.write_text(generate(kind, ops, seed=5))
    trace = load_trace(path)
    assert trace.info.format == "classic"
    assert trace.num_ops == ops == trace.info.header[2]
    live: set[int] = set()
    for letter, ident, size, _count in trace.ops():
        if letter == "f":
            live.remove(ident)
        elif letter == "r" and size == 0:
            live.discard(ident)
        else:
            live.add(ident)
    assert not live, f"{kind} leaves blocks {sorted(live)[:5]} live"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("generated")
    paths = {}
    for kind in KINDS:
        path = folder / f"{kind}.rep"
        path.write_text(generate(kind, OPS, seed=11))
        paths[kind] = str(path)
    return paths


@pytest.mark.parametrize("policy", builtin_policies())
def test_every_kind_replays_valid(policy, generated, cli):
    run = cli("replay", "-a", policy, "--no-timing", *generated.values())
    assert run.status == 0, run.out + run.err


def test_kinds_have_their_shape(generated):
    ops = {kind: list(load_trace(path).ops()) for kind, path in generated.items()}
    sizes = {
        kind: [size for letter, _i, size, _c in kind_ops if letter == "a"]
        for kind, kind_ops in ops.items()
    }
    assert any(letter == "r" for letter, *_ in ops["realloc"])
    assert any(letter == "r" for letter, *_ in ops["arrays"])
    assert all(size % 8 == 0 for size in sizes["structs"])
    assert set(sizes["coalescing"]) <= set(range(4000, 8400))
    # power law: most strings are short, a few are long
    short = sum(size <= 64 for size in sizes["strings"])
    assert short > 0.8 * len(sizes["strings"]) and max(sizes["strings"]) > 1024


def test_bad_arguments_are_usage_errors(tmp_path, cli, capsys):
    with pytest.raises(SystemExit) as stop:
        cli("gen", "random", "--ops", 1, "-o", tmp_path / "x.rep")
    assert stop.value.code == 2
    assert "argument --ops: must be from 2 to 100,000,000, not 1" in capsys.readouterr().err
