/*
 * remote.c - a student's allocator in a process of its own, and the grader that checks it.
 *
 * Nothing a student's code writes can change a verdict if the verdict is made where it cannot
 * write. The grader (this engine: the checker, the heap's break, the clock that bounds the
 * timing) keeps its own process; the allocator runs in another, the agent: msagent, a small
 * program of ours the grader starts (ms_agent_spawn) after sharing the heap (memlib's mem_share:
 * a memfd the agent maps at the same address, mem_join). Being a program of its own rather than
 * a fork, the agent holds nothing of the grader's memory: no other student's code or result
 * that was ever in the grader's process is there to find. It enters the sandbox before it loads
 * the code. The two share only the heap's pages, one link and the parent's progress words:
 *
 *   checked passes  the engine runs here; each allocator call (mm_init, malloc, free, realloc,
 *                   calloc, the heap checker) is a request the agent answers with the call's
 *                   result. The agent's mem_sbrk is asked of this process (memlib follows), so
 *                   the break and the high-water mark utilization is computed from are ours,
 *                   and the heap file is never longer than the break (rounded up to a page): a
 *                   byte past it is not memory. Payloads are filled and checked through this
 *                   process's own view of the pages.
 *   timed passes    run by the agent's engine on its own (asking for each op would be what got
 *                   timed), within a heap the grader grants. At each pass's start and end the
 *                   agent stops and waits: the grader reads the agent's CPU clock from the
 *                   kernel and, at the end, copies the pass's log (every pointer it returned)
 *                   and checks it as a checked pass would, minus payloads. A pass that returned
 *                   one pointer for everything fails here. Each pass is graded at no less than
 *                   the kernel's count of it, less what a stop costs; passes whose claims fall
 *                   short of the count (each claim covering its own pass only) are timed again,
 *                   and, short three times running by more than their stops could cost,
 *                   reported as tampered timing.
 *
 * Turns: one futex word says whose move it is; the mover writes its request or answer, hands
 * the turn over and waits (spinning briefly, then sleeping). Everything the agent writes is
 * read once, as data: a pointer the checker verifies, a status the engine judges. What the
 * grader relies on (the link's layout, its verdict) it keeps in its own memory, never reading
 * back what the agent could have rewritten. An agent that
 * writes what no agent of ours would (an unknown move, a pass out of order) is marked
 * MS_LINK_VIOLATED, its answers void. An agent that dies is died of: the grader ends the same
 * way (signal or status), so the process watching the grader (isolate.py) reports the death as
 * it would have reported the allocator's in one process, with the op and pass the shared
 * progress words hold. The agent dies with the grader (PR_SET_PDEATHSIG).
 *
 * One link at a time per process: the stubs the engine calls have the allocator's signatures,
 * no context argument, so they find the link in this file's state.
 *
 * The agent may be a 32-bit build of this file (msagent in _native/i386/, for a student's -m32
 * build) while the grader is 64-bit: what they share is a wire format that both builds lay out
 * alike (see WIRE64 below), and the heap lies where a 32-bit process can map it (mem_share(true)).
 */
#include "data_tail.h"
#include "engine.h"
#include "mallocsim.h"
#include "memlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum turn { TURN_GRADER = 0, TURN_AGENT = 1 };

enum call {
    CALL_INIT = 1,
    CALL_MALLOC,
    CALL_FREE,
    CALL_REALLOC,
    CALL_CALLOC,
    CALL_CHECKHEAP,
    CALL_TIMED,
    CALL_TEAM
};

enum move {
    MOVE_READY = 1,
    MOVE_REFUSED,
    MOVE_ANSWER,
    MOVE_SBRK,
    MOVE_PASS_START,
    MOVE_PASS_END,
    MOVE_LOADING
};

/* What loading a library may add to the agent's private memory beyond its own writable
   segments: the loader's bookkeeping and the C library's arena (measured: well under this). */
static const uint64_t LOADING_SLACK = 1 << 20;
/* The agent's stack limit, soft and hard: the usual default. */
static const rlim_t AGENT_STACK_BYTES = (rlim_t)8 << 20;

enum { HAS_CALLOC = 1, HAS_CHECKHEAP = 2 };

/* The kernel's count of a pass covers the stop around it too: the wake-up, the clock reads, the
   hand-over and the fall asleep. Measured on 2 cores, idle and with both busy: 1-5 us a pass
   (mean 1.4-2.5 us, 99th percentile 14 us), now and then one of about 100 us. The agent's claim
   is wall-clock time, which a preempted pass only lengthens, so an honest claim never falls
   short of the count by more than this allowance; one that does was forged. A pass is verified
   to within TIMING_SLACK_PER_PASS: a shorter one can hide its whole time. */
static const double TIMING_SLACK_RATIO = 1.02;
static const double TIMING_SLACK_PER_PASS = 8e-6;
static const double TIMING_SLACK_SECONDS = 500e-6;
/* The most one pass's stops can cost: a 12-op pass of 65 us was once counted 100-110 us more
   on this virtual machine. Claims that fall short of the count by more than this a pass, on
   average, three tries running, were forged: a verdict. */
static const double PASS_CLAIM_SLACK = 200e-6;
enum { TIMING_TRIES = 3 }; /* timed runs that must all fail the check before it is a verdict */

/* How long a side waits for its turn before it sleeps: SPINS loads, then YIELDS times giving its
   core away. A side that sleeps makes the other's next hand-over a wake-up, 20-25 us here, which
   can outlast that side's own wait, so it sleeps too, and so on. With 50 yields the checked
   passes of a class submission built from csapp_explicit.c on the 11 CS:APP traces made about
   190,000 futex calls and took 2.7 s; with 400, about 12,000 and 1.1 s (a whole grade,
   idle: 4.4-5.1 s -> 2.9-3.9 s). While a timed pass runs the grader keeps yielding (PASS_YIELDS:
   2-4 ms alone) rather than sleep: waking a sleeper is a system call charged to the waker, 20-25 us
   of the agent's CPU time here (an interrupt to another core of a virtual machine), against 1-5 us
   for the whole stop when the grader is still awake; past that a pass is long enough to carry the
   wake-up. */
enum { SPINS = 4000, YIELDS = 400, PASS_YIELDS = 4000, WAIT_NANOSECONDS = 10 * 1000 * 1000 };
/* The agent's sleeps end after this at the latest (see wait_turn): longer than the grader's checks
   between a timed pass's end and the next (a wake-up in them would be charged to the agent's CPU
   time), short against a trace. */
enum { AGENT_WAIT_NANOSECONDS = 100 * 1000 * 1000 };
/* A yield that took longer than SLOW_YIELD_NS gave the core to another process for its slice: the
   machine's cores are all busy, and the other side, not running, is late by a slice at every
   yield. A side then sleeps at once (a sleeper woken preempts a busy process) for the next
   NO_YIELD_NS, and tries yielding again after: on a machine whose cores were held by busy loops
   a grade took 13-130 s yielding, against 0.3 s idle. */
enum { SLOW_YIELD_NS = 200 * 1000, NO_YIELD_NS = 100 * 1000 * 1000 };
/* A sleeper woken preempts a busy process only if the scheduler says so. Linux's EEVDF (6.6 on)
   lets a woken task of the default slice wait for the running one's slice to end: on one core
   shared with a busy loop a checked pass then waited a slice at every hand-over, 2 ms an op, and
   csapp_naive.c's binary2-bal took 101 s instead of 0.05 (CI once stopped it after 2,400 s). A
   task that asks for a short slice gets an early deadline and preempts when woken (6.12 on), so
   the grader asks for SHORT_SLICE_NS for itself and, by inheritance, for its agent: the same
   trace then took 0.6-1.3 s there. The request needs no privilege and changes nothing on an idle
   core. */
enum { SHORT_SLICE_NS = 100 * 1000 }; /* the shortest the kernel grants */

/* The link's wire format: the same bytes in a 64-bit and a 32-bit build, since the agent of a
   student's -m32 build (the CS:APP handout's) is a 32-bit msagent. Only fixed-width fields, each
   64-bit one aligned to 8 (a 32-bit build aligns them to 4 unless told), no pointer, no size_t,
   no bool; the public structures that cross (a trace's header and ops, the timed options and
   result), whose layouts differ between the two, cross as the wire copies below. The static
   assertions after them hold in both builds, or neither compiles. */
#define WIRE64 _Alignas(8)

typedef struct {
    WIRE64 uint64_t num_ops, weight, first_calloc, header[4];
    uint32_t num_ids;
    int32_t format;
    uint32_t ops_valid;
} wire_trace;

typedef struct { /* ms_op, whose size is 24 bytes in a 64-bit build and 20 in a 32-bit one */
    WIRE64 uint64_t size;
    uint32_t id, count, kind;
} wire_op;

typedef struct {
    uint32_t min_passes, max_passes;
    WIRE64 double min_seconds;
    uint32_t carry_heap, kernel_clock, leave_live, zero_each_pass;
} wire_timed_options;

