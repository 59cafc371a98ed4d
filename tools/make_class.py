#!/usr/bin/env python3
"""Generate a class of malloc-lab submissions to grade in bulk (make bench-class).

    python3 tools/make_class.py OUT_DIR [--students N] [--seed S]
    python3 tools/make_class.py OUT_DIR --change K [--lab csapp|cmu] [--seed S]

writes OUT_DIR/csapp/<student>/mm.c for the CS:APP classic lab and OUT_DIR/cmu/<student>/mm.c for
the CMU 15-213 F20 lab, N/2 each (the odd one to csapp), students s001.. in one stable order
(csapp first), and OUT_DIR/categories.csv: lab, student, category (the grade each one should get,
to check a gradebook against), then the template and what was done to it.

Every file is one of the real-lab fixtures in driver/tests/allocators/labs/ with deterministic
mutations, so no two files are alike:
  - a header comment naming the student (and, for csapp, the student in the team record);
  - a tuning constant varied within what keeps the allocator correct: the heap growth (GROW,
    chunksize), the fit look-ahead, or, in csapp_explicit.c, which grows only on demand and has
    no such constant, the largest request served (SIZE_LIMIT, always above the 20 MB heap);
  - one category, in these shares of each lab:
      correct        50%  the template as it is
      slow           15%  csapp: the implicit-list template (correct, lower utilization, more
                          instructions); cmu: a volatile busy loop of a few hundred turns at the
                          top of malloc and free
      crashing       15%  a store through a volatile NULL pointer when malloc's call counter
                          reaches K
      hanging        10%  `for (volatile int spin = 1; spin;) {}` (a volatile read each turn: no
                          optimiser may remove it, and it is not undefined behaviour) when malloc's
                          call counter reaches K
      non-compiling  10%  an undeclared identifier, a missing semicolon, or mm_init with the
                          other lab's type (the compiler's "conflicting types")
    K is drawn per student, half the time log-uniformly (most fail in an early trace) and half
    uniformly up to about the largest trace's malloc calls (most fail in a late one). The counter
    lives as long as the process: where a grader replays each trace in a process of its own (all
    of that trace's passes in it, as mallocsim does), every trace whose passes together make K
    malloc calls or more fails, so a small K fails every trace and a large one the big ones only.

The same seed gives the same class, byte for byte. --change K rewrites K correct submissions of a
generated class in place (a new comment line: the content changes, the category does not) and
prints their names, one a line (the same K for a seed: a second --change edits them again): for
a regrade test, where only those K must be graded again.
Standard library only (Python 3.11 or newer, as the project): it needs no virtual environment.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "driver" / "tests" / "allocators" / "labs"
LABS = ("csapp", "cmu")
# (category, share of each lab's students), in the order the shares are filled.
CATEGORIES = (
    ("correct", 0.50),
    ("slow", 0.15),
    ("crashing", 0.15),
    ("hanging", 0.10),
    ("non-compiling", 0.10),
)
CSV_NAME = "categories.csv"
CSV_FIELDS = ("lab", "student", "category", "template", "detail")
FIRST = ("Ada", "Ben", "Chen", "Dana", "Emre", "Fatima", "Gus", "Hana", "Ivan", "Jia", "Kofi",
         "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vik",
         "Wen", "Ximena", "Yusuf", "Zoe")  # fmt: skip
LAST = ("Abara", "Brandt", "Costa", "Dubois", "Eriksen", "Fujita", "Garcia", "Haddad", "Ito",
        "Jensen", "Kowalski", "Li", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi",
        "Singh", "Tanaka", "Uddin", "Varga", "Wang", "Xu", "Yilmaz", "Zhou")  # fmt: skip


@dataclass(frozen=True)
class Template:
    """A fixture allocator and the places in it that mutations rewrite (each exactly once)."""

    file: str
    summary: str  # what it does, for the student's header comment
    constants: tuple[tuple[str, str, tuple[str, ...]], ...]  # (name, text, {} = a value)
    malloc: str  # the line that opens malloc's body
    free: str  # the line that opens free's body
    undeclared: tuple[str, str]  # (text, the same with an identifier misspelt)
    semicolon: str  # a statement whose ';' goes missing
    init_type: tuple[str, str]  # (mm_init's line, the other lab's)


TEMPLATES = {
    "csapp_explicit": Template(
        file="csapp_explicit.c",
        summary="an explicit free list, best fit, realloc in place when it can",
        constants=(
            (
                "SIZE_LIMIT",
                "#define SIZE_LIMIT ((size_t)1 << 30)",
                tuple(f"#define SIZE_LIMIT ((size_t)1 << {n})" for n in range(26, 31)),
            ),
        ),
        malloc="void *mm_malloc(size_t size) {\n",
        free="void mm_free(void *ptr) {\n",
        undeclared=(
            "    asize = adjust(size);\n    bp = best_fit(asize);\n",
            "    asize = adjust(sz);\n    bp = best_fit(asize);\n",
        ),
        semicolon="    list_remove(bp);\n    place(bp, asize);\n",
        init_type=("int mm_init(void) {\n", "bool mm_init(void) {\n"),
    ),
    "csapp_implicit": Template(
        file="csapp_implicit.c",
        summary="an implicit free list, first fit, realloc as malloc + copy + free",
        constants=(
            (
                "GROW",
                "#define GROW (1 << 12) /* grow the heap by at least this much */",
                tuple(
                    f"#define GROW ({v}) /* grow the heap by at least this much */"
                    for v in ("1 << 10", "1 << 11", "3 << 10", "1 << 12", "5 << 10", "1 << 13")
                ),
            ),
        ),
        malloc="void *mm_malloc(size_t size) {\n",
        free="void mm_free(void *ptr) {\n",
        undeclared=("    asize = block_for(size);\n", "    asize = block_for(sz);\n"),
        semicolon="    take(bp, asize);\n    return bp;\n",
        init_type=("int mm_init(void) {\n", "bool mm_init(void) {\n"),
    ),
    "cmu_segregated": Template(
        file="cmu_segregated.c",
        summary="segregated explicit free lists, best of the first few fits",
        constants=(
            (
                "chunksize",
                "static const size_t chunksize = (size_t)1 << 12;",
                tuple(f"static const size_t chunksize = (size_t)1 << {n};" for n in range(10, 15)),
            ),
            (
                "FIT_LOOKAHEAD",
                "#define FIT_LOOKAHEAD 8",
                tuple(f"#define FIT_LOOKAHEAD {n}" for n in range(4, 17)),
            ),
        ),
        malloc="void *malloc(size_t size) {\n",
        free="void free(void *bp) {\n",
        undeclared=(
            "    asize = round_up(size + dsize, dsize);\n",
            "    asize = round_up(size + dsize, dszie);\n",
        ),
        semicolon="    list_remove(block);\n    split_block(block, asize);\n",
        init_type=("bool mm_init(void) {\n", "int mm_init(void) {\n"),
    ),
}
# Per lab: the template of correct submissions, of slow ones, and the most malloc calls K may
# take (a little under the largest trace's: binary2-bal's 12,000, syn-array's 40,000).
LAB_PLAN = {
    "csapp": ("csapp_explicit", "csapp_implicit", 11_000),
    "cmu": ("cmu_segregated", "cmu_segregated", 39_000),
}


class ClassError(Exception):
    """A class that cannot be written or changed as asked: the message says why."""


@dataclass(frozen=True)
class Student:
    """One submission: who, which lab, what it should get, and how it was made."""

    lab: str
    name: str  # s001, s002, ...
    category: str
    template: str
    detail: str  # the mutations, for a reader of categories.csv
    source: str  # the mm.c text


def replace_once(text: str, old: str, new: str, where: str) -> str:
    """text with its one occurrence of old replaced; a template that changed is an error."""
    if text.count(old) != 1:
        raise ClassError(f"{where}: expected {old.strip()!r} once, found it {text.count(old)}x")
    return text.replace(old, new)


def shares(count: int) -> list[str]:
    """count category names in CATEGORIES' shares (largest remainders), in share order."""
    exact = [(name, share * count) for name, share in CATEGORIES]
    sizes = {name: math.floor(value) for name, value in exact}
    left = count - sum(sizes.values())
    by_remainder = sorted(exact, key=lambda item: item[1] - math.floor(item[1]), reverse=True)
    for name, _ in by_remainder[:left]:
        sizes[name] += 1
    return [name for name, _ in CATEGORIES for _ in range(sizes[name])]


