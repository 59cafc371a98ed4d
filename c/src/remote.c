/*
 * remote.c - a student's allocator in a process of its own, and the grader that checks it.
 *
 * Nothing a student's code writes can change a verdict if the verdict is made where it cannot
 * write. The grader (this engine: the checker, the heap's break, the clock that bounds the
 * timing) keeps its own process; the allocator runs in another, the agent, forked after the heap
 * was shared (memlib's mem_share: a memfd at the same address in both) and sandboxed before it
 * loads the code. The two share only the heap's pages and one link:
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
 *                   one pointer for everything fails here; a pass that claims less time than
 *                   the kernel counted for it is reported as tampered timing.
 *
 * Turns: one futex word says whose move it is; the mover writes its request or answer, hands
 * the turn over and waits (spinning briefly, then sleeping). Everything the agent writes is
 * read once, as data: a pointer the checker verifies, a status the engine judges. An agent that
 * writes what no agent of ours would (an unknown move, a pass out of order) is marked
 * MS_LINK_VIOLATED, its answers void. An agent that dies is died of: the grader ends the same
 * way (signal or status), so the process watching the grader (isolate.py) reports the death as
 * it would have reported the allocator's in one process, with the op and pass the shared
 * progress words hold. The agent dies with the grader (PR_SET_PDEATHSIG).
 *
 * One link at a time per process: the stubs the engine calls have the allocator's signatures,
 * no context argument, so they find the link in this file's state.
 */
#include "engine.h"
#include "mallocsim.h"
#include "memlib.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
    CALL_TIMED
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

/* How long a side waits for its turn before it sleeps: SPINS loads, then YIELDS times giving its
   core away. While a timed pass runs the grader keeps yielding (PASS_YIELDS: 2-4 ms alone) rather
   than sleep: waking a sleeper is a system call charged to the waker, 20-25 us of the agent's CPU
   time here (an interrupt to another core of a virtual machine), against 1-5 us for the whole
   stop when the grader is still awake; past that a pass is long enough to carry the wake-up. */
enum { SPINS = 4000, YIELDS = 50, PASS_YIELDS = 4000, WAIT_NANOSECONDS = 10 * 1000 * 1000 };

struct ms_link {
    _Atomic uint32_t turn;     /* TURN_*: whose move it is (a futex word) */
    _Atomic uint32_t sleeping; /* 1 while a side may be asleep on turn: only then is it woken */
    uint32_t call;             /* the grader's request, CALL_* */
    uint32_t move;             /* the agent's move, MOVE_* */
    uint32_t pass;             /* MOVE_PASS_*: the pass */
    uint64_t arg[2];           /* the request's arguments */
    uint64_t brk;              /* the grader's break, sent with every request */
    uint64_t answer;           /* MOVE_ANSWER: the result; MOVE_SBRK: the increment */
    double seconds;            /* MOVE_PASS_END: the agent's clock for the pass */
    int32_t dialect;           /* MOVE_READY: the allocator's dialect */
    uint32_t has;              /* MOVE_READY: HAS_* */
    int status;                /* MS_LINK_*, the grader's verdict on the agent */
    char message[512];         /* the checker's message; why loading failed; the verdict's line */
    ms_timed_options timed;    /* CALL_TIMED: the passes asked for */
    ms_timed_result timed_result; /* CALL_TIMED: the agent's account of a failure */
    uint64_t num_ops;             /* entries in log */
    uint32_t num_ids;             /* entries in scratch */
    uint32_t max_passes;          /* entries in seconds */
    size_t bytes;                 /* the mapping's size */
    uintptr_t *log;               /* the pass's pointers, one per op (inside this mapping) */
    void **scratch;               /* the agent's per-id pointers (inside this mapping) */
    double *pass_seconds;         /* the agent's pass times (inside this mapping) */
};