typedef struct {
    uint32_t passes;
    WIRE64 ms_failure failure; /* fixed-width already: the same in both builds */
    char error[512];
    WIRE64 uint64_t highest_used;
    WIRE64 double counted_seconds;
} wire_timed_result;

/* Where things are in the link's mapping and what the agent needs to start: written by the
   grader before it starts the agent. */
typedef struct {
    WIRE64 uint64_t bytes;      /* the mapping's size */
    WIRE64 uint64_t log_at;     /* the pass's pointers, trace.num_ops of them (64-bit each) */
    WIRE64 uint64_t scratch_at; /* trace.num_ids + 1 pointers (the agent's own) */
    WIRE64 uint64_t seconds_at; /* max_passes + 1 doubles */
    WIRE64 uint64_t ops_at;     /* the trace's ops, wire_op; the agent makes them its ms_op.
                                   Written at the first timed call, never before: the checked
                                   passes, which utilization is made of, cannot read what is to
                                   come (a hidden trace's future, for an offline placement) */
    uint32_t max_passes;
    int32_t grader;             /* the grader's pid: an agent whose parent is another has lost it */
    wire_trace trace;           /* the trace's header */
    WIRE64 uint64_t heap_at;    /* the shared heap's address (mem_heap_lo) ... */
    WIRE64 uint64_t heap_bytes; /* ... and its size (mem_reserved) */
    uint32_t progress_at;       /* the timed engine's two progress words: index in the parent's */
    uint32_t denied_at;         /* the sandbox's denied word: index in the parent's */
} ms_link_layout;

struct ms_link {
    _Atomic uint32_t turn;     /* TURN_*: whose move it is (a futex word) */
    _Atomic uint32_t sleeping; /* 1 while a side may be asleep on turn: only then is it woken */
    uint32_t call;             /* the grader's request, CALL_* */
    uint32_t move;             /* the agent's move, MOVE_* */
    uint32_t pass;             /* MOVE_PASS_*: the pass */
    WIRE64 uint64_t arg[2];    /* the request's arguments */
    WIRE64 uint64_t brk;       /* the grader's break, sent with every request */
    WIRE64 uint64_t answer;    /* MOVE_ANSWER: the result; MOVE_SBRK: the increment */
    WIRE64 double seconds;     /* MOVE_PASS_END: the agent's clock for the pass */
    int32_t dialect;           /* MOVE_READY: the allocator's dialect */
    uint32_t has;              /* MOVE_READY: HAS_* */
    char said[512];            /* the agent's words: why loading failed, its heap checker's */
    wire_timed_options timed;  /* CALL_TIMED: the passes asked for */
    wire_timed_result timed_result; /* CALL_TIMED: the agent's account of a failure */
    ms_link_layout layout; /* the grader's, before the agent starts; the agent reads it once */
};

/* The sizes and offsets a 64-bit build gives: a 32-bit build must give the same. */
_Static_assert(sizeof(ms_failure) == 56 && offsetof(ms_failure, found) == 48,
               "ms_failure crosses the link as it is");
_Static_assert(sizeof(wire_op) == 24 && sizeof(wire_trace) == 72, "wire trace");
_Static_assert(sizeof(wire_timed_options) == 32 && sizeof(wire_timed_result) == 592,
               "wire timed options and result");
_Static_assert(sizeof(ms_link_layout) == 144 && offsetof(ms_link_layout, heap_at) == 120,
               "the link's layout");
_Static_assert(offsetof(struct ms_link, timed) == 584 && sizeof(struct ms_link) == 1352,
               "the link");

static wire_trace trace_to_wire(const ms_trace *t) {
    wire_trace w = {.num_ops = t->num_ops,
                    .weight = t->weight,
                    .first_calloc = t->first_calloc,
                    .num_ids = t->num_ids,
                    .format = t->format,
                    .ops_valid = t->ops_valid};
    memcpy(w.header, t->header, sizeof w.header);
    return w;
}

/* The agent's trace, its ops the wire's made ms_op in place: an ms_op is never larger than a
   wire_op, and op i is read before anything is written at or past its new place. */
static ms_trace trace_from_wire(const wire_trace *w, void *ops) {
    ms_trace t = {.ops = ops,
                  .num_ops = w->num_ops,
                  .num_ids = w->num_ids,
                  .format = w->format,
                  .weight = w->weight,
                  .ops_valid = w->ops_valid != 0,
                  .first_calloc = w->first_calloc};
    memcpy(t.header, w->header, sizeof t.header);
    _Static_assert(sizeof(ms_op) <= sizeof(wire_op), "ops made in place");
    const wire_op *from = ops;
    for (uint64_t i = 0; i < t.num_ops; i++) {
        wire_op op = from[i];
        t.ops[i] =
            (ms_op){.size = op.size, .id = op.id, .count = op.count, .kind = (uint8_t)op.kind};
    }
    return t;
}

static wire_timed_options options_to_wire(const ms_timed_options *o) {
    return (wire_timed_options){.min_passes = o->min_passes,
                                .max_passes = o->max_passes,
                                .min_seconds = o->min_seconds,
                                .carry_heap = o->carry_heap,
                                .kernel_clock = o->kernel_clock,
                                .leave_live = o->leave_live,
                                .zero_each_pass = o->zero_each_pass};
}

static wire_timed_result result_to_wire(const ms_timed_result *r) {
    wire_timed_result w = {.passes = r->passes,
                           .failure = r->failure,
                           .highest_used = r->highest_used,
                           .counted_seconds = r->counted_seconds};
    memcpy(w.error, r->error, sizeof w.error);
    return w;
}

static ms_timed_result result_from_wire(const wire_timed_result *w) {
    ms_timed_result r = {.passes = w->passes,
                         .failure = w->failure,
                         .highest_used = w->highest_used,
                         .counted_seconds = w->counted_seconds};
    memcpy(r.error, w->error, sizeof r.error);
    r.error[sizeof r.error - 1] = '\0';
    return r;
}

/* This process's side of the one link in use: the grader's or the agent's, each its own. */
static struct {
    ms_link *link;
    ms_link_layout layout; /* the grader's: what it made; the agent's: what it read at its start */
    uint64_t *log;         /* the pass's pointers, one per op (in the link's mapping) */
    void **scratch;        /* the agent's per-id pointers (in the link's mapping) */
    double *pass_seconds;  /* the agent's pass times (in the link's mapping) */
    /* The grader's alone. */
    int link_fd; /* the link's memfd, for the agent */
    pid_t agent; /* the agent's pid; 0 in the agent */
    clockid_t agent_clock;
    int agent_syscall; /* /proc/AGENT/syscall, open, to see the agent asleep */
    int status;        /* MS_LINK_*, the verdict on the agent */
    char *words;       /* the parent's progress words, as the agent maps them: whole pages */
    size_t words_bytes, words_used; /* their mapping's bytes; the memfd's own */
    bool ops_sent;     /* the trace's ops are in the link (sent with the first timed call) */
    uint64_t denied;   /* the first denied call the agent's sandbox wrote in its word, kept */
    char verdict[512]; /* the verdict's line; why loading failed */
    /* The agent's alone. */
    ms_allocator alloc;          /* the student's table */
    ms_trace trace;              /* the trace it times, its ops in the link's mapping */
    bool ops_made;               /* trace's ops made from the wire's (at the first timed call) */
    volatile uint64_t *progress; /* the timed engine's progress words, in the parent's */
    char *asserted; /* MS_ASSERT_BYTES after the parent's denied word, for a failed assert() */
    ms_before_load before; /* the process before the library loaded */
    /* Each side's own: until when (CLOCK_MONOTONIC, ns) it sleeps at once rather than yield. */
    int64_t no_yield_until;
} side = {.link_fd = -1, .agent_syscall = -1};

/* ------------------------------------------------------------- turns */

/* sched_setattr's argument (the C library has no wrapper, and <linux/sched/types.h> clashes with
   <sched.h>): the first version of the kernel's struct sched_attr. */
typedef struct {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period; /* runtime: a fair task's requested slice (6.12 on) */
} sched_request;

/* Ask for a short slice (see SHORT_SLICE_NS); a kernel that does not know the request ignores its
   runtime or refuses it, and the turns work as before, only slower on a busy core. */
static void request_short_slice(void) {
    sched_request request = {
        .size = sizeof request, .policy = SCHED_OTHER, .runtime = SHORT_SLICE_NS};
    (void)syscall(SYS_sched_setattr, 0, &request, 0);
}

static void futex(_Atomic uint32_t *word, int op, uint32_t value, const struct timespec *timeout) {
    syscall(SYS_futex, (uint32_t *)word, op, value, timeout, NULL, 0);
}

/* The turn passes; the other side is woken only if it went to sleep (a wake is a system call,
   and the other side is usually still spinning). The stores and loads here and in wait_turn are
   sequentially consistent, so one of the two always sees the other's. */