def person(rng: random.Random, number: int) -> tuple[str, str]:
    """(full name, login) for a student."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first} {last}", f"{first[0].lower()}{last.lower()}{number}"


def header(template: Template, full_name: str, login: str, student: str, lab: str) -> str:
    return (
        "/*\n"
        f" * mm.c - {template.summary}.\n"
        f" *\n"
        f" * Student: {full_name} ({login}), {student}, {lab} malloc lab.\n"
        f" * Generated by tools/make_class.py from {template.file}.\n"
        " */\n"
    )


def draw_k(rng: random.Random, most: int) -> int:
    """The malloc call that fails: early (log-uniform) or late (uniform), half each."""
    if rng.random() < 0.5:
        return max(1, round(most ** rng.random()))
    return rng.randint(1, most)


def fault_code(category: str, k: int) -> str:
    """The body of `if (++malloc_calls == K)` for a crashing or hanging submission."""
    if category == "crashing":
        return (
            f"    if (++malloc_calls == {k}) {{\n"
            "        int *volatile nowhere = NULL;\n"
            "        *nowhere = 1;\n"
            "    }\n"
        )
    return (
        f"    if (++malloc_calls == {k}) {{\n"
        "        for (volatile int spin = 1; spin;) {\n"
        "        }\n"
        "    }\n"
    )


def make_student(lab: str, name: str, number: int, category: str, seed: int) -> Student:
    """A student's mm.c, deterministic for (seed, lab, name)."""
    rng = random.Random(f"{seed}:{lab}:{name}")
    correct_key, slow_key, most_calls = LAB_PLAN[lab]
    key = slow_key if category == "slow" else correct_key
    template = TEMPLATES[key]
    where = f"{template.file} ({name})"
    text = (TEMPLATE_DIR / template.file).read_text()
    full_name, login = person(rng, number)
    details: list[str] = []

    # The template's banner (its first comment) becomes the student's header.
    banner_end = text.index("*/\n") + len("*/\n")
    text = header(template, full_name, login, name, lab) + text[banner_end:]
    if lab == "csapp":
        team = (
            "team_t team = {\n"
            f'    /* Team name */\n    "{login}",\n'
            f'    /* First member\'s full name */\n    "{full_name}",\n'
            f'    /* First member\'s email address */\n    "{login}@cs.example.edu",\n'
            '    /* Second member\'s full name (leave blank if none) */\n    "",\n'
            '    /* Second member\'s email address (leave blank if none) */\n    ""};'
        )
        text, count = re.subn(r"team_t team = \{.*?\};", lambda _: team, text, flags=re.S)
        if count != 1:
            raise ClassError(f"{where}: no team record to fill")
    for constant, old, choices in template.constants:
        new = rng.choice(choices)
        text = replace_once(text, old, new, where)
        value = new.split(constant, 1)[1].split("/*")[0].strip(" =;").replace("(size_t)", "")
        details.append(f"{constant} = {value.strip('()')}")

    if category == "slow" and lab == "cmu":
        turns = rng.randrange(200, 401, 20)
        loop = f"    for (volatile int delay = 0; delay < {turns}; delay++) {{\n    }}\n"
        text = replace_once(text, template.malloc, template.malloc + loop, where)
        text = replace_once(text, template.free, template.free + loop, where)
        details.append(f"busy loop of {turns} turns in malloc and free")
    elif category in ("crashing", "hanging"):
        k = draw_k(rng, most_calls)
        counter = "static unsigned int malloc_calls; /* calls so far, for debugging */\n\n"
        text = replace_once(
            text, template.malloc, counter + template.malloc + fault_code(category, k), where
        )
        fault = "NULL store" if category == "crashing" else "endless loop"
        details.append(f"{fault} at malloc call {k}")
    elif category == "non-compiling":
        kind = rng.choice(("undeclared", "semicolon", "init_type"))
        if kind == "undeclared":
            text = replace_once(text, *template.undeclared, where)
            details.append("undeclared identifier")
        elif kind == "semicolon":
            first, rest = template.semicolon.split(";\n", 1)
            text = replace_once(text, template.semicolon, f"{first}\n{rest}", where)
            details.append("missing semicolon")
        else:
            old, new = template.init_type
            text = replace_once(text, old, new, where)
            if lab == "csapp":  # a CMU habit: bool from <stdbool.h>
                stdint = "#include <stdint.h>\n"
                text = replace_once(text, stdint, "#include <stdbool.h>\n" + stdint, where)
            wrong, right = new.split(" ", 1)[0], old.split(" ", 1)[0]
            details.append(f"mm_init declared {wrong}, the lab's mm.h says {right}")
    return Student(lab, name, category, template.file, "; ".join(details), text)