/* This process's side of the one link in use. */
static struct {
    ms_link *link;
    pid_t agent; /* the grader: the agent's pid; 0 in the agent */
    clockid_t agent_clock;
    int agent_syscall;         /* the grader: /proc/AGENT/syscall, open, to see the agent asleep */
    const ms_allocator *alloc; /* the agent: the student's table */
    const ms_trace *trace;     /* the agent: the trace it times */
} side;

/* ------------------------------------------------------------- turns */

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

/* Wait until it is `mine` to move, spinning `spins` times and then yielding the core a few times
   before sleeping (none of that with spins 0: asleep at once). The grader looks for its agent's
   death every wait. */
static void wait_turn(ms_link *link, uint32_t mine, int spins, int yields) {
    for (int i = 0; i < spins; i++)
        if (atomic_load_explicit(&link->turn, memory_order_acquire) == mine)
            return;
    /* Then give the core away a few times: on a machine whose cores are all busy, the other
       side may be waiting for this one's. */
    for (int i = 0; i < yields; i++) {
        sched_yield();
        if (atomic_load_explicit(&link->turn, memory_order_acquire) == mine)
            return;
    }
    const struct timespec wait = {0, WAIT_NANOSECONDS};
    for (;;) {
        atomic_store(&link->sleeping, 1);
        if (atomic_load(&link->turn) == mine)
            return;
        futex(&link->turn, FUTEX_WAIT, mine ^ 1u, side.agent > 0 ? &wait : NULL);
        if (atomic_load(&link->turn) == mine)
            return;
        int status;
        if (side.agent > 0 && waitpid(side.agent, &status, WNOHANG) == side.agent)
            die_as(status);
    }
}

/* ------------------------------------------------------------ the link */

static size_t align_up(size_t n) { return (n + 15) / 16 * 16; }

ms_link *ms_link_create(const ms_trace *trace, uint32_t max_passes, ms_error *err) {
    memset(err, 0, sizeof *err);
    size_t head = align_up(sizeof(ms_link));
    size_t log = align_up((size_t)trace->num_ops * sizeof(uintptr_t));
    size_t scratch = align_up(((size_t)trace->num_ids + 1) * sizeof(void *));
    size_t seconds = align_up(((size_t)max_passes + 1) * sizeof(double));
    size_t bytes = head + log + scratch + seconds;
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(err->message, sizeof err->message, "no memory for the agent's link: %s",
                 strerror(errno));
        return NULL;
    }
    ms_link *link = (ms_link *)p;
    memset(link, 0, sizeof *link);
    link->bytes = bytes;
    link->num_ops = trace->num_ops;
    link->num_ids = trace->num_ids;
    link->max_passes = max_passes;
    link->log = (uintptr_t *)(p + head);
    link->scratch = (void **)(p + head + log);
    link->pass_seconds = (double *)(p + head + log + scratch);
    atomic_store(&link->turn, TURN_AGENT); /* the agent moves first: ready, or refused */
    return link;
}

void ms_link_destroy(ms_link *link) {
    if (link != NULL)
        munmap(link, link->bytes);
}

int ms_link_status(const ms_link *link) { return link->status; }

const char *ms_link_message(const ms_link *link) { return link->message; }

/* The grader's verdict that the agent broke the protocol (or its timing): its answers are void,
   the agent is stopped. */
__attribute__((format(printf, 3, 4))) static void condemn(ms_link *link, int status,
                                                          const char *fmt, ...) {
    if (link->status != MS_LINK_OK)
        return;
    link->status = status;
    va_list args;
    va_start(args, fmt);
    vsnprintf(link->message, sizeof link->message, fmt, args);
    va_end(args);
    if (side.agent > 0)
        kill(side.agent, SIGKILL);
}

/* ------------------------------------------------------------ the agent */

void ms_agent_begin(void) {
    pid_t grader = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != grader) /* the grader died before the line above */
        _exit(1);
}

void ms_agent_loading(ms_link *link) {
    link->move = MOVE_LOADING;
    hand_over(link, TURN_GRADER);
    wait_turn(link, TURN_AGENT, 0, 0);
}

