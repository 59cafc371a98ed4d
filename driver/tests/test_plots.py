"""Every figure is a real picture fit for print: content that follows the data,
no text under 8 pt and none past the image's edge, valid PNG, SVG and PDF
files; throughput as points with the passes' spread on a labelled scale; heap
maps of several allocators side by side over the whole trace; the pictures'
data gathered for a real comparison and kept by a saved run."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.image import imread
from matplotlib.text import Text

from mallocsim.allocators import resolve
from mallocsim.compare import build, run_comparison
from mallocsim.figures import FORMATS, MIN_FONT, render, style
from mallocsim.heapmap import HeapMap, collect
from mallocsim.heapmap_figure import (
    FREE_COLOUR,
    OUTSIDE_COLOUR,
    OVERHEAD_COLOUR,
    PAYLOAD_COLOUR,
    heap_map_image,
    heap_maps_figure,
)
from mallocsim.pictures import gather_pictures
from mallocsim.plots import (
    SPAN_FOR_LOG,
    series_figure,
    throughput_figure,
    utilization_figure,
    write_plots,
)
from mallocsim.replay import LoadedAllocator, ReplayOptions
from mallocsim.results import TraceResult
from mallocsim.saved import read_document, to_document
from mallocsim.timeline import Series
from mallocsim.trace import parse_trace_text

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ALLOCATORS = ["implicit", "explicit", "segfit", "glibc", "jemalloc", "mimalloc", "tcmalloc"]


def _result(allocator, trace, util, speed, valid=True, passes=(), **extra):
    seconds = [100 / s for s in passes] if passes else ()
    return TraceResult(
        allocator=allocator, trace=trace, path=f"/t/{trace}.rep", valid=valid,
        error=None if valid else "boom", ops=100, weight=1, utilization=util,
        alignment_bound=0.95, ops_per_sec=speed, pass_seconds=tuple(seconds),
        seconds_min=min(seconds, default=None), seconds_max=max(seconds, default=None),
        passes=len(seconds), **extra,
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


def _crowded():
    """Seven allocators on 24 traces with long names; failed, out-of-memory and
    unmeasured cells; speeds over four decades: the hardest figure to fit."""
    rng = np.random.default_rng(7)
    cells = []
    for t in range(24):
        trace = f"syn-largemem-short-with-a-long-name-{t}"
        for k, name in enumerate(ALLOCATORS):
            speed = float(10 ** rng.uniform(4, 8))
            if (t + k) % 11 == 0:
                cells.append(_result(name, trace, None, None, valid=False))
            elif (t + k) % 13 == 0:
                cells.append(
                    _result(name, trace, None, None, valid=False, fail_kind="out_of_memory")
                )
            else:
                util = None if (t * k) % 17 == 5 else float(rng.uniform(0.05, 0.99))
                passes = [speed * f for f in (0.7, 0.9, 1.0, 1.1, 1.3)]
                cells.append(_result(name, trace, util, speed, passes=passes))
    return build(cells)


def _series(shift: int = 0):
    ops = list(range(0, 1000, 10))
    live = [min(i, 600) * 100 + shift for i in ops]
    return [
        Series("implicit", "t", ops, live, [v * 2 for v in live]),
        Series("segfit", "t", ops, live, [v + 4096 for v in live]),
    ]


def _heap_map(extra_free: bool = False, allocator: str = "implicit"):
    # Three blocks over 4 ops; with extra_free, block 1 is freed after op 2.
    blocks = [
        [0, 4, 0, 1000, 1008],
        [1, 2 if extra_free else 4, 1024, 3000, 3008],
        [3, 4, 4096, 900, 912],
    ]
    return HeapMap(allocator, "t", 4, 4, [2048, 4096, 4096, 8192], blocks)


def _two_maps(extra_free: bool = False):
    return [_heap_map(extra_free), _heap_map(allocator="segfit")]


FIGURES = {
    "utilization": (utilization_figure, lambda: _comparison(), lambda: _comparison(0.5)),
    "throughput": (throughput_figure, lambda: _comparison(), lambda: _comparison(0.01)),
    "series": (series_figure, lambda: _series(), lambda: _series(50_000)),
    "heap-maps": (heap_maps_figure, lambda: _two_maps(), lambda: _two_maps(extra_free=True)),
}


def _png(draw, data) -> bytes:
    with style():
        return render(draw(data), "png")


def _pixels(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_MAGIC) and len(png) > 5000
    return imread(io.BytesIO(png), format="png")


@pytest.mark.parametrize("name", FIGURES)
def test_each_figure_has_content_that_follows_the_data(name):
    draw, before, after = FIGURES[name]
    first, second = _png(draw, before()), _png(draw, after())
    pixels = _pixels(first)
    assert pixels.std() > 0.05  # far from a blank canvas
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20
    assert first != second
    assert _png(draw, before()) == first  # the same data draws the same picture


def _drawn_texts(figure) -> list[Text]:
    """Every text the figure draws: titles, labels, legends, notes, and the tick
    labels of ticks inside the axes' view."""
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    ticks = set()
    for axes in figure.axes:
        for axis, (low, high) in ((axes.xaxis, axes.get_xlim()), (axes.yaxis, axes.get_ylim())):
            low, high = min(low, high), max(low, high)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low <= tick.get_loc() <= high:
                    ticks.update((tick.label1, tick.label2))
    return [t for t in texts if t not in ticks]


