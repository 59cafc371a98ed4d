"""Grading a whole class: many submissions, in parallel, resumable.

What the command line names is sorted into submissions (an mm.c or .so, a
student's folder holding one, or a class folder of student folders) and
traces (.rep files, or folders of them). Each submission is graded by its own
`mallocsim grade SOURCE TRACES --json RECORD` process (the self-contained
command a course can also run on any batch system), at most `jobs` at once,
each in its own process group so that one submission's children never outlive
it. A grade is kept in the cache under the digest of everything it depends on
(the source, the traces, the settings, mallocsim's own code), so a re-run
grades only what changed, and an interrupted run loses only the grades that
were still running: every finished one is already kept.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mallocsim import cache
from mallocsim.build import lab_compiler, link_out_of_folder, oversize
from mallocsim.cache import code_digest, content_key, trace_parts
from mallocsim.config import GradingConfig
from mallocsim.errors import UsageError
from mallocsim.grade_record import grade_record, record_for
from mallocsim.gradebook import check_record
from mallocsim.grading import Grade, GradePlan
from mallocsim.labs import LABS
from mallocsim.metadata import compiler_version
from mallocsim.progress import Progress
from mallocsim.safe_text import printable
from mallocsim.score import failed_score
from mallocsim.stopping import stopped_as_by_ctrl_c

SOURCE_SUFFIXES = (".c", ".so")
SUBMISSION_FILE = "mm.c"  # what a student's folder is expected to hold
WORKER_LIMIT = 3600.0  # seconds one submission's grading may take in all
PR_SET_PDEATHSIG = 1  # <sys/prctl.h>


@dataclass(frozen=True)
class Submission:
    """One student's allocator: who, and the file to grade (None when the
    student's folder holds no single allocator: `problem` says why). The name
    and the problem are printable text (safe_text): a folder is named by whoever
    made it, and a control character in its name reached the terminal, split the
    summary's lines and made the JUnit file ill-formed."""

    student: str
    source: Path | None
    problem: str | None = None

    def __post_init__(self) -> None:
        # A backslash of the name's own shown as an escape too, so that no two names print
        # alike: a folder named with an ESC byte and one named "\\x1b" in letters were one
        # student, and the class stopped on "two submissions" (red-team pass 24).
        student = printable(self.student.replace("\\", "\\x5c"), lines=False)
        object.__setattr__(self, "student", student)
        if self.problem is not None:
            object.__setattr__(self, "problem", printable(self.problem, lines=False))


# A file name may hold 255 bytes: a student's file is named for the student, cut (with a digest
# of the whole name, so that two names cut alike stay apart) where the name would not fit. A
# 252-character folder name had stopped every later student's autograder files. Every name longer
# than the cut is given the digest, so that none is left as long as a cut one: a classmate named
# exactly another's cut form shared that student's file (red-team pass 25).
STUDENT_FILE_BYTES = 200
CUT_BYTES = STUDENT_FILE_BYTES - 13  # and "-" and 12 hex digits


def student_file(folder: Path, student: str, suffix: str) -> Path:
    """Where the student's autograder file of this suffix (".json", ".xml") goes in `folder`."""
    stem = student
    if len(stem.encode()) > CUT_BYTES:
        digest = hashlib.sha256(student.encode()).hexdigest()[:12]
        stem = stem.encode()[:CUT_BYTES].decode(errors="ignore") + "-" + digest
    return folder / f"{stem}{suffix}"


@dataclass(frozen=True)
class ClassGrades:
    """What grading a class gave: a record per submission finished, in the
    submissions' order, and whether the run was cut short."""

    records: tuple[dict[str, Any], ...]
    cached: frozenset[str]  # the students whose grade came from the cache
    interrupted: bool
    seconds: float