void ms_agent_refuse(ms_link *link, const char *why) {
    snprintf(link->message, sizeof link->message, "%s", why);
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
    wait_turn(link, TURN_AGENT, SPINS, YIELDS);
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
    wait_turn(link, TURN_AGENT, 0, 0);
}

static uint64_t agent_timed(ms_link *link) {
    ms_timed_options options = link->timed;
    options.log = link->log;
    options.boundary = at_boundary;
    options.context = link;
    options.scratch = link->scratch;
    if (options.max_passes > link->max_passes)
        options.max_passes = link->max_passes;
    mem_follow_within((size_t)link->arg[0]);
    uint32_t passes =
        ms_replay_timed(side.trace, side.alloc, &options, link->pass_seconds, &link->timed_result);
    mem_follow(ask_grader);
    return passes;
}

static uint64_t agent_call(ms_link *link) {
    const ms_allocator *alloc = side.alloc;
    uint64_t a = link->arg[0], b = link->arg[1];
    switch (link->call) {
    case CALL_INIT:
        return (uint64_t)engine_init(alloc);
    case CALL_MALLOC:
        return (uintptr_t)alloc->malloc((size_t)a);
    case CALL_FREE:
        alloc->free((void *)(uintptr_t)a);
        return 0;
    case CALL_REALLOC:
        return (uintptr_t)alloc->realloc((void *)(uintptr_t)a, (size_t)b);
    case CALL_CALLOC:
        return (uintptr_t)alloc->calloc((size_t)a, (size_t)b);
    case CALL_CHECKHEAP: {
        bool fine = engine_checkheap(alloc, a);
        const char *said = alloc->checkheap_message != NULL ? alloc->checkheap_message() : NULL;
        snprintf(link->message, sizeof link->message, "%s", said != NULL ? said : "");
        return fine;
    }
    case CALL_TIMED:
        return agent_timed(link);
    default: /* no request of ours */
        _exit(1);
    }
}

void ms_agent_serve(ms_link *link, const ms_allocator *alloc, const ms_trace *trace) {
    /* Everything the agent needs from here on is in the link or on its stack. */
    ms_error err;
    if (!ms_sandbox_seal_memory(&err))
        ms_agent_refuse(link, err.message);
    side.link = link;
    side.alloc = alloc;
    side.trace = trace;
    mem_follow(ask_grader);
    link->dialect = alloc->dialect;
    link->has =
        (alloc->calloc != NULL ? HAS_CALLOC : 0) | (alloc->checkheap != NULL ? HAS_CHECKHEAP : 0);
    link->move = MOVE_READY;
    for (;;) {
        hand_over(link, TURN_GRADER);
        wait_turn(link, TURN_AGENT, SPINS, YIELDS);
        mem_follow_brk((size_t)link->brk);
        uint64_t answer = agent_call(link);
        link->answer = answer;
        link->move = MOVE_ANSWER;
    }
}

/* ----------------------------------------------------------- the grader */

/* memlib's answer to the agent's mem_sbrk, from this process's heap. */
static void serve_sbrk(ms_link *link) {
    void *old = mem_sbrk((intptr_t)link->answer);
    link->answer = (uint64_t)(uintptr_t)old;
}

