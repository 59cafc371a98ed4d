"""Plain-text tables: the one renderer every report, benchmark, comparison and
diff prints with, so they all line up the same way.

Text columns (the first `left` ones) are left-aligned, figures right-aligned;
rules separate the header, the body and the footer. Optional column groups
put a centred title over a run of columns (one allocator's figures, say),
widening the run's last column when the title is longer than the run.
"""

from __future__ import annotations

from collections.abc import Sequence

GAP = "  "


def render_table(
    header: Sequence[Sequence[str]],
    body: Sequence[Sequence[str]],
    footer: Sequence[Sequence[str]] = (),
    left: int = 1,
    groups: Sequence[tuple[str, int]] = (),
) -> str:
    """The table as lines of text. `groups` is (title, columns spanned) from the
    first column on; a title "" leaves its columns untitled."""
    rows = [*header, *body, *footer]
    columns = max(len(row) for row in rows)
    widths = [max((len(row[i]) for row in rows if i < len(row)), default=0) for i in range(columns)]
    start = 0
    for title, span in groups:
        run = sum(widths[start : start + span]) + len(GAP) * (span - 1)
        if len(title) > run:
            widths[start + span - 1] += len(title) - run
        start += span

    def line(row: Sequence[str]) -> str:
        cells = [
            (str.ljust if i < left else str.rjust)(row[i] if i < len(row) else "", widths[i])
            for i in range(columns)
        ]
        return GAP.join(cells).rstrip()

    out = []
    if groups:
        titles, start = [], 0
        for title, span in groups:
            run = sum(widths[start : start + span]) + len(GAP) * (span - 1)
            titles.append(title.center(run))
            start += span
        out.append(GAP.join(titles).rstrip())
    rule = GAP.join("-" * w for w in widths)
    out += [*map(line, header), rule, *map(line, body)]
    if footer:
        out += [rule, *map(line, footer)]
    return "\n".join(out)