def allocator_in_folder(folder: Path) -> Path | str:
    """The allocator in one student's folder, by the rule every way of grading a student shares
    (a class run, and Gradescope's run_autograder, which asks this function): its mm.c; else the
    one mm.c in a folder inside it (a zip of the handout's folder: _nested_submission_files);
    else its one .c file. Else why there is none, as words that follow the folder's name.
    Sources only: a library a student hands in skips what the build checks (its global data,
    its assembly), and scored 100 where its own mm.c lost 20 points. The two ways had two rules:
    a nested malloclab/mm.c was graded on Gradescope and 0 in the class run of the same
    submissions, a lone solution.c the other way round (red-team pass 24)."""
    try:
        if (folder / SUBMISSION_FILE).is_file():
            return folder / SUBMISSION_FILE
        held = sorted(p.name for p in folder.iterdir())
    except OSError as error:  # a folder the grader may not read: this student's, not the class's
        return f"cannot be read: {error.strerror}"
    nested = _nested_submission_files(folder)
    if len(nested) == 1:
        return nested[0]
    if nested:
        return f"holds {len(nested)} files named {SUBMISSION_FILE} in folders and none at the top"
    sources = [name for name in held if name.endswith(".c") and (folder / name).is_file()]
    if len(sources) == 1:
        return folder / sources[0]
    if sources:
        return f"holds {len(sources)} .c files and no {SUBMISSION_FILE}"
    libraries = [name for name in held if name.endswith(".so")]
    if libraries:
        return (
            f"holds a library ({libraries[0]}), not its source: a student is graded from C source"
        )
    shown = " ".join(printable(name, lines=False) for name in held[:10]) or "nothing"
    return f"holds no .c file (it holds: {shown})"


# How far the search for a nested mm.c goes: a zip of the handout's folder puts it a level or two
# down. A tree a thousand folders deep ended a class run in a RecursionError (os.walk recurses),
# and an unreadable folder deep inside one zeroed a readable solution.c at the top (red-team
# pass 25): the search is bounded, and passes over what it may not read.
SEARCH_DEPTH = 8
SEARCH_ENTRIES = 100_000


def _nested_submission_files(folder: Path) -> list[Path]:
    """Every mm.c in the folders inside `folder`, SEARCH_DEPTH deep at most, among its first
    SEARCH_ENTRIES entries: not in the folders a zip or an editor adds, nor through links, nor in
    a folder it may not read."""
    found, seen, level = [], 0, [folder]
    for _depth in range(SEARCH_DEPTH):
        deeper = []
        for top in level:
            try:
                with os.scandir(top) as entries:
                    for entry in entries:
                        seen += 1
                        if seen > SEARCH_ENTRIES:
                            return sorted(found)
                        if entry.name in NOT_STUDENTS or not entry.is_dir(follow_symlinks=False):
                            continue
                        deeper.append(Path(entry.path))
                        if (Path(entry.path) / SUBMISSION_FILE).is_file():
                            found.append(Path(entry.path) / SUBMISSION_FILE)
            except OSError:
                continue
        level = deeper
    return sorted(found)


def _student_folder(folder: Path) -> Submission:
    """The submission in one student's folder (allocator_in_folder). A folder that is a symbolic
    link is refused: it could be another student's folder, whose file would be graded here, and
    its compiler messages shown, under this student's name."""
    if folder.is_symlink():
        return Submission(folder.name, None, f"{folder.name}/ is a symbolic link, not a folder")
    found = allocator_in_folder(folder)
    if isinstance(found, str):
        return Submission(folder.name, None, f"{folder.name}/ {found}")
    return _own_file(found.parent, found, folder.name)


def _own_file(folder: Path, source: Path, student: str) -> Submission:
    """The student's file, unless it is a link out of its folder (build.link_out_of_folder):
    a link to another student's file was given that student's cached grade."""
    if link_out_of_folder(source) is not None:
        why = f"{folder.name}/{source.name} is a symbolic link out of the folder"
        return Submission(student, None, why)
    return Submission(student, source)


def _holds_traces(folder: Path) -> bool:
    return any(folder.glob("*.rep"))


def _holds_student_work(folder: Path) -> bool:
    """Whether `folder` holds an allocator, at its top or in a folder inside (a student's zip of
    the handout's folder: a top-level .rep file beside it made it a folder of traces)."""
    return _holds_allocators(folder) or bool(_nested_submission_files(folder))


def _holds_allocators(folder: Path) -> bool:
    """Whether `folder` holds an allocator file (a folder named mallory.c is a student's); a
    folder the grader may not read is taken for a student's, whose grade then says so."""
    try:
        return any(p.suffix in SOURCE_SUFFIXES and p.is_file() for p in folder.iterdir())
    except OSError:
        return True