static void hand_over(ms_link *link, uint32_t to) {
    atomic_store(&link->turn, to);
    if (atomic_exchange(&link->sleeping, 0) != 0)
        futex(&link->turn, FUTEX_WAKE, 1, NULL);
}

/* The grader saw its agent die: end this process the same way (see the banner). */
static _Noreturn void die_as(int status) {
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        signal(sig, SIG_DFL);
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, sig);
        sigprocmask(SIG_UNBLOCK, &only, NULL);
        raise(sig);
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

static int64_t monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* How a side waits for its turn: for an answer to a call (SPINS loads, then up to YIELDS yields
   unless yields have been slow, then asleep), for a timed pass to end (SPINS, then PASS_YIELDS
   yields whatever they cost: a sleeping grader's wake-up would be charged to the pass), or
   asleep at once. */
typedef enum { WAIT_ANSWER, WAIT_PASS, WAIT_ASLEEP } wait_kind;

/* Wait until it is `mine` to move, as `kind` says. The grader looks for its agent's death every
   wait. */
static void wait_turn(ms_link *link, uint32_t mine, wait_kind kind) {
    for (int i = 0; kind != WAIT_ASLEEP && i < SPINS; i++)
        if (atomic_load_explicit(&link->turn, memory_order_acquire) == mine)
            return;
    /* Then give the core away a few times: on a machine whose cores are all busy, the other
       side may be waiting for this one's. */
    int yields = kind == WAIT_PASS ? PASS_YIELDS : kind == WAIT_ANSWER ? YIELDS : 0;
    int64_t before = yields > 0 ? monotonic_ns() : 0; /* asleep at once: no clock to read */
    if (kind == WAIT_ANSWER && before < side.no_yield_until)
        yields = 0;
    for (int i = 0; i < yields; i++) {
        sched_yield();
        if (atomic_load_explicit(&link->turn, memory_order_acquire) == mine)
            return;
        int64_t after = monotonic_ns();
        if (kind == WAIT_ANSWER && after - before > SLOW_YIELD_NS) {
            side.no_yield_until = after + NO_YIELD_NS;
            break;
        }
        before = after;
    }
    /* Both sides sleep with a timeout: the grader to look for its agent's death, the agent
       because a wake-up has been lost. A grader and its agent were once found both asleep for
       minutes, the turn the agent's, the agent asleep on the grader's turn (a checked pass in
       `.ci/run`; earlier, CI's 40-minute binary2-bal, and correct submissions of a class stopped
       as hung after 5-20 s at no CPU time). How the wake-up was lost is not understood; with the
       timeout it costs AGENT_WAIT_NANOSECONDS, not the trace. */
    const struct timespec wait = {0, side.agent > 0 ? WAIT_NANOSECONDS : AGENT_WAIT_NANOSECONDS};
    for (;;) {
        atomic_store(&link->sleeping, 1);
        if (atomic_load(&link->turn) == mine)
            return;
        futex(&link->turn, FUTEX_WAIT, mine ^ 1u, &wait);
        if (atomic_load(&link->turn) == mine)
            return;
        int status;
        if (side.agent > 0 && waitpid(side.agent, &status, WNOHANG) == side.agent)
            die_as(status);
    }
}

/* ------------------------------------------------------------ the link */

static size_t align_up(size_t n) { return (n + 15) / 16 * 16; }

/* This process's pointers into the link's mapping, from its own copy of the layout. */
static void point_into(ms_link *link) {
    char *base = (char *)link;
    side.link = link;
    side.log = (uint64_t *)(base + side.layout.log_at);
    side.scratch = (void **)(base + side.layout.scratch_at);
    side.pass_seconds = (double *)(base + side.layout.seconds_at);
}

/*
 * The link's first page holds what passes on every call; the timed passes' areas (log, scratch,
 * seconds, ops) start on the next page, and the link's file reaches them only at the first timed
 * call (watch_passes): until then the agent's mapping of them is past the file's end, and a touch
 * there ends it with SIGBUS. Its checked passes, which utilization and the global-data rule are
 * measured on, kept an allocator's state in those unused megabytes (red-team pass 46).
 */
static size_t head_bytes(void) { return (size_t)sysconf(_SC_PAGESIZE); }
_Static_assert(sizeof(ms_link) <= 4096, "the link's head fits its first page");

/*
 * Before every call: the bytes of the link's first page that carry nothing from one call to the
 * next, cleared (the agent's words, the timed call's options and result, the layout it read once
 * at its start, the page's rest). An allocator kept 14 list heads and a ballast in `said` from
 * call to call, 512 bytes no count of its global data saw (red-team pass 46: 80.0 -> 100.0 under
 * CMU's rule); cleared, nothing there outlives the call it was written in. What the grader reads
 * of them (a checker's message, the team record) it reads before its next call.
 */
static void clear_between_calls(ms_link *link) {
    memset(&link->pass, 0, offsetof(ms_link, arg) - offsetof(ms_link, pass)); /* and its padding */
    link->answer = 0; /* a free's answer is not read: it would carry 8 bytes to the next call */
    memset(&link->seconds, 0, side.layout.log_at - offsetof(ms_link, seconds)); /* the head */
    /* And so for the progress words' page (the agent maps it whole): the room for a failed
       assert()'s message, read only once the agent has died of it, and the page past the words,
       read by no one, kept 504 bytes of an allocator's state where the link's `said` had (red-
       team pass 46). */
    if (side.words != NULL) {
        memset(side.words + 8 * ((size_t)side.layout.denied_at + 1), 0, MS_ASSERT_BYTES);
        memset(side.words + side.words_used, 0, side.words_bytes - side.words_used);
    }
}

ms_link *ms_link_create(const ms_trace *trace, uint32_t max_passes, ms_error *err) {
    memset(err, 0, sizeof *err);
    ms_link_layout layout = {.max_passes = max_passes, .trace = trace_to_wire(trace)};
    layout.log_at = head_bytes();
    layout.scratch_at = layout.log_at + align_up((size_t)trace->num_ops * sizeof(uint64_t));
    layout.seconds_at = layout.scratch_at + align_up(((size_t)trace->num_ids + 1) * sizeof(void *));
    layout.ops_at = layout.seconds_at + align_up(((size_t)max_passes + 1) * sizeof(double));
    layout.bytes = layout.ops_at + align_up((size_t)trace->num_ops * sizeof(wire_op));
    layout.grader = (int32_t)getpid();
    layout.heap_at = (uintptr_t)mem_heap_lo();
    layout.heap_bytes = mem_reserved();
    int fd = memfd_create("mallocsim-link", MFD_CLOEXEC);
    char *p = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, (off_t)layout.log_at) == 0) /* the head: see head_bytes */
        p = mmap(NULL, layout.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        snprintf(err->message, sizeof err->message, "no memory for the agent's link: %s",
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    ms_link *link = (ms_link *)p;
    link->layout = layout;
    side = (__typeof__(side)){.layout = layout, .link_fd = fd, .agent_syscall = -1};
    point_into(link);
    atomic_store(&link->turn, TURN_AGENT); /* the agent moves first: ready, or refused */
    return link;
}

void ms_link_destroy(ms_link *link) {
    if (link == NULL)
        return;
    munmap(link, side.layout.bytes);
    if (side.words != NULL)
        munmap(side.words, side.words_bytes);
    side.words = NULL;
    if (side.link_fd >= 0)
        close(side.link_fd);
    side.link_fd = -1;
    side.link = NULL;
}

int ms_link_status(const ms_link *link) {
    (void)link;
    return side.status;
}

const char *ms_link_message(const ms_link *link) {
    (void)link;
    return side.verdict;
}

/* The grader's verdict that the agent broke the protocol (or its timing): its answers are void,
   the agent is stopped. */
__attribute__((format(printf, 2, 3))) static void condemn(int status, const char *fmt, ...) {
    if (side.status != MS_LINK_OK)
        return;
    side.status = status;
    va_list args;
    va_start(args, fmt);
    vsnprintf(side.verdict, sizeof side.verdict, fmt, args);
    va_end(args);
    if (side.agent > 0)
        kill(side.agent, SIGKILL);
}

/* ------------------------------------------------------------ the agent */

/* The agent's descriptors, as ms_agent_spawn leaves them for msagent. */
enum { AGENT_LINK_FD = 3, AGENT_HEAP_FD = 4, AGENT_WORDS_FD = 5, AGENT_FIRST_FREE_FD = 6 };

/* In the forked child that could not become the agent: errno and what failed, on the report
   descriptor, then exit. Async-signal-safe. */
static _Noreturn void spawn_failed(int report, const char *what) {
    int code = errno;
    ssize_t ignored = write(report, &code, sizeof code);
    ignored = write(report, what, strlen(what));
    (void)ignored;
    _exit(127);
}

int ms_agent_spawn(ms_link *link, const ms_agent_setup *setup, ms_error *err) {
    memset(err, 0, sizeof *err);
    char dialect[16], cpu[32];
    snprintf(dialect, sizeof dialect, "%d", setup->dialect);
    snprintf(cpu, sizeof cpu, "%.0f", setup->cpu_seconds < 1 ? 1.0 : setup->cpu_seconds + 1);
    char *argv[] = {
        (char *)setup->program, (char *)setup->library, dialect, (char *)setup->options, cpu, NULL};
    char *envp[] = {NULL}; /* nothing of the grader's environment: no LD_PRELOAD, no paths */
    link->layout.progress_at = setup->progress_at;
    link->layout.denied_at = setup->denied_at;
    side.layout = link->layout;
    struct stat words;
    if (fstat(setup->words_fd, &words) != 0 ||
        (uint64_t)words.st_size < 8 * ((uint64_t)setup->denied_at + 1) + MS_ASSERT_BYTES) {
        snprintf(err->message, sizeof err->message, "the progress words are too short");
        return -1;
    }
    size_t page = head_bytes();
    side.words_used = (size_t)words.st_size;
    side.words_bytes = (side.words_used + page - 1) / page * page;
    side.words =
        mmap(NULL, side.words_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, setup->words_fd, 0);
    if (side.words == MAP_FAILED) {
        side.words = NULL;
        snprintf(err->message, sizeof err->message, "cannot map the progress words: %s",
                 strerror(errno));
        return -1;
    }
    /* The child writes errno here when it cannot become the agent; an exec closes it unwritten.
       A failed start is the grader's, not the allocator's: said as such, never graded (a class
       run graded every student after one that made msagent unexecutable 0, and cached the 0:
       red-team pass 10). */
    int started[2];
    if (pipe2(started, O_CLOEXEC) != 0) {
        snprintf(err->message, sizeof err->message, "cannot start the allocator's process: %s",
                 strerror(errno));
        return -1;
    }
    request_short_slice(); /* before the fork: the agent inherits it, and needs it no less */
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err->message, sizeof err->message, "cannot start the allocator's process: %s",
                 strerror(errno));
        close(started[0]);
        close(started[1]);
        return -1;
    }
    if (pid == 0) { /* only async-signal-safe calls until the exec */
        /* First out of the way, above the agent's descriptors: a source may be one of the
           numbers it is dup2'ed onto. In a grader with few descriptors open (the CLI, a class's
           grade per process) the progress words' memfd was 3: the link, dup2'ed onto 3 first,
           replaced it, and the agent mapped the link as its words. Its timed passes' progress
           and the call the sandbox denied then never reached the watching parent. */
        int link_fd = fcntl(side.link_fd, F_DUPFD, AGENT_FIRST_FREE_FD);
        int heap_fd = fcntl(mem_share_fd(), F_DUPFD, AGENT_FIRST_FREE_FD);
        int words_fd = fcntl(setup->words_fd, F_DUPFD, AGENT_FIRST_FREE_FD);
        int null = open("/dev/null", O_RDWR);
        int output =
            setup->output_fd >= 0 ? fcntl(setup->output_fd, F_DUPFD, AGENT_FIRST_FREE_FD) : null;
        int report = fcntl(started[1], F_DUPFD_CLOEXEC, AGENT_FIRST_FREE_FD);
        if (link_fd < 0 || heap_fd < 0 || words_fd < 0 || null < 0 || output < 0 || report < 0 ||
            dup2(null, 0) < 0 || dup2(output, 1) < 0 || dup2(output, 2) < 0 ||
            dup2(link_fd, AGENT_LINK_FD) < 0 || dup2(heap_fd, AGENT_HEAP_FD) < 0 ||
            dup2(words_fd, AGENT_WORDS_FD) < 0)
            spawn_failed(report < 0 ? started[1] : report, "setting up its descriptors");
        /* Everything from here up but the report, which the exec closes. */
        syscall(SYS_close_range, AGENT_FIRST_FREE_FD, (unsigned)report - 1, 0);
        syscall(SYS_close_range, (unsigned)report + 1, ~0U, 0);
        execve(setup->program, argv, envp);
        spawn_failed(report, setup->program);
    }
    close(started[1]);
    int code = 0;
    ssize_t n;
    char where[200] = "";
    while ((n = read(started[0], &code, sizeof code)) < 0 && errno == EINTR)
        ;
    if (n == (ssize_t)sizeof code) {
        ssize_t named = read(started[0], where, sizeof where - 1);
        where[named > 0 ? named : 0] = '\0';
    }
    close(started[0]);
    if (n <= 0)
        return pid; /* the exec closed the report: the agent runs */
    int status;
    waitpid(pid, &status, 0);
    snprintf(err->message, sizeof err->message,
             "the grader cannot start the allocator's process (%s: %s): check the installation",
             where, strerror(code));
    return -1;
}