CROWDED = {
    "utilization": lambda: utilization_figure(_crowded()),
    "throughput": lambda: throughput_figure(_crowded()),
    "throughput-untimed": lambda: throughput_figure(
        build([_result(a, "t", 0.5, None) for a in ALLOCATORS])
    ),
    "series": lambda: series_figure(_series(), ALLOCATORS),
    "heap-maps": lambda: heap_maps_figure(
        [_heap_map(allocator=a) for a in ("implicit", "explicit", "segfit")]
    ),
}


@pytest.mark.parametrize("name", CROWDED)
def test_every_text_is_readable_and_inside_the_image(name):
    with style():
        figure = CROWDED[name]()
        render(figure, "png")  # lays the figure out as saved
        renderer = figure.canvas.get_renderer()
        bounds = figure.bbox
        texts = _drawn_texts(figure)
        assert len(texts) > 10
        for text in texts:
            assert text.get_fontsize() >= MIN_FONT, text.get_text()
            box = text.get_window_extent(renderer)
            inside = (
                box.x0 >= bounds.x0 - 1
                and box.y0 >= bounds.y0 - 1
                and box.x1 <= bounds.x1 + 1
                and box.y1 <= bounds.y1 + 1
            )
            assert inside, f"{text.get_text()!r} at {box} is outside {bounds}"
        # No text over another (a legend over a note, a title over a legend).
        boxes = [(t.get_text(), t.get_window_extent(renderer).padded(-0.5)) for t in texts]
        for n, (first, one) in enumerate(boxes):
            for second, other in boxes[n + 1 :]:
                assert not one.overlaps(other), f"{first!r} overlaps {second!r}"
        assert figure.get_figwidth() <= 7.0  # a page's width: 8 pt here is 8 pt in print


def test_every_format_is_written_and_valid(tmp_path):
    written = write_plots(tmp_path, _comparison(), _series(), _heap_map().alongside([]), FORMATS)
    names = ("utilization", "throughput", "heap-over-time", "heap-map")
    assert sorted(p.name for p in written) == sorted(f"{n}.{f}" for n in names for f in FORMATS)
    for name in names:
        assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
        _pixels((tmp_path / f"{name}.png").read_bytes())
        root = ET.fromstring((tmp_path / f"{name}.svg").read_bytes())
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        pdf = (tmp_path / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        assert b"/FontFile2" in pdf  # fonts embedded as TrueType, not Type 3
    # PNG alone unless asked: what --plots always wrote.
    only = write_plots(tmp_path / "png", _comparison())
    assert sorted(p.name for p in only) == ["throughput.png", "utilization.png"]


def test_throughput_is_points_with_the_passes_spread():
    passes = [1e6, 1.2e6, 1.5e6, 1.6e6, 2e6]  # ops/s of five passes: median 1.5e6
    comparison = build(
        [
            _result("implicit", "a", 0.5, 1.5e6, passes=passes),
            _result("segfit", "a", 0.9, 2e6, passes=[1.8e6, 2e6, 2.2e6]),
        ]
    )
    with style():
        figure = throughput_figure(comparison)
    axes = figure.axes[0]
    assert not axes.patches  # no bars
    assert axes.get_xscale() == "linear" and axes.get_xlim()[0] == 0
    assert "linear" in axes.get_xlabel() and "Kops/s" in axes.get_xlabel()
    ranges = [
        sorted(np.round(segment[:, 0], 3))
        for container in axes.containers
        for collection in container.lines[2]
        for segment in collection.get_segments()
    ]
    assert [1000.0, 2000.0] in ranges  # implicit: slowest to fastest pass, in Kops/s
    assert [1800.0, 2200.0] in ranges
    quartiles = [np.round(s[:, 0], 3).tolist() for c in axes.collections for s in c.get_segments()]
    assert [1200.0, 1600.0] in quartiles  # implicit's five passes have quartiles; segfit's 3 not
    # Speeds over more than SPAN_FOR_LOG: a log axis, and its label says so.
    wide = build(
        [_result("implicit", "a", 0.5, 1e4), _result("segfit", "a", 0.9, 1e4 * 2 * SPAN_FOR_LOG)]
    )
    with style():
        axes = throughput_figure(wide).axes[0]
    assert axes.get_xscale() == "log" and "log scale" in axes.get_xlabel()


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


def test_heap_maps_cover_the_whole_trace_side_by_side():
    # 60,001 ops, more than the 50,000 a map used to stop at: 30,000 small blocks
    # made and freed, then one block of 1 MiB at the very last op.
    lines = [f"a {i} 32" for i in range(30_000)] + [f"f {i}" for i in range(30_000)]
    lines += ["a 0 1048576"]
    trace = parse_trace_text("\n".join(lines) + "\n", "long")
    maps = []
    for name in ("explicit", "segfit"):
        with LoadedAllocator(resolve(name)) as alloc:
            maps.append(collect(trace, alloc))
    assert [m.ops for m in maps] == [trace.num_ops] * 2 == [60_001] * 2
    with style():
        figure = heap_maps_figure(maps)
        render(figure, "png")
    panels = [a for a in figure.axes if a.images]
    assert [a.get_title() for a in panels] == ["explicit", "segfit"]
    for axes in panels:
        assert axes.get_ylim() == (60_001, 0)  # op 0 at the top, the last op at the bottom
        [image] = axes.images
        assert image.get_extent()[2:] == [60_001, 0]
        rows = image.get_array().shape[0]
        assert 100 < rows < 2000  # downsampled to the panel's pixels, not one row per op
    assert panels[0].get_xlim() == panels[1].get_xlim()  # one offset scale for all
    # The bottom row is the heap after the last op: its 1 MiB block is there,
    # and the row before (every small block freed) holds no payload at all.
    for heap_map in maps:
        image = heap_map_image(heap_map, rows=500, columns=500)
        payload = np.isclose(image, PAYLOAD_COLOUR, atol=0.01).all(axis=2).sum(axis=1)
        per_column = max(heap_map.heap_sizes) / 500
        assert payload[-1] * per_column == pytest.approx(1 << 20, rel=0.01)
        assert payload[-2] == 0


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
    # A heap map of each allocator on our heap, side by side.
    assert [m.allocator for m in pictures.heap_maps] == ["implicit", "segfit"]
    heap_map = pictures.heap_map
    assert heap_map is not None and heap_map.allocator == "implicit" and heap_map.ops == 7
    assert len(heap_map.blocks) == 4 and len(heap_map.heap_sizes) == 7
    assert [b[3] for b in heap_map.blocks] == [100, 2000, 40, 4000]
    assert heap_map.blocks[1][1] == 4  # block 1 (2000 bytes) ended at op 4, the realloc
    # Named, only that one.
    only = gather_pictures(comparison, focus, heap_map_allocator="segfit")
    assert [m.allocator for m in only.heap_maps] == ["segfit"]
    # A saved run keeps every map, and an older file with one map still reads.
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(to_document(comparison, pictures)))
    _, back = read_document(saved)
    assert back.heap_maps == pictures.heap_maps
    document = json.loads(saved.read_text())
    del document["heap_map"]["beside"]
    saved.write_text(json.dumps(document))
    assert [m.allocator for m in read_document(saved)[1].heap_maps] == ["implicit"]