def split_arguments(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(submissions, traces) from what the command line named, in its order:
    .rep files and folders holding .rep files are traces; allocator files,
    folders holding them, and anything else (a built-in allocator's name) are
    submissions. A student's folder is never taken for traces, whatever .rep
    files it holds: a folder holding an allocator is a submission, and so is one
    beside a student's folder named with it (`class/*`) while other traces are
    named. Raises UsageError when either is missing, or when two folders beside
    the students' could each be the traces and nothing else is named."""
    # A student controls what their folder holds: a .rep file in it made it a folder of traces,
    # which every classmate's grade then ran (one holding amptjp-bal.rep with a 50 MB block gave
    # the whole class 0, its own student left out), and a folder named amptjp-bal.rep in it
    # stopped the class's grade. A folder that holds traces and no allocator, beside students'
    # folders, is the traces only when no other trace is named: with the traces kept in the class
    # folder (`class/*` naming class/traces, or the .rep files themselves), a student's folder
    # holding one .rep file was taken for traces too, and ran in every classmate's grade
    # (red-team passes 20 and 21). Two such folders and nothing else are refused: which holds
    # the traces is the instructor's to say.
    paths = {name: Path(name) for name in names}
    trace_like = {
        name
        for name, path in paths.items()
        if path.suffix == ".rep"
        or (path.is_dir() and _holds_traces(path) and not _holds_student_work(path))
    }
    # Where the students' work lies: the folders holding the students' folders named, and those
    # holding two or more of the allocator files named (a flat export: `subs/* traces/`).
    folder_homes = {
        _home(path)
        for name, path in paths.items()
        if name not in trace_like and path.is_dir() and _holds_student_work(path)
    }
    file_homes = [
        _home(path)
        for name, path in paths.items()
        if name not in trace_like and path.suffix in SOURCE_SUFFIXES and not path.is_dir()
    ]
    flat_homes = {home for home in file_homes if file_homes.count(home) > 1}
    # A folder of traces beside students' folders or files may be a student's, and so may a .rep
    # file beside the students' files (mallory.rep named with her classmates' files, or a folder
    # of hers holding one, ran in each of their grades: red-team passes 24 and 25).
    folders_beside = {
        name
        for name in trace_like
        if paths[name].is_dir() and _home(paths[name]) in folder_homes | flat_homes
    }
    files_beside = {
        name for name in trace_like if not paths[name].is_dir() and _home(paths[name]) in flat_homes
    }
    beside = folders_beside | files_beside
    named_apart = trace_like - beside
    submissions, traces = [], []
    for name in names:
        is_trace = name in trace_like and not (name in beside and named_apart)
        (traces if is_trace else submissions).append(name)
    if len(folders_beside) > 1 and not named_apart:
        raise UsageError(
            f"{' and '.join(printable(n, lines=False) for n in sorted(folders_beside))} lie "
            "beside the students' folders and each holds .rep files and no allocator: which are "
            "the traces? Name the traces' folder apart from the students' folders"
        )
    if not submissions:
        raise UsageError("no allocator to grade: name an mm.c, or a folder of student folders")
    if not traces:
        raise UsageError("no traces: name .rep files or a folder of them after the allocators")
    return submissions, traces


def _home(path: Path) -> Path:
    """The folder `path` lies in, links followed: a link that loops or leads nowhere is no
    exception (resolve() raised RuntimeError for a student's folder linked to itself)."""
    return Path(os.path.realpath(path)).parent


def is_class(submissions: Sequence[str]) -> bool:
    """Whether these name a class (several allocators, or a folder of them)
    rather than one allocator graded alone."""
    return len(submissions) > 1 or Path(submissions[0]).is_dir()


# Folders in a class folder that are nobody's: version control's, editors', and the resource
# forks a zip made on a Mac adds. Any other folder is a student's, dot or none: a student ".bob"
# had no row and no line at all when every dot folder was passed over (red-team pass 17).
NOT_STUDENTS = frozenset(
    {".git", ".hg", ".svn", ".idea", ".vscode", ".ipynb_checkpoints", "__MACOSX", "__pycache__"}
)


def find_submissions(names: Sequence[str]) -> list[Submission]:
    """Every submission these name, by student: a folder of student folders
    gives one per folder; a student's folder, its allocator; a file, itself,
    named for its folder when it is an mm.c (class/alice/mm.c is alice's), else
    for its stem. Raises UsageError for a name that is none of these, or for two
    submissions that would have the same student name. A folder named with anything else
    (`class/*`) is one student's, whatever it holds: a student's folder holding folders of its
    own was opened as a class, its sub-folders graded as students (red-team pass 20). A name
    that is a symbolic link, or an mm.c in a folder that is one, is refused as that student's
    problem: a link to a classmate's file was graded, and its verdict cached, as the
    classmate's."""
    # A folder named with anything else is one student's: named among the files of a flat
    # export, a folder holding carol/mm.c was opened as a class and graded as carol's (red-team
    # pass 25).
    several = len(names) > 1
    found: list[Submission] = []
    aside: list[Submission] = []  # named files that are not C source
    for name in names:
        path = Path(name)
        if path.is_symlink() and not path.exists():
            found.append(Submission(_student_of(path), None, f"{name} is a link to nothing"))
        elif path.is_dir() and path.name == SUBMISSION_FILE:  # `class/*/mm.c`, a folder
            why = f"{path.parent.name}/{path.name} is a folder, not a file"
            found.append(Submission(_student_of(path), None, why))
        elif path.is_dir():
            # A student's folder named mallory.c made the class folder one student's: nobody
            # was graded.
            folders = [] if several or _holds_allocators(path) else _student_folders(path)
            if path.is_symlink() or not folders:
                found.append(_student_folder(path))
            else:
                found.extend(_student_folder(folder) for folder in folders)
        elif path.is_file():
            folder = path.absolute().parent
            student = _student_of(path)
            if folder.is_symlink():
                why = f"{folder.name}/ is a symbolic link, not a folder"
                found.append(Submission(student, None, why))
            elif path.suffix != ".c":
                aside.append(Submission(student, None, f"{name} {_not_source(path)}"))
            else:
                found.append(_own_file(folder, path, student))
        elif path.exists():  # a FIFO, a device: the student's, not a reason to stop the class
            why = f"{name} is not a regular file"
            found.append(Submission(_student_of(path), None, why))
        else:
            raise UsageError(f"{name}: no such file or folder")
    seen: dict[str, Submission] = {}
    for submission in found:
        if submission.student in seen:
            first, second = (
                printable(str(s.source), lines=False)
                for s in (seen[submission.student], submission)
            )
            raise UsageError(f"two submissions for {submission.student!r}: {first} and {second}")
        seen[submission.student] = submission
    # A file named beside the others that is not C source is its student's zero, unless that
    # student handed in a .c file too (an LMS's export of mallory_mm.c and mallory_mm.h made two
    # submissions of one name and stopped the class; a library handed in as bob.so skipped the
    # build's checks and scored 100 where its source scored 80: red-team pass 24).
    for submission in aside:
        seen.setdefault(submission.student, submission)
    return sorted(seen.values(), key=lambda s: s.student)


def _student_folders(folder: Path) -> list[Path]:
    """The student folders of a class folder, or none when it cannot be read (it is then taken
    for one student's, whose grade says so)."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in NOT_STUDENTS)
    except OSError:
        return []


def _not_source(path: Path) -> str:
    """Why a named file is not graded in a class, as words that follow its name."""
    if path.suffix == ".so":
        return "is a library, not its source: a class is graded from C source"
    return "is not C source: a class is graded from each student's .c file"


def _student_of(path: Path) -> str:
    """Whose file `path` is: its folder's, named as typed (links not followed), for an mm.c;
    else its stem."""
    return path.absolute().parent.name if path.name == SUBMISSION_FILE else path.stem


def grade_key(
    source: bytes, plan: GradePlan, config: GradingConfig, settings: Sequence[str]
) -> str:
    """The digest of everything a grade depends on: mallocsim's code, the source,
    the traces graded (names and contents, in order), the configuration, the
    compiler (CC, or the lab's, and its version: zeros a broken CC had made were
    served once it was mended, red-team pass 24) and the command's other settings."""
    parts = trace_parts(plan.traces)
    compiler = lab_compiler(LABS[config.lab])
    built_by = (compiler, _version(compiler))
    return content_key("grade", code_digest(), source, *parts, repr(config), *built_by, *settings)


@functools.cache
def _version(compiler: str) -> str:
    """The compiler's version, asked once a run (not once a submission)."""
    return compiler_version(compiler)


def _problem_record(submission: Submission, config: GradingConfig, why: str) -> dict[str, Any]:
    """The record of a submission that could not be graded at all."""
    name = str(submission.source or submission.student)
    grade = Grade(name, (), failed_score(config, why.partition("\n")[0]), why)
    return grade_record(grade, submission.student, name)


def _outcome(record: dict[str, Any]) -> str:
    """A few words for the progress line: the score, or why there is none."""
    grade = record["grade"]
    score = grade["score"]
    text = f"{score['points']:g}/{score['max_points']:g}"
    if grade.get("problem"):
        return f"{text}, {grade['problem'].splitlines()[0]}"
    invalid = score["traces"] - score["valid"]
    return f"{text}, {invalid} invalid" if invalid else text


@dataclass
class _Running:
    submission: Submission
    key: str
    process: subprocess.Popen
    record_path: Path
    log_path: Path
    started: float


def default_jobs(throughput: str) -> int:
    """How many submissions a class run grades at once by default: one a core, or, when the
    grades are timed ("time"), one for every two cores: a grade's agent runs its timed passes
    while its grader waits on another core (two on 2 cores cost honest copies 6-11 points,
    red-team pass 16)."""
    cores = os.cpu_count() or 1
    return cores if throughput != "time" else max(1, cores // 2)


def grade_class(
    submissions: Sequence[Submission],
    trace_names: Sequence[str],
    plan: GradePlan,
    config: GradingConfig,
    worker_flags: Sequence[str],
    jobs: int,
    progress: Progress,
    use_cache: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> ClassGrades:
    """Grade every submission, `jobs` at a time, each by its own `mallocsim grade`
    process run with `worker_flags` (the settings, which are part of the cache key).
    Ctrl-C, SIGTERM and SIGHUP stop the running ones and return every grade
    already finished. Without `use_cache`, every grade is made again and kept."""
    start = time.monotonic()
    records: dict[str, dict[str, Any]] = {}
    cached: set[str] = set()
    waiting: list[tuple[Submission, str, bytes]] = []

    def finish(submission: Submission, record: dict[str, Any], outcome: str) -> None:
        records[submission.student] = record
        progress.finished(submission.student, outcome)
        if on_record:
            on_record(record)

    for submission in submissions:
        if submission.source is None:
            progress.started(submission.student)
            record = _problem_record(submission, config, submission.problem or "nothing to grade")
            finish(submission, record, "nothing to grade")
            continue
        try:
            why = oversize(submission.source)
            if why is not None:
                progress.started(submission.student)
                finish(submission, _problem_record(submission, config, why), "too large")
                continue
            source = submission.source.read_bytes()
        except OSError as error:
            progress.started(submission.student)
            why = f"{submission.source}: {error.strerror}"
            finish(submission, _problem_record(submission, config, why), "cannot be read")
            continue
        key = grade_key(source, plan, config, worker_flags)
        kept = cache.load("grades", key) if use_cache else None
        if kept is not None:
            record = record_for(kept, submission.student, str(submission.source))
            cached.add(submission.student)
            progress.started(submission.student)
            finish(submission, record, f"{_outcome(record)} (cached)")
        else:
            waiting.append((submission, key, source))

    running: list[_Running] = []
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="mallocsim-class-") as scratch, stopped_as_by_ctrl_c():
        try:
            while waiting or running:
                while waiting and len(running) < jobs:
                    submission, key, source = waiting.pop(0)
                    progress.started(submission.student)
                    try:
                        job = _launch(submission, key, source, trace_names, worker_flags, scratch)
                    except OSError as error:  # the disk is full (a classmate's doing?): this one
                        why = f"the grader could not start its worker: {error.strerror}"
                        finish(submission, _problem_record(submission, config, why), "not started")
                        continue
                    running.append(job)
                time.sleep(0.02)  # a free slot is filled within 20 ms
                progress.tick()
                for job in [j for j in running if j.process.poll() is not None or _overdue(j)]:
                    running.remove(job)
                    record, keep = _collect(job, config)
                    if keep:  # --no-cache too: a grade made again replaces the one kept
                        cache.store("grades", job.key, record)
                    finish(job.submission, record, _outcome(record))
        except KeyboardInterrupt:
            interrupted = True
            for job in running:
                _kill(job.process)
        except BaseException:
            # No worker outlives the run: one stopped by an error left a classmate's count
            # running after the coordinator had gone (red-team pass 21).
            for job in running:
                _kill(job.process)
            raise
    ordered = tuple(records[s.student] for s in submissions if s.student in records)
    return ClassGrades(ordered, frozenset(cached), interrupted, time.monotonic() - start)


def _die_with_coordinator(coordinator: int) -> Callable[[], None]:
    """For a worker, before it starts: killed when the coordinator is, even by SIGKILL, which no
    handler sees (its own children die with it: sandbox.c)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the child

    def arrange() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != coordinator:  # it died before the request was made
            os._exit(1)

    return arrange


def _launch(
    submission: Submission,
    key: str,
    source: bytes,
    trace_names: Sequence[str],
    flags: Sequence[str],
    scratch: str,
) -> _Running:
    """A worker grading `source`, the bytes the key was made of, from a copy of its own: the
    grade kept under the key is of those bytes, whatever the student's path leads to by the time
    the worker reads it."""
    assert submission.source is not None
    # Named for the student too: two students with the same file (the handout's, unchanged) have
    # the same key, and their workers wrote one record, which then stood for both of them.
    job = f"{key}-{hashlib.sha256(submission.student.encode()).hexdigest()[:12]}"
    record_path = Path(scratch) / f"{job}.json"
    log_path = Path(scratch) / f"{job}.log"
    copy = Path(scratch) / job / submission.source.name
    copy.parent.mkdir()
    copy.write_bytes(source)
    command = [
        # -P: the working directory is not put on the import path; a student's folder named
        # mallocsim (or json, or re) beside the others replaced the grader, as root, in every
        # worker started from the class folder (red-team pass 20).
        sys.executable, "-P", "-m", "mallocsim", "grade", "--json", str(record_path),
        f"--student={submission.student}", "--quiet", *flags,
        # After "--", as typed: a trace the instructor named "-x.rep" (given after "--" to this
        # command) had every student graded 0, "the following arguments are required".
        "--", str(copy), *trace_names,
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own group: killed whole, deaf to our terminal's Ctrl-C
            preexec_fn=_die_with_coordinator(os.getpid()),
        )  # fmt: skip
    return _Running(submission, key, process, record_path, log_path, time.monotonic())


def _overdue(job: _Running) -> bool:
    if time.monotonic() - job.started <= WORKER_LIMIT:
        return False
    _kill(job.process)
    return True


def _kill(process: subprocess.Popen) -> None:
    """Stop a worker and everything it started (its trace children, valgrind)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _collect(job: _Running, config: GradingConfig) -> tuple[dict[str, Any], bool]:
    """(the worker's record, whether it may be cached). A worker that wrote no
    record (it crashed, or ran out of time) gives a zero with the reason, not
    cached: the next run tries again."""
    status = job.process.wait()
    try:
        record = json.loads(job.record_path.read_text())
        check_record(record, str(job.record_path))
        record = record_for(record, job.submission.student, str(job.submission.source))
        record["key"] = job.key
        # A count the clock did not confirm may be the load's doing (a classmate's busy count
        # beside it, red-team pass 21): graded again on the next run, not kept.
        confirmed = record["grade"]["score"].get("count_scale", 1.0) <= 1.0
        return record, confirmed
    except (OSError, ValueError, UsageError):
        pass
    # Split at newlines only (splitlines() also breaks at a carriage return, and a file name
    # with one then chose how the line began), and shown printable: the name is the student's.
    # A worker whose process was limited from outside (RLIMIT_FSIZE 0 on its log, red-team pass
    # 8) ends with status 1 and an empty log: no last line to show, and no traceback for it.
    said = job.log_path.read_text(errors="replace").strip()
    lines = said.split("\n") if said else []
    if status < 0 or status > 2 or not lines:
        why = f"the grader stopped with status {status} on this submission"
        if time.monotonic() - job.started > WORKER_LIMIT:
            why = f"grading took longer than {WORKER_LIMIT:g} s and was stopped"
    else:
        why = printable(lines[-1].removeprefix("mallocsim grade: "), lines=False)
    return _problem_record(job.submission, config, why), False
