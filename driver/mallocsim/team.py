"""The CS:APP lab's team record: read from a student's library, checked as its driver does.

The classic handout's mm.c defines `team_t team` (team name, then each member's
name and login). Its driver refuses to run any trace when the team name is
empty, when member 1's name or login is empty, or when member 2 is half filled
in; otherwise it prints the team. The record is read by a sandboxed agent (remote.py:
the library's constructors run there, not in the grader), through the adapter's
ms_lab_team(), which build.py compiles into the library for such labs.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from mallocsim.allocators import AllocatorSpec
from mallocsim.errors import UsageError
from mallocsim.isolate import AT_START, answer, death, run_forked
from mallocsim.remote import SharedWords, team_remote
from mallocsim.safe_text import printable
from mallocsim.table import WIDTH

_FIELDS = ("teamname", "name1", "id1", "name2", "id2")
TEAM_TIMEOUT = 30.0
CONTINUED = " " * len("Member 1 : ")  # a wrapped team line's rest: under its fields


@dataclass(frozen=True)
class Team:
    """A team as the student wrote it (None for a NULL pointer), each field one line of
    printable text (safe_text: a control character is shown as its escape)."""

    teamname: str | None
    name1: str | None
    id1: str | None
    name2: str | None
    id2: str | None

    def problem(self) -> str | None:
        """The classic driver's refusal, in its words, or None when it would run."""
        null = [field for field in _FIELDS if getattr(self, field) is None]
        if null:
            # The driver reads every field (strcmp, *team.name2) and dies of SIGSEGV before any
            # trace, no score printed (a public file written for a 3-field team_t: lab check
            # pass 5); graded here, it had 81. Trailing NULLs are fields the initializer did
            # not reach: a file whose comma after "nope" was missing had "nope" "" joined into
            # one id1, and id2 NULL (lab check run 12).
            short = list(_FIELDS[len(_FIELDS) - len(null) :]) == null
            why = (
                ": the initializer lists fewer strings than the record's five fields (is a "
                "comma missing? two strings side by side join into one; a handout whose team_t "
                "has fewer fields, whose driver reads those alone: --no-team-check)"
                if short
                else ""
            )
            return (
                f"the team record's {' and '.join(null)} {'is' if len(null) == 1 else 'are'} "
                f"NULL{why}: the CS:APP driver reads every field and crashes before any trace "
                '(write "" for a field left empty)'
            )
        if not self.teamname:
            return "ERROR: Please provide the information about your team in mm.c."
        if not self.name1 or not self.id1:
            return "ERROR. You must fill in all team member 1 fields!"
        if bool(self.name2) != bool(self.id2):
            return "ERROR. You must fill in all or none of the team member 2 ID fields!"
        return None

    def lines(self) -> list[str]:
        """The team as the classic driver prints it, each line wrapped at WIDTH columns
        with the rest indented under its fields (CONTINUED): left to the output's own
        wrapping, a field of 80 spaces and a score put that score on a line of its own,
        indented as the grade's own "  score" line is."""
        shown = [f"Team Name:{self.teamname}", f"Member 1 :{self.name1}:{self.id1}"]
        if self.name2:
            shown.append(f"Member 2 :{self.name2}:{self.id2}")
        return [
            wrapped
            for line in shown
            for wrapped in textwrap.wrap(line, WIDTH, subsequent_indent=CONTINUED) or [line]
        ]


def read_team(spec: AllocatorSpec) -> Team:
    """The team record of a built library, read by a sandboxed agent: the
    library's constructors run there, in a program that holds nothing of this
    process's memory for them to copy into the record. Raises UsageError when
    it has none or dies while it is read."""

    def work(shared: SharedWords) -> dict:
        return dict(zip(_FIELDS, team_remote(spec, shared, TEAM_TIMEOUT), strict=True))

    outcome = run_forked(work, TEAM_TIMEOUT, sandboxed=True, agent=True)
    payload = answer(outcome)
    if payload is None:
        raise UsageError(
            f"the team record could not be read: {death(outcome, TEAM_TIMEOUT, AT_START)}"
        )
    # Runs of spaces as one (a field of spaces stays non-empty, as the driver checks it):
    # aligned by them, a field's words could pass for the grade's own columns.
    return Team(
        **{
            field: None
            if payload[field] is None
            else re.sub(" {2,}", " ", printable(str(payload[field]), lines=False))
            for field in _FIELDS
        }
    )