/* Send a request and wait for its answer, serving the agent's mem_sbrk calls in between. */
static uint64_t request(uint32_t call, uint64_t a, uint64_t b) {
    ms_link *link = side.link;
    if (link->status != MS_LINK_OK)
        return 0;
    link->call = call;
    link->arg[0] = a;
    link->arg[1] = b;
    link->brk = mem_heapsize();
    hand_over(link, TURN_AGENT);
    for (;;) {
        wait_turn(link, TURN_GRADER, SPINS, YIELDS);
        uint32_t move = link->move;
        if (move == MOVE_ANSWER)
            return link->answer;
        if (move != MOVE_SBRK) {
            condemn(link, MS_LINK_VIOLATED,
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
    static char said[sizeof side.link->message];
    memcpy(said, side.link->message, sizeof said);
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
static bool agent_cpu_seconds(ms_link *link, double *seconds) {
    char state[16];
    for (unsigned tries = 1;; tries++) {
        ssize_t n = pread(side.agent_syscall, state, sizeof state, 0);
        if (n <= 0) {
            int status;
            if (waitpid(side.agent, &status, WNOHANG) == side.agent)
                die_as(status);
            condemn(link, MS_LINK_VIOLATED,
                    "the allocator's process hid its state from the grader (%s)",
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

/* Before the library loads (the agent is still ours): the grader's watch on the agent's state,
   or false with the link's message saying why this machine does not allow it. */
static bool watch_agent(ms_link *link) {
    char path[64], state[16];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)side.agent);
    side.agent_syscall = open(path, O_RDONLY | O_CLOEXEC);
    if (side.agent_syscall >= 0 && pread(side.agent_syscall, state, sizeof state, 0) > 0)
        return true;
    snprintf(link->message, sizeof link->message,
             "cannot watch the allocator's process (%s: %s): the grader needs it to verify the "
             "timed passes",
             path, strerror(errno));
    link->status = MS_LINK_LOAD_FAILED;
    return false;
}

/* The process's private writable memory (VmData), in bytes; 0 when unreadable. */
static uint64_t private_memory(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *status = fopen(path, "r");
    if (status == NULL)
        return 0;
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, status) != NULL)
        if (sscanf(line, "VmData: %llu kB", &kib) == 1)
            break;
    fclose(status);
    return (uint64_t)kib * 1024;
}

/* The agent is loading the library, its constructors with it: they may take memory from the
   kernel before the seal, which its private memory then shows beyond the library's own data. */
static bool watch_loading(ms_link *link, uint64_t own_data) {
    uint64_t before = private_memory(side.agent);
    hand_over(link, TURN_AGENT);
    wait_turn(link, TURN_GRADER, SPINS, YIELDS);
    if (link->move != MOVE_READY)
        return true; /* refused, or a violation: said below */
    uint64_t after = private_memory(side.agent);
    uint64_t grown = after > before ? after - before : 0;
    if (before == 0 || grown <= own_data + LOADING_SLACK)
        return true;
    condemn(link, MS_LINK_MEMORY,
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
    wait_turn(link, TURN_GRADER, SPINS, YIELDS);
    if (link->move == MOVE_LOADING && !(watch_agent(link) && watch_loading(link, own_data)))
        return false;
    if (link->move == MOVE_REFUSED) {
        link->message[sizeof link->message - 1] = '\0';
        link->status = MS_LINK_LOAD_FAILED;
        return false;
    }
    if (link->move != MOVE_READY) {
        condemn(link, MS_LINK_VIOLATED,
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
    double started;       /* the agent's CPU clock when the running pass started */
    uint32_t passes;      /* timed passes seen to end, checked */
    double claimed;       /* the seconds the agent claimed for them */
    double counted;       /* the CPU seconds the kernel counted for them */
    double *pass_seconds; /* the caller's room */
    ms_timed_result *result;
    uintptr_t *log;     /* the pass that ended: the grader's copy of its log */
    uintptr_t *checked; /* the last log found valid */
    bool checked_once;  /* whether `checked` holds one */
} timed_watch;

/* A pass ended: check its pointers and note its times; false when it failed the check. */
static bool pass_ended(timed_watch *w) {
    ms_link *link = w->link;
    double ended;
    if (!agent_cpu_seconds(link, &ended))
        return false;
    double counted = ended - w->started;
    uint32_t pass = link->pass;
    double seconds = link->seconds;
    /* The log is copied before it is read: the agent shares it, and a check must not race. A
       log the same as the last one checked has the same verdict (the check depends on nothing
       else), and a deterministic allocator's passes from mm_init all give the same log: only
       a pass that answered differently is checked again. */
    size_t bytes = (size_t)w->trace->num_ops * sizeof(uintptr_t);
    memcpy(w->log, link->log, bytes);
    ms_check_result check;
    bool valid = w->checked_once && memcmp(w->log, w->checked, bytes) == 0;
    if (!valid) {
        valid = ms_verify_pointers(w->trace, w->log, w->check, (uintptr_t)mem_heap_lo(), w->granted,
                                   &check);
        if (valid) { /* this log is now the one checked: keep it, reuse the other's room */
            uintptr_t *room = w->checked;
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
    if (w->passes >= link->max_passes || pass != w->passes + 1) {
        condemn(link, MS_LINK_VIOLATED,
                "the allocator's process broke the grader's protocol (pass %u out of order)", pass);
        return false;
    }
    w->pass_seconds[w->passes++] = seconds;
    w->claimed += seconds;
    w->counted += counted;
    return true;
}

/* The timed passes, watched: ms_link_timed with the watch's room allocated. */
static uint32_t watch_passes(timed_watch *w, const ms_timed_options *options) {
    ms_link *link = w->link;
    ms_timed_result *result = w->result;
    memset(result, 0, sizeof *result);
    result->failure = engine_failure(MS_FAIL_NONE, MS_ID_NULL, 0);
    if (link->status != MS_LINK_OK || side.agent_syscall < 0 || !mem_share_grant(w->granted))
        return 0;
    link->timed = *options;
    link->timed.log = NULL;
    link->timed.boundary = NULL;
    link->timed.context = NULL;
    link->timed.scratch = NULL;
    link->call = CALL_TIMED;
    link->arg[0] = w->granted;
    link->brk = 0;
    hand_over(link, TURN_AGENT);
    for (;;) {
        wait_turn(link, TURN_GRADER, SPINS, PASS_YIELDS);
        uint32_t move = link->move;
        if (move == MOVE_PASS_START) {
            if (!agent_cpu_seconds(link, &w->started))
                return 0;
        } else if (move == MOVE_PASS_END) {
            if (!pass_ended(w)) {
                kill(side.agent, SIGKILL);
                return 0;
            }
        } else if (move == MOVE_ANSWER) {
            break;
        } else {
            condemn(link, MS_LINK_VIOLATED,
                    "the allocator's process broke the grader's protocol (move %u in a timed pass)",
                    move);
            return 0;
        }
        hand_over(link, TURN_AGENT);
    }
    uint64_t passes = link->answer;
    if (passes == 0) { /* the agent's account of its own failure: it can only hurt it */
        *result = link->timed_result;
        result->error[sizeof result->error - 1] = '\0';
        result->passes = 0;
        return 0;
    }
    if (passes != w->passes) {
        condemn(link, MS_LINK_VIOLATED,
                "the allocator's process claimed %llu timed passes; the grader saw %u end",
                (unsigned long long)passes, w->passes);
        return 0;
    }
    if (w->counted > w->claimed * TIMING_SLACK_RATIO + TIMING_SLACK_PER_PASS * w->passes +
                         TIMING_SLACK_SECONDS) {
        condemn(link, MS_LINK_TIMING,
                "the timed passes claimed %.6f s, but the kernel counted %.6f s of CPU time in "
                "them: the timing was tampered with",
                w->claimed, w->counted);
        return 0;
    }
    result->passes = w->passes;
    return w->passes;
}

uint32_t ms_link_timed(ms_link *link, const ms_trace *trace, const ms_timed_options *options,
                       const ms_check_options *check, double *pass_seconds,
                       ms_timed_result *result) {
    size_t bytes = ((size_t)trace->num_ops + 1) * sizeof(uintptr_t);
    timed_watch w = {.link = link,
                     .trace = trace,
                     .check = check,
                     .granted = mem_limit(),
                     .pass_seconds = pass_seconds,
                     .result = result,
                     .log = malloc(bytes),
                     .checked = malloc(bytes)};
    uint32_t passes = 0;
    if (w.log == NULL || w.checked == NULL)
        condemn(link, MS_LINK_VIOLATED, "out of memory to check the timed passes");
    else
        passes = watch_passes(&w, options);
    free(w.log);
    free(w.checked);
    return passes;
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
