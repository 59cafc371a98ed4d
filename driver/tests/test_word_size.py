"""A student's -m32 build (build.py's word sizes, c/src/remote.c's wire format,
the 32-bit engine in _native/i386/): the CS:APP handout's Makefile builds mm.c
with -m32, and most public solutions to it keep pointers in 4-byte integers. Such
a file is built -m32, graded by a 32-bit agent exactly as a 64-bit one is
(checked, timed and verified, counted), and sandboxed alike."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mallocsim.allocators import resolve, spec_build
from mallocsim.build import BuildError, build_source
from mallocsim.config import for_lab
from mallocsim.elf import global_data_bytes, word_bits
from mallocsim.errors import UsageError
from mallocsim.gradebook import row_of
from mallocsim.grading import reference_costs
from mallocsim.instructions import pass_instructions
from mallocsim.labs import lab_named
from mallocsim.trace import load_trace

from .conftest import fixture_allocator, fixture_variant

# Ops that make the explicit list link, unlink and reuse blocks.
LINKED = "a 0 24\na 1 24\na 2 24\na 3 24\nf 0\nf 2\na 4 24\na 5 40\nf 1\nf 3\nf 4\nf 5\n"
TRACE = "".join(f"a {i} {16 + i}\n" for i in range(8)) + "".join(f"f {i}\n" for i in range(8))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def cut(tmp_path) -> Path:
    """csapp_explicit.c with its free-list links kept as 32-bit pointers, as the handout's
    -m32 students write them: it crashes on x86-64."""
    return fixture_variant(
        "labs/csapp_explicit", "#define LINKS_AS_32_BIT_POINTERS\n", tmp_path / "cut.c"
    )


def test_a_file_keeping_pointers_in_ints_is_built_m32_as_the_csapp_handout_builds_it(cut):
    csapp = lab_named("csapp")
    built = build_source(cut, csapp, "classic")
    assert built.word_bits == 32 and word_bits(built.library) == 32
    assert built.word_note is not None and "built -m32" in built.word_note
    assert "first at mm.c:" in built.word_note and "integer of different size" in built.word_note
    # Every other file is built for x86-64, as courses that moved the lab there build it.
    plain = build_source(fixture_allocator("labs/csapp_explicit"), csapp, "classic")
    assert (plain.word_bits, plain.word_note, word_bits(plain.library)) == (64, None, 64)
    # A word size asked for is the one built; the CMU labs build for 64 bits only.
    assert build_source(cut, csapp, "classic", word_size="64").word_bits == 64
    forced = build_source(
        fixture_allocator("labs/csapp_explicit"), csapp, "classic", None, None, "32"
    )
    assert (forced.word_bits, forced.word_note) == (32, None)
    assert lab_named("cmu").word_size == "64" and csapp.word_size == "auto"
    with pytest.raises(UsageError, match="unknown word size '16'"):
        build_source(cut, csapp, "classic", word_size="16")


def test_a_file_that_compiles_only_for_32_bits_is_built_m32(tmp_path):
    # mm_malloc(unsigned), as size_t is at 32 bits: "does not compile" for x86-64, where its
    # handout's -m32 driver gave a public file 91 (lab check run 20).
    source = tmp_path / "unsigned.c"
    text = fixture_allocator("good_bump").read_text()
    source.write_text(
        text.replace("void *mm_malloc(size_t size)", "void *mm_malloc(unsigned size)")
    )
    built = build_source(source, lab_named("csapp"), "classic")
    assert built.word_bits == 32 and word_bits(built.library) == 32
    assert built.word_note is not None
    assert "mm.c does not compile for x86-64 (mm.c:" in built.word_note
    assert "conflicting types for" in built.word_note
    with pytest.raises(BuildError, match="does not compile"):  # asked for x86-64: as it is
        build_source(source, lab_named("csapp"), "classic", word_size="64")


def test_an_m32_build_is_graded_by_the_32_bit_agent_checked_and_timed(cli, cut, write_trace):
    trace = write_trace("linked", LINKED)
    run = cli("grade", cut, "--lab", "csapp", "--throughput", "time", "-q", trace)
    assert run.status == 0, run.said
    said = " ".join(run.said.split())
    assert "csapp (1/1 valid)" in said and "built -m32, as the csapp handout's Makefile" in said
    assert "pointers in 4-byte integers: mm.c keeps" not in said  # nothing crashed to explain
    # Built for x86-64 instead, the same file crashes: the note then says why.
    run = cli(
        "grade", cut, "--lab", "csapp", "--throughput", "time", "--word-size", "64", "-q", trace
    )
    assert run.status == 1 and "crashed with SIGSEGV" in run.said
    assert "pointers in 4-byte integers" in " ".join(run.said.split())


def _crashing_explicit(path: Path, head: str = "") -> Path:
    """csapp_explicit with `head` in front, crashing in every mm_malloc, in either word size."""
    path.write_text(
        head
        + fixture_allocator("labs/csapp_explicit")
        .read_text()
        .replace(
            "void *mm_malloc(size_t size) {",
            "void *mm_malloc(size_t size) {\n    *(volatile int *)0 = 1;",
        )
    )
    return path


def test_a_file_that_fails_every_trace_on_x86_64_as_m32_code_does_is_graded_m32(
    cli, tmp_path, write_trace
):
    # Two whole char * links 4 bytes apart (a public Jungle solution's): no compiler warning,
    # and every trace crashes on x86-64, where they overlap; 84 under the handout's -m32 driver.
    adjacent = fixture_variant(
        "labs/csapp_explicit", "#define LINKS_AS_ADJACENT_POINTERS\n", tmp_path / "adjacent.c"
    )
    trace = write_trace("linked", LINKED)
    run = cli("grade", adjacent, "--lab", "csapp", "--throughput", "time", trace)
    assert run.status == 0, run.said
    # The progress lines tell the two builds' passes apart (lab check run 24).
    assert "grade [1/1] linked: crash" in run.err and "grade [2/2] linked (-m32): valid" in run.err
    said = " ".join(run.said.split())
    assert "csapp (1/1 valid)" in said
    assert "built -m32, as the csapp handout's Makefile builds it: built for x86-64, every" in said
    # Asked for x86-64, it is graded there; a file that fails under -m32 too keeps its failure.
    pinned = ("--word-size", "64")
    run = cli("grade", adjacent, "--lab", "csapp", "--throughput", "time", *pinned, "-q", trace)
    assert run.status == 1 and "crashed with SIGSEGV at op 6" in run.said
    broken = _crashing_explicit(tmp_path / "broken.c")
    run = cli("grade", broken, "--lab", "csapp", "--throughput", "time", "-q", trace)
    assert run.status == 1 and "crashed with SIGSEGV" in run.said
    said = " ".join(run.said.split())
    assert "Makefile builds it: built for x86-64" not in said  # not graded as the -m32 build
    # but told it was tried (the 64-bit failures alone were shown, the attempt never mentioned)
    assert "also graded built -m32, as the csapp handout's Makefile builds it" in said


def test_only_the_graded_build_is_counted_and_after_both_are_replayed(
    cli, tmp_path, write_trace, monkeypatch
):
    # The x86-64 build's count ran before its -m32 build was replayed: the count holds the traces
    # whole, and carried a hidden trace's realloc shape to the -m32 build in files' access times
    # (red-team pass 46: 45.0 -> 52.5). Only the build graded is counted, once both are replayed.
    from mallocsim import grading

    events: list[str] = []
    replay, count = grading.replay_isolated, grading.counted_passes

    def replayed(trace, spec, *rest):
        events.append(f"replay {spec.word_size}")
        return replay(trace, spec, *rest)

    def counted(spec, *rest, **named):
        events.append(f"count {spec.word_size}")
        return count(spec, *rest, **named)

    monkeypatch.setattr(grading, "replay_isolated", replayed)
    monkeypatch.setattr(grading, "counted_passes", counted)
    adjacent = fixture_variant(
        "labs/csapp_explicit", "#define LINKS_AS_ADJACENT_POINTERS\n", tmp_path / "adjacent.c"
    )
    run = cli("grade", adjacent, "--lab", "csapp", "-q", write_trace("linked", LINKED))
    assert run.status == 0 and "built -m32, as the csapp handout's Makefile" in run.said, run.said
    assert events == ["replay None", "replay 32", "count 32"], events


def test_an_m32_build_that_does_not_compile_is_named_so(cli, tmp_path, write_trace):
    # The note said "it passed no more traces there" of an -m32 build that did not compile (red-
    # team pass 31): it says why the build ran nothing.
    head = '#if __SIZEOF_POINTER__ == 4\n#error "not for 32 bits"\n#endif\n'
    broken = _crashing_explicit(tmp_path / "broken.c", head)
    trace = write_trace("linked", LINKED)
    run = cli("grade", broken, "--lab", "csapp", "--throughput", "time", "-q", trace)
    said = " ".join(run.said.split())
    assert run.status == 1 and "crashed with SIGSEGV" in said, said
    assert "also tried built -m32, as the csapp handout's Makefile builds it" in said, said
    assert "not for 32 bits" in said and "passed no more traces" not in said, said


def test_a_crash_once_the_trace_is_known_never_calls_for_the_m32_build(cli, tmp_path, write_trace):
    # The timed passes come after the whole trace is in the allocator's hands. A build that
    # passed its checked passes, then crashed in its timed ones on purpose, had its -m32 build
    # graded, which placed every block from what the first left in the page cache (red-team pass
    # 12: a hidden trace, 62.5 honest, 71.8). Code written for -m32 fails in its checked pass.
    late = tmp_path / "late.c"
    late.write_text(
        "#include <signal.h>\n"
        + fixture_allocator("labs/csapp_explicit")
        .read_text()
        .replace(
            "int mm_init(void) {",
            "static int inits;\nint mm_init(void) {\n"
            "    if (++inits >= 3) /* the timed passes */\n        raise(SIGSEGV);",
        )
    )
    trace = write_trace("linked", LINKED)
    run = cli("grade", late, "--lab", "csapp", "--throughput", "time", "-q", trace)
    said = " ".join(run.said.split())
    assert run.status == 1 and "crashed with SIGSEGV" in said and "timed pass" in said, said
    assert "-m32" not in said, said


def test_a_file_that_fails_most_traces_on_x86_64_as_m32_code_does_is_graded_m32(
    cli, tmp_path, write_trace
):
    # A red-black tree of 4-byte links passed one trace of eleven on x86-64 (one whose blocks
    # never needed a link) and scored 97 under its -m32 driver; only a file that failed every
    # trace was tried -m32, so it got 0 (lab check pass 4). The build passing more is graded.
    adjacent = fixture_variant(
        "labs/csapp_explicit", "#define LINKS_AS_ADJACENT_POINTERS\n", tmp_path / "adjacent.c"
    )
    traces = [write_trace(name, LINKED) for name in ("linked", "linked2")]
    traces.append(write_trace("alone", "a 0 24\nf 0\n"))  # no free block is ever linked
    run = cli("grade", adjacent, "--lab", "csapp", "--throughput", "time", "-q", *traces)
    assert run.status == 0, run.said
    said = " ".join(run.said.split())
    assert "csapp (3/3 valid)" in said
    assert "built for x86-64, 2 of 3 traces failed there the ways code written for 32 bits" in said


def test_a_file_that_loses_realloc_data_on_x86_64_alone_is_graded_m32(cli, tmp_path, write_trace):
    # A realloc written for 4-byte words lost data on the two realloc traces of eleven on
    # x86-64, and nothing else failed: only a file most of whose traces crashed was tried -m32,
    # so it got 0, where its -m32 driver gives 85 (lab check run 17).
    copies = fixture_variant(
        "labs/csapp_implicit", "#define COPY_IN_4_BYTE_LONGS\n", tmp_path / "copies.c"
    )
    traces = [write_trace("grows", "a 0 40\nr 0 200\nf 0\n"), write_trace("linked", LINKED)]
    run = cli("grade", copies, "--lab", "csapp", "--throughput", "time", "-q", *traces)
    said = " ".join(run.said.split())
    assert run.status == 0 and "csapp (2/2 valid)" in said, said
    assert "built -m32, as the csapp handout's Makefile builds it: built for x86-64, 1 of 2" in said
    # and which, and how, it failed there
    assert "; the first, grows: " in said and "realloc did not keep the data" in said, said


def test_an_m32_build_is_counted_by_the_32_bit_counter_and_confirmed_by_the_clock(
    cli, cut, write_trace, tmp_path
):
    trace = write_trace("churn", "".join(f"a {i} {16 + i % 64}\nf {i}\n" for i in range(300)))
    record = tmp_path / "grade.json"
    run = cli("grade", cut, "--lab", "csapp", "-q", trace, "--json", record)
    assert run.status == 0, run.said
    saved = json.loads(record.read_text())
    score = saved["grade"]["score"]
    assert score["measure"] == "instructions" and score["throughput"] > 0
    assert saved["grade"]["word_bits"] == 32 and row_of(saved).word_bits == 32  # the gradebook's
    assert score["count_scale"] == 1.0 and "not confirmed by the clock" not in run.said
    # T_ref is the system malloc's 32-bit build, as the handout's -m32 driver's libc is.
    assert score["reference_source"].startswith("glibc, its 32-bit build")
    traces = [load_trace(trace)]
    config = for_lab("csapp")
    wide, _ = reference_costs(traces, config, "instructions", 60.0)
    narrow, how = reference_costs(traces, config, "instructions", 60.0, word_bits=32)
    assert wide and narrow and "its 32-bit build" in how
    assert narrow["churn"] != wide["churn"]  # measured, by its own counter
    assert score["reference_throughput"] == pytest.approx(600 / narrow["churn"])  # ops / count


def test_a_timed_pass_of_a_32_bit_agent_is_verified_as_a_64_bit_ones(cli, tmp_path, write_trace):
    forged = fixture_variant(
        "attacks", '#define ATTACK CHEAT_TIMED\n#define ATTACK_PATH "x"\n', tmp_path / "f.c"
    )
    trace = write_trace("t", TRACE)
    run = cli(
        "grade", forged, "--dialect", "classic", "--throughput", "time", "--word-size", "32",
        "-q", trace,
    )  # fmt: skip
    assert run.status == 1 and "in the timed passes: op 1 (a 1 17): block 1" in run.said


@pytest.mark.parametrize(
    "attack, said",
    [
        ("CONSTRUCTOR_WRITE", "tried to create or write a file (openat)"),
        ("DETACHED_CHILD", "tried to start a process"),
        ("FORK_BOMB", "tried to start a process"),
        # the i386 ABI's socket calls go through one multiplexed call
        ("CONNECT", "tried to use the network (socketcall)"),
        # system() ignores SIGINT and SIGQUIT first: the call named from the i386 ABI's number
        (
            "RUN_PROGRAM",
            "tried to set a signal's action (one for SIGSYS hides the calls the sandbox denies; "
            "any keeps data in the kernel) (rt_sigaction)",
        ),
    ],
)
def test_the_32_bit_agent_is_sandboxed_and_its_denied_calls_named_in_its_abi(
    cli, tmp_path, write_trace, attack, said
):
    target = tmp_path / "pwned"
    defines = f'#define ATTACK {attack}\n#define ATTACK_PATH "{target}"\n#define ATTACK_PORT 9\n'
    source = fixture_variant("attacks", defines, tmp_path / "a.c")
    run = cli(
        "grade", source, "--dialect", "classic", "--throughput", "time", "--word-size", "32",
        "-q", write_trace("t", TRACE),
    )  # fmt: skip
    assert run.status == 1 and said in run.said, run.said
    assert not target.exists()


@pytest.mark.parametrize("attack", ["RAW_SYSCALL", "KILL_PARENT"])
def test_the_count_of_a_32_bit_build_runs_confined(tmp_path, write_trace, attack):
    # valgrind's x86 tool makes the i386 ABI's calls: the count's filter covers that ABI too.
    target = tmp_path / "pwned"
    source = fixture_variant(
        "attacks", f'#define ATTACK {attack}\n#define ATTACK_PATH "{target}"\n', tmp_path / "a.c"
    )
    spec = resolve(str(source), "classic", word_size="32")
    built = spec_build(spec)
    assert built is not None and built.word_bits == 32
    try:
        pass_instructions(spec, [load_trace(write_trace("t", TRACE))])
    except UsageError:
        pass  # killed for its call: the count fails, which only costs the student
    assert not target.exists()  # and this process, the one it tried to kill, is still here


def test_a_request_a_32_bit_allocator_cannot_hold_fails_as_a_null_not_a_cut_size(
    cli, cut, write_trace
):
    # 4 GiB + 24 bytes cut to 32 bits is 24 bytes: served, it would pass as a 24-byte block.
    trace = write_trace("huge", f"a 0 {(1 << 32) + 24}\nf 0\n")
    run = cli("grade", cut, "--lab", "csapp", "--throughput", "time", "-q", trace)
    assert run.status == 1
    assert f"malloc returned NULL for {(1 << 32) + 24} bytes" in " ".join(run.said.split())


def test_the_global_data_of_a_32_bit_object_is_measured(cut):
    built = build_source(cut, lab_named("csapp"), "classic")
    object_file = built.library.parent / "mm.o"
    assert word_bits(object_file) == 32
    assert built.global_data is not None and built.global_data > 0
    assert global_data_bytes(object_file) == built.global_data


# valgrind's x86 client-request preamble and a request (harmless without valgrind).
X86_VALGRIND_REQUEST = """
long ask_valgrind(long *args) {
    long answer = 0;
    __asm__ volatile("roll $3, %%edi; roll $13, %%edi; roll $29, %%edi; roll $19, %%edi;"
                     "xchgl %%ebx, %%ebx" : "+d"(answer) : "a"(args) : "cc", "memory");
    return answer;
}
"""


# The same request as data: valgrind's x86 tool runs code from any readable page, and a -m32
# build kept it in a const array, called through a cast, past a scan of code pages alone
# (red-team pass 8: a first fit's count fell from 2,546 to 98 instructions an op).
X86_VALGRIND_REQUEST_AS_DATA = """
static const unsigned char request_code[] = {
    0xc1, 0xc7, 0x03, 0xc1, 0xc7, 0x0d, 0xc1, 0xc7, 0x1d, 0xc1, 0xc7, 0x13, 0x87, 0xdb, 0xc3,
};
const void *valgrind_request_code(void) { return request_code; }
"""


@pytest.mark.parametrize(
    "talk", [X86_VALGRIND_REQUEST, X86_VALGRIND_REQUEST_AS_DATA], ids=["code", "data"]
)
def test_a_32_bit_build_that_talks_to_valgrind_cannot_be_graded_by_instruction_count(
    cli, cut, write_trace, tmp_path, talk
):
    talker = tmp_path / "talker.c"
    talker.write_text(cut.read_text() + talk)
    run = cli("grade", talker, "--lab", "csapp", "-q", write_trace("t", LINKED))
    assert run.status == 1, run.said
    said = " ".join(run.said.split())
    assert "contains a valgrind client request (valgrind.h's macros)" in said


def test_bench_times_an_m32_build_in_its_32_bit_agent(cli, cut, write_trace):
    # A student's file is timed in its agent (every timed pass checked there): a -m32 build in
    # the 32-bit one, where timing it in this 64-bit process was refused.
    run = cli("bench", "--lab", "csapp", "-q", "-a", cut, "-a", "glibc", write_trace("t", LINKED))
    assert run.status == 0, run.err
    assert "FAIL" not in run.out and str(cut) in run.out


def test_a_class_is_built_for_the_word_size_asked(cli, write_trace, tmp_path):
    # Each student's worker grades with the class's settings: --word-size did not reach them
    # (built for 64 bits, and cached under a key that said 32).
    folder = tmp_path / "class" / "alice"
    folder.mkdir(parents=True)
    (folder / "mm.c").write_text(fixture_allocator("labs/csapp_explicit").read_text())
    book = tmp_path / "book.csv"
    run = cli("grade", tmp_path / "class", write_trace("t", TRACE), "--lab", "csapp",
              "--throughput", "time", "--word-size", "32", "-q", "--gradebook", book)  # fmt: skip
    assert run.status == 0, run.said
    with book.open() as rows:
        (alice,) = csv.DictReader(rows)
    assert alice["word_bits"] == "32", alice