/* The agent could not start or load the allocator: tell the grader why, then exit. */
static _Noreturn void agent_refuse(ms_link *link, const char *why) {
    snprintf(link->said, sizeof link->said, "%s", why);
    link->move = MOVE_REFUSED;
    hand_over(link, TURN_GRADER);
    _exit(0);
}

/* memlib's mem_sbrk, in the agent: the grader moves the break. */
static void *ask_grader(intptr_t incr) {
    ms_link *link = side.link;
    link->answer = (uint64_t)incr;
    link->move = MOVE_SBRK;
    hand_over(link, TURN_GRADER);
    wait_turn(link, TURN_AGENT, WAIT_ANSWER);
    return (void *)(uintptr_t)link->answer;
}

/* The engine's pass boundaries, in the agent: stop, and let the grader look. */
static void at_boundary(void *context, uint32_t pass, bool ended, double seconds) {
    ms_link *link = context;
    link->pass = pass;
    link->seconds = seconds;
    link->move = ended ? MOVE_PASS_END : MOVE_PASS_START;
    hand_over(link, TURN_GRADER);
    /* Asleep at once, neither spinning nor yielding: the grader reads this process's CPU time
       only once it sleeps (agent_cpu_seconds), and a spin here would be counted as the pass's.
       The fall asleep and the wake-up are counted: TIMING_SLACK_PER_PASS covers them. */
    wait_turn(link, TURN_AGENT, WAIT_ASLEEP);
}

static uint64_t agent_timed(ms_link *link) {
    wire_timed_options asked = link->timed;
    ms_timed_options options = {.min_passes = asked.min_passes,
                                .max_passes = asked.max_passes,
                                .min_seconds = asked.min_seconds,
                                .carry_heap = asked.carry_heap != 0,
                                .progress = side.progress,
                                .log = side.log,
                                .boundary = at_boundary,
                                .context = link,
                                .scratch = side.scratch,
                                .kernel_clock = asked.kernel_clock != 0,
                                .leave_live = asked.leave_live != 0,
                                .zero_each_pass = asked.zero_each_pass != 0};
    if (options.max_passes > side.layout.max_passes)
        options.max_passes = side.layout.max_passes;
    if (!side.ops_made) {
        side.trace = trace_from_wire(&side.layout.trace, (char *)link + side.layout.ops_at);
        side.ops_made = true;
    }
    mem_follow_within((size_t)link->arg[0]);
    ms_timed_result result;
    uint32_t passes =
        ms_replay_timed(&side.trace, &side.alloc, &options, side.pass_seconds, &result);
    link->timed_result = result_to_wire(&result);
    mem_follow(ask_grader);
    return passes;
}

/* The CS:APP team record (the lab adapter's ms_lab_team: five strings), each field cut to
   MS_TEAM_FIELD_BYTES - 1 bytes, into the link's words; 0 when the library has none. */
static uint64_t agent_team(ms_link *link) {
    _Static_assert(MS_TEAM_FIELDS * MS_TEAM_FIELD_BYTES <= sizeof link->said, "no room for it");
    const char *const *(*record)(void) = NULL;
    void *symbol = side.alloc.handle != NULL ? dlsym(side.alloc.handle, "ms_lab_team") : NULL;
    if (symbol == NULL)
        return 0;
    memcpy(&record, &symbol, sizeof record); /* a data pointer to a function pointer, as dlsym's */
    const char *const *fields = record();
    memset(link->said, 0, sizeof link->said);
    for (int i = 0; i < MS_TEAM_FIELDS; i++) {
        char *field = link->said + i * MS_TEAM_FIELD_BYTES;
        if (fields[i] != NULL)
            snprintf(field, MS_TEAM_FIELD_BYTES, "%s", fields[i]);
        else
            field[1] = MS_TEAM_FIELD_NULL; /* after an empty string's terminator */
    }
    return 1;
}