def test_compare_writes_the_plots_in_the_formats_asked(cli, write_trace, tmp_path, capsys):
    write_trace("one", "a 0 100\na 1 2000\nf 0\na 2 40\nr 1 4000\nf 2\nf 1\n")
    plots = tmp_path / "plots"
    run = cli(
        "compare", "-a", "implicit", "-a", "segfit", "--no-timing", "--plots", plots,
        "--plot-format", "svg", "--plot-format", "pdf", tmp_path / "one.rep",
    )  # fmt: skip
    assert run.status == 0, run.err
    names = ("utilization", "throughput", "heap-over-time", "heap-map")
    assert sorted(p.name for p in plots.iterdir()) == sorted(
        f"{n}.{f}" for n in names for f in ("svg", "pdf")
    )
    with pytest.raises(SystemExit) as exit_status:  # argparse's usage error
        cli("compare", "-a", "segfit", "--plots", plots, "--plot-format", "gif", tmp_path)
    assert exit_status.value.code == 2
    assert f"choose from {', '.join(map(repr, FORMATS))}" in capsys.readouterr().err


def test_a_plot_format_without_plots_is_refused_before_any_work(cli, write_trace, tmp_path):
    trace = write_trace("one", "a 0 100\nf 0\n")
    run = cli("compare", "-a", "segfit", "--plot-format", "svg", trace)
    assert run.status == 2
    assert run.err.strip().endswith("--plot-format svg: only --plots uses it, and it was not given")
    assert "Kops/s" not in run.out  # nothing was compared


def test_report_writes_the_plots_in_the_formats_asked(cli, write_trace, tmp_path):
    trace = write_trace("one", "a 0 100\na 1 2000\nf 0\na 2 40\nr 1 4000\nf 2\nf 1\n")
    saved = tmp_path / "run.json"
    assert cli("compare", "-a", "segfit", "--no-timing", "--json", saved, trace).status == 0
    plots = tmp_path / "plots"
    run = cli("report", saved, "--plots", plots, "--plot-format", "pdf")
    assert run.status == 0, run.err
    files = sorted(plots.iterdir())
    assert files and all(p.suffix == ".pdf" and p.read_bytes().startswith(b"%PDF") for p in files)
