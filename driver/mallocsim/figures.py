"""What every figure shares: its look, its labels, and its file formats.

A figure is a matplotlib Figure of its own (no pyplot state), laid out by
matplotlib's constrained layout so that nothing (titles, tick labels,
legends, footnotes) is cut at the image's edge, and sized for print: at most
FIGURE_WIDTH inches wide, with no text below MIN_FONT points at that size, so
that a figure placed at 100% in a paper reads as it does on screen.

render() turns one into the bytes of a PNG, an SVG or a PDF. The same data
gives the same bytes: the PNG and the PDF carry no creation date, and the SVG's
element ids are hashed from a fixed salt. PDF fonts are embedded as TrueType
(fonttype 42), not Type 3, which some publishers refuse.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from mallocsim.files import encodable

FORMATS = ("png", "svg", "pdf")  # what render() writes; a plot's file ends in one of them
DPI = 150  # pixels per inch of a PNG (and of the raster inside a heap map's SVG/PDF)
FIGURE_WIDTH = 7.0  # inches: a full page width between a paper's margins
MIN_FONT = 8.0  # points: the smallest text in any figure, at its saved size
FONT = 9.0  # points: titles, axis labels
SMALL_FONT = 8.0  # points: ticks, legends, footnotes

_STYLE = {
    "font.size": FONT,
    "axes.titlesize": FONT,
    "axes.labelsize": FONT,
    "xtick.labelsize": SMALL_FONT,
    "ytick.labelsize": SMALL_FONT,
    "legend.fontsize": SMALL_FONT,
    "legend.title_fontsize": SMALL_FONT,
    "figure.titlesize": FONT + 1,
    "figure.labelsize": FONT,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.hashsalt": "mallocsim",
    "image.interpolation": "nearest",
}


@contextmanager
def style() -> Iterator[None]:
    """matplotlib's settings for a figure, while it is drawn and saved (they are
    global in matplotlib, so they are set only for that while)."""
    with matplotlib.rc_context(_STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """An empty figure with constrained layout: labels and legends are kept
    inside the image, whatever their length. Call within style()."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def label(name: str) -> str:
    """A trace's or an allocator's name as a label matplotlib draws verbatim: a
    file name's undecodable bytes as "?" (its fonts take no lone surrogate), and
    "$" escaped (a pair of them would be read as a formula, a bad one an error)."""
    return encodable(name).replace("$", r"\$")


def wrap(text: str, width_inches: float, size: float = SMALL_FONT) -> str:
    """text broken into lines that fit width_inches at size points (a
    character is taken as 0.55 of the size wide: a little more than the
    default font's average, so that a line never runs over)."""
    per_line = max(20, int(width_inches * 72 / (0.55 * size)))
    return "\n".join(textwrap.wrap(text, per_line))


def footnote(figure: Figure, text: str) -> Text:
    """A note under everything else in the figure, wrapped to its width. It is
    the figure's supxlabel, so that constrained layout makes room for it."""
    width = figure.get_figwidth() - 0.2
    return figure.supxlabel(
        wrap(text, width), x=0.01, ha="left", fontsize=SMALL_FONT, color="dimgrey"
    )


def render(figure: Figure, fmt: str = "png") -> bytes:
    """The figure's bytes as `fmt` (one of FORMATS). Call within style()."""
    if fmt not in FORMATS:
        raise ValueError(f"{fmt}: not a figure format ({', '.join(FORMATS)})")
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    out = io.BytesIO()
    figure.savefig(out, format=fmt, dpi=DPI, metadata=metadata[fmt])
    return out.getvalue()