static uint64_t agent_call(ms_link *link) {
    const ms_allocator *alloc = &side.alloc;
    uint64_t a = link->arg[0], b = link->arg[1];
    switch (link->call) {
    case CALL_INIT:
        return (uint64_t)engine_init(alloc);
    case CALL_MALLOC:
        return (uintptr_t)alloc->malloc(engine_request_bytes(a));
    case CALL_FREE:
        alloc->free((void *)(uintptr_t)a);
        return 0;
    case CALL_REALLOC:
        return (uintptr_t)alloc->realloc((void *)(uintptr_t)a, engine_request_bytes(b));
    case CALL_CALLOC:
        return (uintptr_t)alloc->calloc(engine_request_bytes(a), engine_request_bytes(b));
    case CALL_CHECKHEAP: {
        bool fine = engine_checkheap(alloc, a);
        const char *said = alloc->checkheap_message != NULL ? alloc->checkheap_message() : NULL;
        snprintf(link->said, sizeof link->said, "%s", said != NULL ? said : "");
        return fine;
    }
    case CALL_TIMED:
        return agent_timed(link);
    case CALL_TEAM:
        return agent_team(link);
    default: /* no request of ours */
        _exit(1);
    }
}

static _Noreturn void asserted(const char *file, unsigned int line, const char *function,
                               const char *what, const char *subject);

/* After each call (a whole timed run is one): the bytes past the library's variables, past
   every other object's, and the spare static TLS, as the pattern left them, or the agent ends as
   a failed assertion of a form the watching parent names (isolate.py: "wrote past the end of its
   global data", "... of another library's data", "wrote into the spare static TLS", "wrote into
   a variable of another library's that it does not use"). */
static void check_data_tail(void) {
    data_tail_state tail = data_tail_check();
    if (tail.changed == 0)
        return;
    char detail[256];
    if (tail.owner == DATA_TAIL_STATIC_TLS) {
        snprintf(detail, sizeof detail, "%zu of its %zu bytes changed, from +%zu", tail.changed,
                 tail.bytes, tail.first);
    } else if (tail.owner == DATA_TAIL_WATCH) {
        snprintf(detail, sizeof detail, "its %zu bytes read as given back to the kernel",
                 tail.bytes);
    } else if (tail.owner == DATA_TAIL_UNUSED) {
        snprintf(detail, sizeof detail, "%s: %zu of its %zu bytes changed, from +%zu", tail.object,
                 tail.changed, tail.bytes, tail.first);
    } else { /* its own variables, or another object's: named by its file (the agent's: "") */
        const char *slash = tail.object != NULL ? strrchr(tail.object, '/') : NULL;
        const char *name = tail.owner == DATA_TAIL_OWN ? NULL
                           : tail.object[0] == '\0'    ? "the agent"
                           : slash != NULL             ? slash + 1
                                                       : tail.object;
        char whose[128];
        snprintf(whose, sizeof whose, "%s%s", name == NULL ? "its" : name,
                 name == NULL ? "" : "'s");
        snprintf(detail, sizeof detail,
                 "%zu of the %zu bytes after %s last variable changed, from +%zu", tail.changed,
                 tail.bytes, whose, tail.first);
    }
    /* Whose it was is in the file field, which the parent reads; the detail is only shown. */
    static const char *const field[] = {[DATA_TAIL_OWN] = "(global data)",
                                        [DATA_TAIL_LIBRARY] = "(library data)",
                                        [DATA_TAIL_STATIC_TLS] = "(thread data)",
                                        [DATA_TAIL_UNUSED] = "(unused data)",
                                        [DATA_TAIL_WATCH] = "(watch data)"};
    asserted(field[tail.owner], 0, NULL, "%s", detail);
}

/* The agent's loop: seal it (the link holds everything it needs), start the allocator (the first
   of its code to run: its constructors were deferred to here, ms_allocator_load), then serve the
   grader's requests until it is stopped. */
static _Noreturn void agent_serve(ms_link *link, const char *library, const char *options) {
    ms_error err;
    /* None kept: the link, the heap and the progress words are mapped, its output is 1 and 2. */
    const char *changed = ms_sandbox_after_load(&side.before, NULL, 0);
    if (changed != NULL) {
        char why[sizeof link->said];
        snprintf(why, sizeof why, "its library %s as it loaded", changed);
        agent_refuse(link, why);
    }
    if (!ms_sandbox_seal(&err))
        agent_refuse(link, err.message);
    mem_follow(ask_grader);
    if (!ms_allocator_start(&side.alloc, library, options, &err))
        agent_refuse(link, err.message);
    const ms_allocator *alloc = &side.alloc;
    link->dialect = alloc->dialect;
    link->has =
        (alloc->calloc != NULL ? HAS_CALLOC : 0) | (alloc->checkheap != NULL ? HAS_CHECKHEAP : 0);
    link->move = MOVE_READY;
    for (;;) {
        hand_over(link, TURN_GRADER);
        wait_turn(link, TURN_AGENT, WAIT_ANSWER);
        mem_follow_brk((size_t)link->brk);
        uint64_t answer = agent_call(link);
        check_data_tail();
        link->answer = answer;
        link->move = MOVE_ANSWER;
    }
}

/* The link's mapping, whose size its own first page says; NULL when it cannot be mapped. */
static ms_link *map_link(int fd) {
    ms_link *head = mmap(NULL, sizeof(ms_link), PROT_READ, MAP_SHARED, fd, 0);
    if (head == MAP_FAILED)
        return NULL;
    size_t bytes = (size_t)head->layout.bytes;
    munmap(head, sizeof(ms_link));
    ms_link *link = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return link == MAP_FAILED ? NULL : link;
}

_Noreturn void ms_agent_run(const char *library, int dialect, const char *options,
                            double cpu_seconds) {
    ms_link *link = map_link(AGENT_LINK_FD);
    if (link == NULL)
        _exit(126);
    side.layout = link->layout; /* read once: nothing later in this process changes it for us */
    point_into(link);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != side.layout.grader) /* the grader died before the line above */
        _exit(1);
    char why[sizeof link->said];
    struct stat words_file;
    volatile uint64_t *words = MAP_FAILED;
    if (fstat(AGENT_WORDS_FD, &words_file) == 0 &&
        (uint64_t)words_file.st_size >= 8 * ((uint64_t)side.layout.progress_at + 2) &&
        (uint64_t)words_file.st_size >= 8 * ((uint64_t)side.layout.denied_at + 1) + MS_ASSERT_BYTES)
        words = mmap(NULL, (size_t)words_file.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                     AGENT_WORDS_FD, 0);
    if (words == MAP_FAILED)
        agent_refuse(link, "the allocator's process cannot map its parent's progress words");
    side.progress = words + side.layout.progress_at;
    side.asserted = (char *)(uintptr_t)(words + side.layout.denied_at + 1);
    void *heap = (void *)(uintptr_t)side.layout.heap_at;
    if (!mem_join(AGENT_HEAP_FD, heap, (size_t)side.layout.heap_bytes)) {
        snprintf(why, sizeof why, "the allocator's process cannot map the heap at %p: %s", heap,
                 strerror(errno));
        agent_refuse(link, why);
    }
    close(AGENT_LINK_FD);
    close(AGENT_HEAP_FD);
    close(AGENT_WORDS_FD);
    struct rlimit cpu = {(rlim_t)cpu_seconds, (rlim_t)cpu_seconds + 1};
    /* The stack at most what a driver's process gets by default, and no more later: the agent may
       set its own limits, and raised to unlimited the stack held 64 MiB of tables off the heap
       (red-team pass 11; within these 8 MiB it is still unmeasured, as the drivers leave it). */
    struct rlimit stack = {AGENT_STACK_BYTES, AGENT_STACK_BYTES};
    ms_error err = {{0}, 0};
    if (setrlimit(RLIMIT_CPU, &cpu) != 0 || setrlimit(RLIMIT_STACK, &stack) != 0 ||
        !ms_sandbox_enter((uint64_t *)(words + side.layout.denied_at), &err))
        agent_refuse(link, err.message[0] != '\0' ? err.message : "cannot limit its CPU time");
    /* No Landlock (an old kernel): the filters above still hold, but reads are not confined. */
    if (ms_sandbox_landlock_abi() > 0 && !ms_sandbox_confine_agent(library, &err))
        agent_refuse(link, err.message);
    /* The grader notes this process's memory now, then lets the library load: what the loading
       takes shows against it (watch_loading), and what constructors run at load take (a library
       the grader did not build: a student's mm.c has its constructors run sealed). */
    ms_sandbox_note_before_load(&side.before);
    link->move = MOVE_LOADING;
    hand_over(link, TURN_GRADER);
    wait_turn(link, TURN_AGENT, WAIT_ASLEEP);
    if (!ms_allocator_load(library, dialect, &side.alloc, &err))
        agent_refuse(link, err.message);
    (void)data_tail_guard(side.alloc.handle); /* before any of its code runs */
    agent_serve(link, library, options);
}

/*
 * assert() in the agent, and in any program of the engine's (this library comes before the C
 * library in their search order, so the student's library binds to it). glibc's __assert_fail
 * builds its message with malloc, whose mmap the sealed agent may not make, and writes it to a
 * stderr the agent does not have: a failed assertion was reported as "tried to take memory from
 * the kernel (mmap)" (lab check pass 4). These leave the message where the watching parent reads
 * it ("assertion failed at op N ..., as the allocator's assert() put it: mm.c:146: f: Assertion
 * `x' failed."), or on stderr outside an agent, and abort, as glibc's do.
 */
