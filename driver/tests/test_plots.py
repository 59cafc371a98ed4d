"""Every plot is a real picture: a PNG with content (not a blank canvas) whose
bytes change with the data; the heap map puts each kind of byte where it is;
the pictures' data is gathered for a real comparison."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.image import imread

from mallocsim.compare import build, run_comparison
from mallocsim.heapmap import HeapMap
from mallocsim.pictures import gather_pictures
from mallocsim.plots import (
    FREE_COLOUR,
    OUTSIDE_COLOUR,
    OVERHEAD_COLOUR,
    PAYLOAD_COLOUR,
    heap_map_image,
    heap_map_png,
    series_png,
    throughput_png,
    utilization_png,
)
from mallocsim.replay import ReplayOptions
from mallocsim.results import TraceResult
from mallocsim.timeline import Series

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _result(allocator, trace, util, speed, valid=True):
    return TraceResult(
        allocator=allocator, trace=trace, path=f"/t/{trace}.rep", valid=valid,
        error=None if valid else "boom", ops=100, weight=1, utilization=util,
        alignment_bound=0.95, ops_per_sec=speed,
    )  # fmt: skip


def _comparison(scale: float = 1.0):
    return build(
        [
            _result("implicit", "a", 0.5 * scale, 1e6 * scale),
            _result("implicit", "b", 0.7 * scale, 2e5),
            _result("segfit", "a", 0.9, 3e7),
            _result("segfit", "b", None, None, valid=False),
        ]
    )


def _series(shift: int = 0):
    ops = list(range(0, 1000, 10))
    live = [min(i, 600) * 100 + shift for i in ops]
    return [
        Series("implicit", "t", ops, live, [v * 2 for v in live]),
        Series("segfit", "t", ops, live, [v + 4096 for v in live]),
    ]


def _heap_map(extra_free: bool = False):
    # Three blocks over 4 ops; with extra_free, block 1 is freed after op 2.
    blocks = [
        [0, 4, 0, 1000, 1008],
        [1, 2 if extra_free else 4, 1024, 3000, 3008],
        [3, 4, 4096, 900, 912],
    ]
    return HeapMap("implicit", "t", 4, 4, [2048, 4096, 4096, 8192], blocks)


def _pixels(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    return imread(io.BytesIO(png), format="png")


@pytest.mark.parametrize(
    ("draw", "before", "after"),
    [
        (utilization_png, lambda: _comparison(), lambda: _comparison(0.5)),
        (throughput_png, lambda: _comparison(), lambda: _comparison(0.01)),
        (series_png, lambda: _series(), lambda: _series(50_000)),
        (heap_map_png, lambda: _heap_map(), lambda: _heap_map(extra_free=True)),
    ],
    ids=["utilization", "throughput", "series", "heap-map"],
)
def test_each_plot_has_content_that_follows_the_data(draw, before, after):
    first, second = draw(before()), draw(after())
    pixels = _pixels(first)
    assert pixels.std() > 0.05  # far from a blank canvas
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20
    assert first != second
    assert not np.array_equal(pixels, _pixels(second))
    assert draw(before()) == first  # the same data draws the same picture


def test_the_heap_map_colours_each_byte_by_what_it_holds():
    image = heap_map_image(_heap_map())
    rows, columns, _ = image.shape
    assert rows == 4 and columns == 800  # one row per op, bins across 8 KiB
    per_byte = columns / 8192

    def at(op, offset):
        return tuple(np.round(image[op, int(offset * per_byte)], 3))

    def colour(rgb):
        return tuple(np.round(rgb, 3))

    assert at(0, 500) == colour(PAYLOAD_COLOUR)  # inside block 0's request
    assert at(0, 3000) == colour(OUTSIDE_COLOUR)  # beyond the heap's 2 KiB after op 0
    assert at(1, 2000) == colour(PAYLOAD_COLOUR)  # block 1
    assert at(1, 4060) == colour(FREE_COLOUR)  # heap, no block yet
    assert at(3, 7000) == colour(FREE_COLOUR)  # the heap grew to 8 KiB
    assert at(3, 6000) == colour(FREE_COLOUR)
    freed = heap_map_image(_heap_map(extra_free=True))
    assert tuple(np.round(freed[3, int(2000 * per_byte)], 3)) == colour(FREE_COLOUR)
    # The padding between request and usable end, and a gap of at most 32
    # bytes between blocks, are overhead; a larger gap is free.
    two = HeapMap("x", "t", 1, 1, [2048], [[0, 1, 0, 1000, 1008], [0, 1, 1024, 1000, 1008]])
    image = heap_map_image(two)
    per_bin = 2048 / image.shape[1]
    for offset, expected in (
        (1003, OVERHEAD_COLOUR),
        (1016, OVERHEAD_COLOUR),
        (1500, PAYLOAD_COLOUR),
        (2040, FREE_COLOUR),
    ):
        assert np.allclose(image[0, int(offset / per_bin)], expected), offset


def test_pictures_are_gathered_for_a_real_comparison(write_trace, tmp_path):
    write_trace("one", "a 0 100\na 1 2000\nf 0\na 2 40\nr 1 4000\nf 2\nf 1\n")
    comparison, problems = run_comparison(
        ["implicit", "segfit"], [str(tmp_path)], ReplayOptions(timing=False)
    )
    assert not problems
    [focus] = comparison.traces
    pictures = gather_pictures(comparison, focus)
    assert [s.allocator for s in pictures.series] == ["implicit", "segfit"]
    for series in pictures.series:
        assert max(series.live) == 4040 and series.ops[-1] == 6
        assert all(h >= v for h, v in zip(series.heap, series.live, strict=True))
    heap_map = pictures.heap_map
    assert heap_map is not None and heap_map.allocator == "implicit" and heap_map.ops == 7
    assert len(heap_map.blocks) == 4 and len(heap_map.heap_sizes) == 7
    assert [b[3] for b in heap_map.blocks] == [100, 2000, 40, 4000]
    assert heap_map.blocks[1][1] == 4  # block 1 (2000 bytes) ended at op 4, the realloc