def make_class(students: int, seed: int) -> list[Student]:
    """The whole class: csapp's students first, then cmu's, numbered s001 on."""
    sizes = {"csapp": students - students // 2, "cmu": students // 2}
    width = max(3, len(str(students)))
    made: list[Student] = []
    number = 1
    for lab in LABS:
        categories = shares(sizes[lab])
        random.Random(f"{seed}:{lab}:categories").shuffle(categories)
        for category in categories:
            made.append(make_student(lab, f"s{number:0{width}d}", number, category, seed))
            number += 1
    return made


def write_class(out: Path, students: int, seed: int) -> list[Student]:
    if out.exists() and any(out.iterdir()):
        raise ClassError(f"{out} is not empty: a class is written into a new or empty folder")
    made = make_class(students, seed)
    for student in made:
        folder = out / student.lab / student.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "mm.c").write_text(student.source)
    with (out / CSV_NAME).open("w", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for s in made:
            writer.writerow((s.lab, s.name, s.category, s.template, s.detail))
    return made


def change_class(out: Path, lab: str, count: int, seed: int) -> list[str]:
    """Add a comment line to `count` correct submissions of `lab`; their names."""
    try:
        with (out / CSV_NAME).open(newline="") as stream:
            rows = list(csv.DictReader(stream))
    except OSError as error:
        raise ClassError(f"{out / CSV_NAME}: {error.strerror} (not a generated class?)") from None
    correct = [r["student"] for r in rows if r["lab"] == lab and r["category"] == "correct"]
    if count > len(correct):
        raise ClassError(f"{lab} has {len(correct)} correct submissions, not {count}")
    chosen = sorted(random.Random(f"{seed}:{lab}:change").sample(correct, count))
    for name in chosen:
        path = out / lab / name / "mm.c"
        text = path.read_text()
        revision = text.count("/* Revision ") + 2
        note = f"/* Revision {revision}: comments tidied before the deadline. */"
        path.write_text(f"{text}\n{note}\n")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate a class of malloc-lab submissions (see the module docstring)."
    )
    parser.add_argument("out", type=Path, metavar="OUT_DIR")
    parser.add_argument("--students", type=int, default=300, help="how many, both labs (300)")
    parser.add_argument("--seed", type=int, default=1, help="the class's seed (1)")
    parser.add_argument(
        "--change", type=int, metavar="K", help="rewrite K correct submissions; print their names"
    )
    parser.add_argument("--lab", choices=LABS, default="csapp", help="the lab --change picks from")
    args = parser.parse_args(argv)
    try:
        if args.change is not None:
            if args.change < 0:
                parser.error("--change needs K >= 0")
            print("\n".join(change_class(args.out, args.lab, args.change, args.seed)))
            return 0
        if args.students < 2:
            parser.error("--students needs at least 2 (one per lab)")
        made = write_class(args.out, args.students, args.seed)
    except ClassError as error:
        print(f"make_class.py: {error}", file=sys.stderr)
        return 2
    counts: dict[tuple[str, str], int] = {}
    for s in made:
        counts[s.lab, s.category] = counts.get((s.lab, s.category), 0) + 1
    for lab in LABS:
        mix = ", ".join(f"{counts.get((lab, c), 0)} {c}" for c, _ in CATEGORIES)
        print(f"{lab}: {mix}  ->  {args.out / lab}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