static _Noreturn void asserted(const char *file, unsigned int line, const char *function,
                               const char *what, const char *subject) {
    char message[MS_ASSERT_BYTES];
    int at = snprintf(message, sizeof message, "%s:%u: %s%s", file, line,
                      function != NULL ? function : "", function != NULL ? ": " : "");
    if (at >= 0 && (size_t)at < sizeof message)
        snprintf(message + at, sizeof message - (size_t)at, what, subject);
    if (side.asserted != NULL) {
        memcpy(side.asserted, message, sizeof message);
    } else {
        size_t length = strlen(message);
        message[length] = '\n';
        (void)!write(STDERR_FILENO, message, length + 1 < sizeof message ? length + 1 : length);
    }
    abort();
}

void __assert_fail(const char *assertion, const char *file, unsigned int line, const char *function)
    __attribute__((noreturn));
void __assert_fail(const char *assertion, const char *file, unsigned int line,
                   const char *function) {
    asserted(file, line, function, "Assertion `%s' failed.", assertion);
}

/* assert_perror(errnum)'s, glibc's extension (red-team pass 9: still reported as an mmap). */
void __assert_perror_fail(int errnum, const char *file, unsigned int line, const char *function)
    __attribute__((noreturn));
void __assert_perror_fail(int errnum, const char *file, unsigned int line, const char *function) {
    asserted(file, line, function, "Unexpected error: %s.", strerror(errnum));
}

/* ----------------------------------------------------------- the grader */

/* memlib's answer to the agent's mem_sbrk, from this process's heap. */
static void serve_sbrk(ms_link *link) {
    void *old = mem_sbrk((intptr_t)link->answer);
    link->answer = (uint64_t)(uintptr_t)old;
}

/* The progress words around the engine's (the phase before them, the timed pass after the op
   index), which the agent maps writable and no one rewrites between calls: as they were when the
   call was handed over, put back once it is answered. An allocator kept 16 bytes of its state
   there from call to call, unseen by the count of its global data (red-team pass 47). The op
   index the engine writes before each op; the timed engine writes the three within its call.
   The denied word, which the agent's sandbox writes as it refuses a call, holds the first value
   written there from then on: state kept there ends in a verdict (pass 47's F2b kept 8 bytes in
   it through the checked passes and cleared it before the end). */
typedef struct {
    uint64_t phase, timed_pass;
} kept_words;

/* The engine's progress words in the grader's mapping of them (the phase at [-1], the op index
   at [0], the timed pass at [1]); NULL when they are not mapped, or have no phase before them. */
static volatile uint64_t *engine_words(void) {
    if (side.words == NULL || side.layout.progress_at == 0)
        return NULL;
    return (volatile uint64_t *)side.words + side.layout.progress_at;
}

static kept_words words_kept(void) {
    volatile uint64_t *engine = engine_words();
    return engine != NULL ? (kept_words){engine[-1], engine[1]} : (kept_words){0, 0};
}

static void words_put_back(kept_words kept) {
    volatile uint64_t *engine = engine_words();
    if (engine == NULL)
        return;
    engine[-1] = kept.phase;
    engine[1] = kept.timed_pass;
    volatile uint64_t *denied = (volatile uint64_t *)side.words + side.layout.denied_at;
    if (side.denied == 0)
        side.denied = *denied;
    *denied = side.denied;
}

/* Send a request and wait for its answer, serving the agent's mem_sbrk calls in between. */
static uint64_t request(uint32_t call, uint64_t a, uint64_t b) {
    ms_link *link = side.link;
    if (side.status != MS_LINK_OK)
        return 0;
    clear_between_calls(link);
    kept_words kept = words_kept();
    link->call = call;
    link->arg[0] = a;
    link->arg[1] = b;
    link->brk = mem_heapsize();
    hand_over(link, TURN_AGENT);
    for (;;) {
        wait_turn(link, TURN_GRADER, WAIT_ANSWER);
        uint32_t move = link->move;
        if (move == MOVE_ANSWER) {
            words_put_back(kept);
            return link->answer;
        }
        if (move != MOVE_SBRK) {
            condemn(MS_LINK_VIOLATED,
                    "the allocator's process broke the grader's protocol (move %u during a call)",
                    move);
            return 0;
        }
        serve_sbrk(link);
        hand_over(link, TURN_AGENT);
    }
}

static int stub_init_int(void) { return (int)(int64_t)request(CALL_INIT, 0, 0); }
static bool stub_init_bool(void) { return request(CALL_INIT, 0, 0) != 0; }
static void *stub_malloc(size_t size) { return (void *)(uintptr_t)request(CALL_MALLOC, size, 0); }
static void stub_free(void *ptr) { request(CALL_FREE, (uintptr_t)ptr, 0); }
static void *stub_realloc(void *ptr, size_t size) {
    return (void *)(uintptr_t)request(CALL_REALLOC, (uintptr_t)ptr, size);
}
static void *stub_calloc(size_t count, size_t size) {
    return (void *)(uintptr_t)request(CALL_CALLOC, count, size);
}
/* The engine calls this with its own argument for the dialect; the agent recomputes it. */
static int stub_checkheap(int arg) { return request(CALL_CHECKHEAP, (uint64_t)arg, 0) != 0; }
/* The agent's message, copied and ended here: it may rewrite its own copy at any time. */
static const char *stub_checkheap_message(void) {
    static char said[sizeof side.link->said];
    memcpy(said, side.link->said, sizeof said);
    said[sizeof said - 1] = '\0';
    return said;
}

/* The agent's CPU time, in seconds, read once it is off its CPU; false when it could not be.
   The kernel brings another process's CPU clock up to date only when that process is scheduled
   out (or at a tick): read while the agent still runs, the clock lags by up to a tick (4 ms
   here, more than most passes). /proc/PID/syscall answers "running" until the task is truly
   inactive (the kernel waits for it to leave its CPU before it answers anything else), which
   the state letter of /proc/PID/stat does not promise. The agent sleeps at once at every stop,
   so the wait is short; an agent that hands over and keeps running is stopped by the caller's
   time limit. */
static bool agent_cpu_seconds(double *seconds) {
    char state[16];
    for (unsigned tries = 1;; tries++) {
        ssize_t n = pread(side.agent_syscall, state, sizeof state, 0);
        if (n <= 0) {
            int status;
            if (waitpid(side.agent, &status, WNOHANG) == side.agent)
                die_as(status);
            condemn(MS_LINK_VIOLATED, "the allocator's process hid its state from the grader (%s)",
                    n < 0 ? strerror(errno) : "nothing to read");
            return false;
        }
        if (n < 7 || memcmp(state, "running", 7) != 0)
            break;
        if (tries % 64 == 0)
            sched_yield(); /* on a busy machine the agent may be waiting for this core */
    }
    struct timespec t;
    clock_gettime(side.agent_clock, &t);
    *seconds = (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
    return true;
}

/* False, with the verdict: this machine does not let the grader read `path` (errno says why),
   which it needs for `purpose`. */
static bool cannot_watch(const char *path, const char *purpose) {
    snprintf(side.verdict, sizeof side.verdict,
             "cannot watch the allocator's process (%s: %s): the grader needs it to verify %s",
             path, strerror(errno), purpose);
    side.status = MS_LINK_LOAD_FAILED;
    return false;
}

/* Before the library loads (the agent is still ours): the grader's watch on the agent's state,
   or false with the verdict saying why this machine does not allow it. */
static bool watch_agent(void) {
    char path[64], state[16];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)side.agent);
    side.agent_syscall = open(path, O_RDONLY | O_CLOEXEC);
    if (side.agent_syscall >= 0 && pread(side.agent_syscall, state, sizeof state, 0) > 0)
        return true;
    return cannot_watch(path, "the timed passes");
}

/* What the grader sees of a process's memory from /proc. */
typedef struct {
    uint64_t private_bytes; /* VmData and VmStk: a MAP_GROWSDOWN mapping is counted in VmStk, and
                               held 256 MiB taken by a constructor unseen (red-team pass 11) */
    uint64_t shared_bytes;  /* the address space of its shared mappings (an 's' in maps), which
                               VmData leaves out */
    long long filters;      /* its stack of seccomp filters; -1 where the kernel does not say */
} memory_view;

/* pid's memory into *view; false, with errno and `path` saying which file, when /proc would not
   show it (an undumpable process's maps are unreadable to a grader that is not root). */
