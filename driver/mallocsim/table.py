"""Plain-text tables: the one renderer every report, benchmark, comparison and
diff prints with, so they all line up the same way, and the one place that
makes terminal output fit its width.

Text columns (the first `left` ones) are left-aligned, figures right-aligned;
rules separate the header, the body and the footer. Optional column groups
put a centred title over a run of columns (one allocator's figures, say),
widening the run's last column when the title is longer than the run.

Given a `width`, a table never prints a line longer than it when its names
allow: a table too wide is stacked. With column groups, the first group (the
row's identity: trace, bound) is kept in every block and the others are dealt
into as many blocks as it takes, one under the other (allocator groups
stacked); a block still too wide, and a table without groups, puts each row's
first cell on a line of its own above the row's figures. `fit` wraps prose
lines at spaces, so that notes fit as well, but leaves a failure's line
whole (it is searched for and copied as one record). Nothing is ever cut: a
single word longer than the width (a long path) is left whole.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

GAP = "  "
INDENT = "  "  # before a row's figures when its name has a line of its own
WIDTH = 80  # columns of a terminal line by default (a command's --wide lifts it)


def render_table(
    header: Sequence[Sequence[str]],
    body: Sequence[Sequence[str]],
    footer: Sequence[Sequence[str]] = (),
    left: int = 1,
    groups: Sequence[tuple[str, int]] = (),
    width: int | None = None,
) -> str:
    """The table as lines of text. `groups` is (title, columns spanned) from the
    first column on; a title "" leaves its columns untitled. With `width`, a
    table wider than that is stacked (see the module's docstring)."""
    text = _render(header, body, footer, left, groups)
    if width is None or widest(text) <= width:
        return text
    if len(groups) > 2:
        rows = (header, body, footer)
        return "\n\n".join(
            render_table(
                *_columns(rows, groups, [0, *chunk]),
                left,
                [groups[0], *[groups[i] for i in chunk]],
                width,
            )
            for chunk in _dealt(rows, left, groups, width)
        )
    return _render(header, body, footer, left, groups, apart=True)


def widest(text: str) -> int:
    """The length of the longest line of `text`."""
    return max((len(line) for line in text.splitlines()), default=0)


LABEL_GAP = "   "  # what sets a label apart from its value in a line (grade's score)


def fit(text: str, width: int | None = WIDTH) -> str:
    """`text` with every line longer than `width` wrapped at spaces, the rest
    of it indented two more than the line was; None leaves it as it is. A
    line laid out as "label   value" is broken after its label first, the
    value indented below, when the value then fits. A word longer than the
    width stays whole."""
    if width is None:
        return text
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip(" "))]
        label, gap, value = line.strip().partition(LABEL_GAP)
        if gap:  # "label   value (why)": the value whole on a line of its own, if it fits
            value = value.lstrip(" ")
            if len(indent) + 4 + len(value) <= width:
                out += [indent + label, indent + "    " + value]
                continue
        out += textwrap.wrap(
            line.strip(),
            width,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    return "\n".join(out)


Rows = tuple[Sequence[Sequence[str]], Sequence[Sequence[str]], Sequence[Sequence[str]]]


def _columns(
    rows: Rows, groups: Sequence[tuple[str, int]], chosen: Sequence[int]
) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """The header, body and footer cut down to the columns of the chosen groups
    (by index into `groups`), in that order."""
    starts = [sum(span for _, span in groups[:i]) for i in range(len(groups))]
    keep = [c for i in chosen for c in range(starts[i], starts[i] + groups[i][1])]
    header, body, footer = (
        [[row[c] if c < len(row) else "" for c in keep] for row in part] for part in rows
    )
    return header, body, footer


def _dealt(rows: Rows, left: int, groups: Sequence[tuple[str, int]], width: int) -> list[list[int]]:
    """The groups after the first (their indices), in order, dealt into runs
    that each fit in `width` beside the first group (a run of one may not)."""
    chunks: list[list[int]] = [[]]
    for index in range(1, len(groups)):
        trial = [0, *chunks[-1], index]
        text = _render(*_columns(rows, groups, trial), left, [groups[i] for i in trial])
        if chunks[-1] and widest(text) > width:
            chunks.append([index])
        else:
            chunks[-1].append(index)
    return chunks


def _render(
    header: Sequence[Sequence[str]],
    body: Sequence[Sequence[str]],
    footer: Sequence[Sequence[str]] = (),
    left: int = 1,
    groups: Sequence[tuple[str, int]] = (),
    apart: bool = False,
) -> str:
    """The table in one block; `apart` puts each row's first cell on a line of
    its own, the row's other cells on the next, indented."""
    names: list[str] = []
    if apart:
        names = [row[0] if row else "" for row in (*header, *body, *footer)]
        header, body, footer = ([row[1:] for row in rows] for rows in (header, body, footer))
        left = max(0, left - 1)
        if groups:
            groups = [(groups[0][0], groups[0][1] - 1), *groups[1:]]
    rows = [*header, *body, *footer]
    columns = max((len(row) for row in rows), default=0)
    widths = [max((len(row[i]) for row in rows if i < len(row)), default=0) for i in range(columns)]
    start = 0
    for title, span in groups:
        run = sum(widths[start : start + span]) + len(GAP) * (span - 1)
        if len(title) > run and span:
            widths[start + span - 1] += len(title) - run
        start += span
    pad = INDENT if apart else ""
    named = iter(names)

    def line(row: Sequence[str]) -> list[str]:
        cells = [
            (str.ljust if i < left else str.rjust)(row[i] if i < len(row) else "", widths[i])
            for i in range(columns)
        ]
        figures = (pad + GAP.join(cells)).rstrip()
        if not apart:
            return [figures]
        name = next(named)
        return [name, figures] if name else [figures]

    out = []
    if groups:
        titles, start = [], 0
        for title, span in groups:
            if span:  # apart, the first group may have lost its only column
                run = sum(widths[start : start + span]) + len(GAP) * (span - 1)
                titles.append(title.center(run))
            start += span
        out.append((pad + GAP.join(titles)).rstrip())
    rule = pad + GAP.join("-" * w for w in widths)
    out += [text for row in header for text in line(row)]
    out.append(rule)
    out += [text for row in body for text in line(row)]
    if footer:
        out += [rule, *(text for row in footer for text in line(row))]
    return "\n".join(out)