static bool view_memory(pid_t pid, memory_view *view, char path[64]) {
    char line[512];
    unsigned long long kib = 0, total = 0, lo, hi;
    char perms[8];
    snprintf(path, 64, "/proc/%d/status", (int)pid);
    FILE *status = fopen(path, "r");
    if (status == NULL)
        return false;
    view->filters = -1;
    while (fgets(line, sizeof line, status) != NULL)
        if (sscanf(line, "VmData: %llu kB", &kib) == 1 || sscanf(line, "VmStk: %llu kB", &kib) == 1)
            total += kib;
        else
            (void)sscanf(line, "Seccomp_filters: %lld", &view->filters);
    fclose(status);
    view->private_bytes = (uint64_t)total * 1024;
    snprintf(path, 64, "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "r");
    if (maps == NULL)
        return false;
    view->shared_bytes = 0;
    while (fgets(line, sizeof line, maps) != NULL)
        if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 && perms[3] == 's' && hi > lo)
            view->shared_bytes += hi - lo;
    fclose(maps);
    return true;
}

/* The agent is loading the library, and the constructors of one the grader did not build with it:
   they may take memory from the kernel before the seal (a student's mm.c has its constructors run
   after it), which its private memory then shows beyond the library's own data, and
   its shared mappings beyond none (a raw mmap of MAP_SHARED memory, which VmData does not count,
   held a red-team allocator's whole bookkeeping off the heap). What the grader cannot see fails
   the agent: a red-team agent made itself undumpable, and a watch that skipped the unreadable
   passed it (pass 14). */
static bool watch_loading(ms_link *link, uint64_t own_data) {
    memory_view before, after;
    char path[64];
    if (!view_memory(side.agent, &before, path)) /* msagent's own: this machine's doing */
        return cannot_watch(path, "what its library takes");
    hand_over(link, TURN_AGENT);
    wait_turn(link, TURN_GRADER, WAIT_ANSWER);
    if (link->move != MOVE_READY)
        return true; /* refused, or a violation: said below */
    if (!view_memory(side.agent, &after, path)) {
        condemn(MS_LINK_VIOLATED,
                "hid its memory from the grader while its library loaded (%s: %s)", path,
                strerror(errno));
        return false;
    }
    /* The kernel's word for it that the seal took: one filter more than before the load, as
       msagent stacks it. A library that answered the seal's installation with success, by a
       filter of its own, ran sealed calls unsealed (red-team pass 39); the agent refuses a
       filter installed as its library loaded, and this holds a seal skipped otherwise. */
    if (before.filters >= 0 && after.filters != before.filters + 1) {
        /* More: the library's own, installed once sealed, as its constructors ran. No allocator
           needs one, and one that answers the agent's calls is the grader's to rule out. */
        condemn(MS_LINK_VIOLATED,
                after.filters > before.filters + 1
                    ? "installed a system-call filter of its own (seccomp): its process has %lld "
                      "system-call filters where the sandbox stacks %lld"
                    : "was not sealed: its process has %lld system-call filters where the sandbox "
                      "stacks %lld",
                after.filters, before.filters + 1);
        return false;
    }
    if (after.shared_bytes > before.shared_bytes) {
        condemn(MS_LINK_MEMORY,
                "mapped %.1f MiB of shared memory while its library loaded: the sandbox allows "
                "only the driver's heap",
                (double)(after.shared_bytes - before.shared_bytes) / (1 << 20));
        return false;
    }
    uint64_t grown =
        after.private_bytes > before.private_bytes ? after.private_bytes - before.private_bytes : 0;
    if (grown <= own_data + LOADING_SLACK)
        return true;
    condemn(MS_LINK_MEMORY,
            "took %.1f MiB of memory from the kernel while its library loaded, %.1f MiB more "
            "than the library's own data: the sandbox allows only the driver's heap",
            (double)grown / (1 << 20), (double)(grown - own_data) / (1 << 20));
    return false;
}

bool ms_link_attach(ms_link *link, int agent_pid, uint64_t own_data, ms_allocator *out) {
    side.link = link;
    side.agent = agent_pid;
    side.agent_syscall = -1;
    if (clock_getcpuclockid(agent_pid, &side.agent_clock) != 0)
        side.agent_clock = CLOCK_MONOTONIC; /* never on Linux; a wall clock still bounds */
    wait_turn(link, TURN_GRADER, WAIT_ANSWER);
    if (link->move == MOVE_LOADING && !(watch_agent() && watch_loading(link, own_data)))
        return false;
    if (link->move == MOVE_REFUSED) {
        memcpy(side.verdict, link->said, sizeof side.verdict);
        side.verdict[sizeof side.verdict - 1] = '\0';
        side.status = MS_LINK_LOAD_FAILED;
        return false;
    }
    if (link->move != MOVE_READY) {
        condemn(MS_LINK_VIOLATED,
                "the allocator's process broke the grader's protocol "
                "(move %u instead of ready)",
                link->move);
        return false;
    }
    int dialect = link->dialect == MS_DIALECT_CMU ? MS_DIALECT_CMU : MS_DIALECT_CLASSIC;
    *out = (ms_allocator){
        .dialect = dialect,
        .init = dialect == MS_DIALECT_CMU ? (void *)(uintptr_t)stub_init_bool
                                          : (void *)(uintptr_t)stub_init_int,
        .malloc = stub_malloc,
        .free = stub_free,
        .realloc = stub_realloc,
        .calloc = (link->has & HAS_CALLOC) ? stub_calloc : NULL,
        .checkheap = (link->has & HAS_CHECKHEAP) ? stub_checkheap : NULL,
        .checkheap_kind = MS_CHECKHEAP_INT,
        .checkheap_message = stub_checkheap_message,
    };
    return true;
}

/* The grader's view of the timed passes as they run. */
typedef struct {
    ms_link *link;
    const ms_trace *trace;
    const ms_check_options *check;
    uint64_t granted;
    size_t checked_bytes; /* the heap file as the checked passes left it (mem_share_used_past) */
    /* What a pass's claim may fall short of its count before the count less it stands for the
       claim (pass_ended): TIMING_SLACK_PER_PASS where the passes are a grade's time; with
       kernel_clock, PASS_CLAIM_SLACK (below). */
    double floor_slack;
    double started;       /* the agent's CPU clock when the running pass started */
    uint32_t passes;      /* timed passes seen to end, checked */
    double claimed;       /* the seconds the agent claimed for them, each taken as at most
                             the pass's count and before the floor pass_ended sets */
    double counted;       /* the CPU seconds the kernel counted for them */
    double *pass_seconds; /* the caller's room */
    ms_timed_result *result;
    uint64_t *log;     /* the pass that ended: the grader's copy of its log */
    uint64_t *checked; /* the last log found valid */
    bool checked_once; /* whether `checked` holds one */
} timed_watch;

/* A pass ended: check its pointers and note its times; false when it failed the check. */
static bool pass_ended(timed_watch *w) {
    ms_link *link = w->link;
    double ended;
    if (!agent_cpu_seconds(&ended))
        return false;
    double counted = ended - w->started;
    uint32_t pass = link->pass;
    double seconds = link->seconds;
    /* The log is copied before it is read: the agent shares it, and a check must not race. A
       log the same as the last one checked has the same verdict (the check depends on nothing
       else), and a deterministic allocator's passes from mm_init all give the same log: only
       a pass that answered differently is checked again. */
    size_t bytes = (size_t)w->trace->num_ops * sizeof(uint64_t);
    memcpy(w->log, side.log, bytes);
    ms_check_result check;
    bool valid = w->checked_once && memcmp(w->log, w->checked, bytes) == 0;
    if (!valid) {
        valid = ms_verify_pointers(w->trace, w->log, w->check, (uintptr_t)mem_heap_lo(), w->granted,
                                   &check);
        if (valid) { /* this log is now the one checked: keep it, reuse the other's room */
            if (check.highest_used > w->result->highest_used)
                w->result->highest_used = check.highest_used;
            uint64_t *room = w->checked;
            w->checked = w->log;
            w->log = room;
            w->checked_once = true;
        }
    }
    if (!valid) {
        ms_timed_result *r = w->result;
        r->failure = check.failure;
        r->failure.timed_pass = pass;
        snprintf(r->error, sizeof r->error, "%s", check.error);
        return false;
    }
    if (pass == 0) /* the untimed warm-up pass of carried passes */
        return true;
    if (w->passes >= side.layout.max_passes || pass != w->passes + 1) {
        condemn(MS_LINK_VIOLATED,
                "the allocator's process broke the grader's protocol (pass %u out of order)", pass);
        return false;
    }
    /* The engine's clock gives a finite difference of two reads, never negative (a monotonic
       clock): anything else was written over it. A NaN passed every comparison below, and the
       trace then dropped out of T and out of the clock check (red-team pass 16: 363 -> 286,373
       Kops/s, 68.6 -> 84.4; a counted grade's uncounted work believed). */
    if (!isfinite(seconds) || seconds < 0) {
        condemn(MS_LINK_TIMING,
                "the allocator's process claimed %g s for timed pass %u: no clock gives that, "
                "the timing was tampered with",
                seconds, pass);
        return false;
    }
    /* A pass is graded at no less than the kernel's count of it, less what its stops cost
       (TIMING_SLACK_PER_PASS): the claims are graded by their median, and a check of their sum
       alone let a few claims of 30 times a pass cover many of 0.1 us (red-team pass 5: 159 ->
       56,940,000 Kops/s); a floor of the count less 200 us let passes shorter than that be
       claimed as nothing, the sum's allowance (500 us) covering four of them where one long pass
       of the allocator's own making ended the run after five (red-team pass 15: 30,611 ->
       10,100,607 Kops/s). An honest pass's wall clock is at least its CPU time, less what the
       stops around it cost: 3.0-7.3 us on average (short1-bal, syn-struct-short, under a load of
       2), more now and then, which the median passes over. */
    double least = (counted - w->floor_slack) / TIMING_SLACK_RATIO;
    w->pass_seconds[w->passes++] = seconds < least ? least : seconds;
    /* A claim covers its own pass's count, no more: time a pass spent off the CPU (an honest
       wall clock's) is no cover for another pass. Summed whole, one claim of 1.5 times the
       others' hidden time covered nine of 0.1 us, which the median then graded (red-team pass
       14: passes under PASS_CLAIM_SLACK, 30,639 -> 9,999,924 Kops/s). */
    w->claimed += seconds < counted ? seconds : counted;
    w->counted += counted;
    return true;
}

/* The timed passes, watched: ms_link_timed with the watch's room allocated. */
static uint32_t watch_passes(timed_watch *w, const ms_timed_options *options) {
    ms_link *link = w->link;
    ms_timed_result *result = w->result;
    memset(result, 0, sizeof *result);
    result->failure = engine_failure(MS_FAIL_NONE, MS_ID_NULL, 0);
    if (side.status != MS_LINK_OK || side.agent_syscall < 0 || !mem_share_grant(w->granted))
        return 0;
    if (!side.ops_sent) { /* only now: the checked passes, which utilization is made of, are over */
        if (ftruncate(side.link_fd, (off_t)side.layout.bytes) != 0) {
            condemn(MS_LINK_VIOLATED, "no memory for the timed passes' link: %s", strerror(errno));
            return 0;
        }
        wire_op *ops = (wire_op *)((char *)link + side.layout.ops_at);
        for (uint64_t i = 0; i < w->trace->num_ops; i++) {
            const ms_op *op = &w->trace->ops[i];
            ops[i] =
                (wire_op){.size = op->size, .id = op->id, .count = op->count, .kind = op->kind};
        }
        side.ops_sent = true;
    }
    link->timed = options_to_wire(options);
    link->call = CALL_TIMED;
    link->arg[0] = w->granted;
    link->brk = 0;
    hand_over(link, TURN_AGENT);
    for (;;) {
        wait_turn(link, TURN_GRADER, WAIT_PASS);
        uint32_t move = link->move;
        if (move == MOVE_PASS_START) {
            if (!agent_cpu_seconds(&w->started))
                return 0;
        } else if (move == MOVE_PASS_END) {
            if (!pass_ended(w)) {
                kill(side.agent, SIGKILL);
                return 0;
            }
        } else if (move == MOVE_ANSWER) {
            break;
        } else {
            condemn(MS_LINK_VIOLATED,
                    "the allocator's process broke the grader's protocol (move %u in a timed pass)",
                    move);
            return 0;
        }
        hand_over(link, TURN_AGENT);
    }
    uint64_t passes = link->answer;
    if (passes == 0) { /* the agent's account of its own failure: it can only hurt it */
        *result = result_from_wire(&link->timed_result);
        result->passes = 0;
        result->highest_used = 0; /* the grader's figure only */
        return 0;
    }
    if (passes != w->passes) {
        condemn(MS_LINK_VIOLATED,
                "the allocator's process claimed %llu timed passes; the grader saw %u end",
                (unsigned long long)passes, w->passes);
        return 0;
    }
    /* The timed passes may use the lab's whole heap limit; memory they used past the checked
       passes' heap is heap, blocks in it or not: 4 MiB of an index kept 14 MiB up, only when
       not checked, took a CS:APP implicit list from 68.0 to 88.9 with no block placed past the
       checked heap (red-team pass 22). The seal keeps the agent from giving such pages back
       (MADV_REMOVE). Touched pages within a page of the blocks' end are the blocks' own (a
       bump allocator's last block's page): the blocks' end says it to the byte. */
    size_t used = mem_share_used_past(w->checked_bytes), page = mem_pagesize();
    if (used > (result->highest_used + page - 1) / page * page + page)
        result->highest_used = used;
    result->passes = w->passes;
    return w->passes;
}

/* Whether the agent's claims fall short of the CPU time the kernel counted by more than 2%,
   `per_pass` a pass and TIMING_SLACK_SECONDS. With TIMING_SLACK_PER_PASS: the claims do not cover
   the count, and the passes are timed again. With PASS_CLAIM_SLACK, three tries running: short by
   more than any pass's stops can explain, a forged clock, for a verdict; less than that, load can
   do (16 us a pass of 3.4 us, three tries running, with other work on both cores), and the passes
   keep the grades pass_ended gave them, each at no less than its count less a stop's usual cost. */
static bool claims_short(const timed_watch *w, double per_pass) {
    return w->counted >
           w->claimed * TIMING_SLACK_RATIO + per_pass * w->passes + TIMING_SLACK_SECONDS;
}

uint32_t ms_link_timed(ms_link *link, const ms_trace *trace, const ms_timed_options *options,
                       const ms_check_options *check, double *pass_seconds,
                       ms_timed_result *result) {
    size_t bytes = ((size_t)trace->num_ops + 1) * sizeof(uint64_t);
    timed_watch w = {.link = link,
                     .trace = trace,
                     .check = check,
                     .granted = mem_limit(),
                     /* before any grant: the heap file as the checked passes left it */
                     .checked_bytes = mem_share_granted(),
                     /* A counted grade's passes feed only the clock check, whose reference is
                        timed with no stops, in a process of its own: there the count less 8 us
                        put a loaded machine's stops into a 16-op trace's seconds (53 instructions
                        an op taken for 865); and a claim short of the count gives way to the
                        count whole (kernel_clock) */
                     .floor_slack =
                         options->kernel_clock ? PASS_CLAIM_SLACK : TIMING_SLACK_PER_PASS,
                     .pass_seconds = pass_seconds,
                     .result = result,
                     .log = malloc(bytes),
                     .checked = malloc(bytes)};
    uint32_t passes = 0;
    if (w.log == NULL || w.checked == NULL)
        condemn(MS_LINK_VIOLATED, "out of memory to check the timed passes");
    /* A burst the kernel charges the agent outside its passes would fail an honest allocator
       (seen once, in the test suite on a machine whose two cores ran four busy processes: an
       honest 16-op trace, 39 ms counted against 0.25 ms claimed); a forged clock fails every
       time. So the passes are timed again before the verdict, which needs every try to fail. */
    for (int tries = 1; w.log != NULL && w.checked != NULL; tries++) {
        w.passes = 0;
        w.claimed = w.counted = 0;
        passes = watch_passes(&w, options);
        if (passes == 0 || !claims_short(&w, TIMING_SLACK_PER_PASS))
            break;
        if (options->kernel_clock) { /* no verdict: the caller takes the kernel's count */
            result->counted_seconds = w.counted;
            break;
        }
        if (tries == TIMING_TRIES &&
            !claims_short(&w, PASS_CLAIM_SLACK)) { /* graded as the floors say */
            result->counted_seconds = w.counted;
            break;
        }
        if (tries == TIMING_TRIES) {
            condemn(MS_LINK_TIMING,
                    "the timed passes claimed %.6f s, but the kernel counted %.6f s of CPU time "
                    "in them (%d tries): the timing was tampered with",
                    w.claimed, w.counted, tries);
            result->passes = passes = 0;
            break;
        }
    }
    free(w.log);
    free(w.checked);
    return passes;
}

bool ms_link_team(ms_link *link, char *fields) {
    if (request(CALL_TEAM, 0, 0) == 0 || side.status != MS_LINK_OK)
        return false;
    for (int i = 0; i < MS_TEAM_FIELDS; i++) { /* each ended where the agent should have */
        memcpy(fields + i * MS_TEAM_FIELD_BYTES, link->said + i * MS_TEAM_FIELD_BYTES,
               MS_TEAM_FIELD_BYTES);
        fields[(i + 1) * MS_TEAM_FIELD_BYTES - 1] = '\0';
    }
    return true;
}

void ms_link_stop(ms_link *link) {
    (void)link;
    if (side.agent <= 0)
        return;
    kill(side.agent, SIGKILL); /* it has nothing left to say, and no say in how it ends */
    int status;
    waitpid(side.agent, &status, 0);
    side.agent = 0;
    if (side.agent_syscall >= 0)
        close(side.agent_syscall);
    side.agent_syscall = -1;
}
