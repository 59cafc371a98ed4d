/*
 * mallocsim.h - the native core's public API: traces, allocators, replay.
 *
 * This header is the single source of truth for the Python driver: its cdef
 * is read from the text between the CDEF-BEGIN and CDEF-END markers, so that
 * part holds only plain C declarations (no macros, no #if, no attributes).
 * Whenever a declaration there changes, MS_ABI_VERSION changes too; the
 * driver refuses a library whose ms_abi_version() differs from its own, since
 * a stale cdef would crash instead of failing to compile.
 *
 * Memory per op: a parsed trace costs sizeof(ms_op) = 24 bytes an op; a
 * replay adds a fixed cost per trace id (pointer, size, overlap-tree node).
 */
#ifndef MALLOCSIM_MALLOCSIM_H
#define MALLOCSIM_MALLOCSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CDEF-BEGIN */

int ms_abi_version(void);

/* ---------------------------------------------------------------- errors */

typedef struct {
    char message[512]; /* one line, no trailing newline; "" when none */
    uint64_t line;     /* 1-based line of the trace file, 0 when none */
} ms_error;

/* ----------------------------------------------------------------- traces */

enum {
    MS_OP_ALLOC = 0,   /* a <id> <size>           p[id] = malloc(size) */
    MS_OP_FREE = 1,    /* f <id>                  free(p[id]) */
    MS_OP_REALLOC = 2, /* r <id> <size>           p[id] = realloc(p[id], size) */
    MS_OP_CALLOC = 3   /* c <id> <count> <size>   p[id] = calloc(count, size) */
};

enum {
    MS_ID_NULL = 4294967295 /* the id of "f -1": free(NULL) */
};

/* How a trace file is read. Ours is strict: every a and r line has its size, and the file has
   exactly the header's number of ops. The CMU drivers read with fscanf, and their handouts'
   traces rely on two of its readings (the 2013-2015 handout's alaska.rep, lrucd.rep, nlydf.rep,
   qyqyc.rep, rulsr.rep), which a lab profile asks for: */
enum {
    MS_READ_STRICT = 0,
    MS_READ_CARRY_SIZE = 1,   /* an a or r line without a size takes the size read last */
    MS_READ_STOP_AT_COUNT = 2 /* lines past the header's op count are not read */
};

enum {
    MS_FORMAT_CLASSIC = 0, /* header: heap size, ids, ops, weight */
    MS_FORMAT_CMU = 1,     /* header: weight, ids, ops, peak live bytes */
    MS_FORMAT_SCRIPT = 2   /* no header, '#' comments (CS107 style) */
};

typedef struct {
    uint64_t size;  /* bytes (alloc, realloc) or element size (calloc) */
    uint32_t id;    /* block id, < num_ids, or MS_ID_NULL */
    uint32_t count; /* calloc element count; 0 for the other ops */
    uint8_t kind;   /* MS_OP_* */
} ms_op;

typedef struct {
    ms_op *ops;
    uint64_t num_ops;
    uint32_t num_ids; /* the largest id the ops use + 1 (a header's count, header[1], bounds it) */
    int format;       /* MS_FORMAT_* */
    uint64_t header[4]; /* the four header numbers as written (zeros for scripts) */
    uint64_t weight;    /* header weight (classic: 4th number, cmu: 1st) */
    /* Set by the parser, which proves it: every op's kind is known and its id is below
       num_ids (or it frees NULL). A trace built otherwise leaves it false, and the engine
       checks every op before each replay instead of once. */
    bool ops_valid;
    uint64_t first_calloc; /* the parser's: the first calloc op's index, num_ops when none */
    /* What a lenient reading (MS_READ_*) did, for the grade to say: ops given the size read
       before them, and op lines left unread past the header's count, each with its first line. */
    uint64_t sizes_carried, first_carried_line;
    uint64_t ops_unread, first_unread_line;
} ms_trace;

/* Parse a trace file, read as `reading` says (MS_READ_* flags). On failure returns false and
   fills err with the file's line and what was expected there; *out is then empty. */
bool ms_trace_parse_file(const char *path, unsigned reading, ms_trace *out, ms_error *err);
/* The same for text in memory (tests, generators). */
bool ms_trace_parse_text(const char *text, size_t len, unsigned reading, ms_trace *out,
                         ms_error *err);
void ms_trace_free(ms_trace *trace);
/* The 1-based file line of op `index` (re-reads the file; for diagnostics). */
uint64_t ms_trace_line_of_op(const char *path, uint64_t index);

/* ------------------------------------------------------------- allocators */

enum {
    MS_DIALECT_CLASSIC = 0, /* int mm_init(void), 0 = success */
    MS_DIALECT_CMU = 1,     /* bool mm_init(void), true = success */
    MS_DIALECT_SYSTEM = 2   /* the process's own malloc family: no heap of ours */
};

enum {
    MS_CHECKHEAP_DIALECT = 0, /* checkheap is the dialect's mm_checkheap: int (*)(int) for
                                 classic, really bool (*)(int) for cmu */
    MS_CHECKHEAP_INT = 1      /* checkheap is int (*)(int), non-zero = consistent, whatever the
                                 dialect (the lab adapter's ms_lab_checkheap) */
};

typedef struct {
    void *handle; /* dlopen handle, NULL for the system */
    int dialect;  /* MS_DIALECT_* */
    void *init;   /* mm_init, called per the dialect */
    void *(*malloc)(size_t size);
    void (*free)(void *ptr);
    void *(*realloc)(void *ptr, size_t size);
    void *(*calloc)(size_t count, size_t size);    /* NULL when not exported */
    int (*checkheap)(int arg);                     /* NULL when not exported */
    int checkheap_kind;                            /* MS_CHECKHEAP_*: how to call checkheap */
    const char *(*checkheap_message)(void);        /* NULL when not exported */
    const char *(*configure)(const char *options); /* NULL when not exported */
} ms_allocator;

/* Load a shared library exporting the mm.h names, in the given dialect, and
   apply `options` (may be NULL or "") through its mm_configure: ms_allocator_load
   then ms_allocator_start, closed again when either fails. */
bool ms_allocator_open(const char *path, int dialect, const char *options, ms_allocator *out,
                       ms_error *err);
/* The first half: the library loaded and its names found, running none of the code of a student's
   mm.c built by the grader (its constructors wait for ms_allocator_start: the lab adapter's
   ms_lab_start). A sandboxed process loads, seals itself, then starts. A library that loads but
   lacks a name stays loaded (out->handle): closing it, or exit(), runs its destructors, so a
   sandboxed caller that is not yet sealed leaves by _exit. */
bool ms_allocator_load(const char *path, int dialect, ms_allocator *out, ms_error *err);
/* The second half, once: the library's deferred constructors run, the heap checker chosen and the
   options applied; `path` names the library in err. The checker is the lab adapter's
   ms_lab_checkheap when the library exports it (c/include/labs/ms_lab_adapter.h: any checker
   signature, called through its real type; none when its ms_lab_checkheap_kind() is 0, an
   unknown signature), else mm_checkheap per the dialect. False with err filled when the options
   are refused; the caller closes the allocator. */
bool ms_allocator_start(ms_allocator *alloc, const char *path, const char *options, ms_error *err);
/* The process's own malloc family (glibc, or whatever LD_PRELOAD put first). */
void ms_allocator_system(ms_allocator *out);
void ms_allocator_close(ms_allocator *alloc);

/* --------------------------------------------------------------- failures */

/* What made a replay fail, as data: the driver reads the kind, op, block and
   mm_init's status from here, never from the message. */
enum {
    MS_FAIL_NONE = 0,                  /* no failure */
    MS_FAIL_NULL_RETURN = 1,           /* NULL where a block was due */
    MS_FAIL_MISALIGNED = 2,            /* a pointer not aligned as the lab requires */
    MS_FAIL_OUTSIDE_HEAP = 3,          /* a block not wholly inside [mem_heap_lo, mem_heap_hi] */
    MS_FAIL_OVERLAP = 4,               /* a block overlapping a live one (other) */
    MS_FAIL_OVERWRITTEN = 5,           /* a live block's payload changed (offset) */
    MS_FAIL_REALLOC_LOST_DATA = 6,     /* realloc did not keep min(old, new) bytes (offset) */
    MS_FAIL_CALLOC_NOT_ZERO = 7,       /* calloc memory not zero (offset) */
    MS_FAIL_CALLOC_OVERFLOW = 8,       /* a pointer for a calloc whose size overflows */
    MS_FAIL_REALLOC_ZERO_NOT_NULL = 9, /* realloc(p, 0) of a live block returned a pointer */
    MS_FAIL_CHECKHEAP = 10,            /* mm_checkheap reported an inconsistent heap */
    MS_FAIL_INIT_FAILED = 11,          /* mm_init reported failure (init_status) */
    MS_FAIL_TRACE_ERROR = 12,  /* the trace is wrong (frees a dead id...): not the allocator */
    MS_FAIL_NO_CALLOC = 13,    /* the trace calls calloc; the allocator has no mm_calloc */
    MS_FAIL_NO_CHECKHEAP = 14, /* heap checks asked for; the allocator has no checker */
    MS_FAIL_HEAP_GROWTH = 15,  /* carried passes: the heap does not level off */
    MS_FAIL_ENGINE = 16        /* the engine could not run (out of memory, bad options) */
};

enum {
    MS_PASS_NONE = 4294967295 /* ms_failure.timed_pass of a failure outside the timed passes */
};

typedef struct {
    int kind;            /* MS_FAIL_* */
    uint32_t timed_pass; /* timed passes: 1, 2... the failing pass; 0 the untimed warm-up pass
                            of carried passes; MS_PASS_NONE otherwise (checked pass, up front) */
    uint64_t op;         /* the failing op's index; UINT64_MAX when it is no op's (mm_init) */
    uint32_t block;      /* the block id involved; MS_ID_NULL when none */
    uint32_t other;      /* OVERLAP: the live block overlapped; MS_ID_NULL otherwise */
    uint64_t offset;     /* the payload byte (OVERWRITTEN, REALLOC_LOST_DATA, CALLOC_NOT_ZERO) */
    uint64_t address;    /* the pointer involved; 0 when none */
    int64_t init_status; /* INIT_FAILED: what mm_init returned (classic: its int; cmu: 0, false) */
    int64_t found;       /* the byte at offset (OVERWRITTEN, REALLOC_LOST_DATA, CALLOC_NOT_ZERO) */
} ms_failure;

/* ----------------------------------------------------------------- replay */

typedef struct {
    /* Call mm_checkheap after every op. */
    bool check_heap;
    /* Payloads larger than this are filled and checked by sampling (head,
       tail, spread words); 0 = the default. */
    uint64_t sample_above;
    /* If not NULL, the index of the op being run is stored here before it
       runs, with MS_OP_IN_CHECKER added while mm_checkheap runs after it,
       UINT64_MAX while mm_init runs (for a parent process to read after a
       crash or a timeout: a student's checker that loops or crashes is told
       from the op before it). */
    volatile uint64_t *progress;
    /* If not NULL, called with observe_context after every op that passed
       its checks (time series, footprints at the peak). */
    void (*observe)(void *context, uint64_t op_index, uint64_t live_payload);
    void *observe_context;
    /* Every pointer into our heap must be aligned to this, a power of two (the
       CS:APP lab: 8; CMU's and ours: 16); 0 = 16. It is also what peak_aligned
       rounds each live size up to. The system's malloc keeps C17's rule. */
    uint32_t alignment;
    /* realloc(p, 0) of a live block must free it and return NULL (the CMU
       lab's rule); a pointer is then a failure. Else either answer is right. */
    bool realloc_zero_null;
    /* Memory our heap hands out for the first time in this pass holds a
       poison pattern instead of zeros (memlib.h, mem_set_poison), so that an
       allocator reading uninitialised heap fails here, reproducibly. */
    bool dirty_heap;
    /* Payloads get a pattern keyed by a secret, which an allocator running in another process
       (the grader's agent) cannot work out from the bytes it sees; else the public pattern, the
       same on every run. */
    bool secret_pattern;
    /* With secret_pattern: the secret is pattern_seed's bytes when pattern_seeded, so that one
       grader gives one allocator one pattern on a trace, run after run (code that reads payloads
       as its own data got 0 or 98 at random: lab check run 9); else this process draws it. */
    bool pattern_seeded;
    uint8_t pattern_seed[80]; /* MS_PATTERN_SEED_BYTES */
    /* How a lab's own driver fills blocks, for replaying a failed trace as that driver would
       (quirks.py), never for a verdict: only each payload's first fill_limit bytes are filled and
       checked, the rest left as the heap has them (0: every byte; the CMU F20 driver's MAXFILL),
       and with zero_block0 block 0's bytes are zeros (the CS:APP driver fills block i with
       i & 0xFF). */
    uint64_t fill_limit;
    bool zero_block0;
} ms_check_options;

enum { MS_PATTERN_SEED_BYTES = 80 };

typedef struct {
    bool valid;            /* every check passed */
    uint64_t ops_done;     /* ops completed */
    ms_failure failure;    /* what failed (kind MS_FAIL_NONE when valid) */
    char error[512];       /* what was wrong, one line ("" when valid) */
    uint64_t peak_payload; /* max over time of the sum of live requested bytes */
    uint64_t peak_aligned; /* max over time of the sum of live sizes rounded up to the alignment */
    uint64_t heap_size;    /* the heap's high-water mark (0 for the system) */
    uint64_t highest_used; /* highest payload end minus heap start (CS107) */
    /* The calls that grew our heap in the pass, mm_init's included, and those of them that took
       the break to a page it had not reached (mem_growth): what a lab's memlib that passes each
       growth to the real sbrk makes brk system calls of. 0 on the system's malloc. */
    uint64_t growth_calls;
    uint64_t growth_new_pages;
} ms_check_result;

/* The checked pass: resets the heap, calls mm_init, runs every op with every
   check, measures utilization. Returns result->valid. */
bool ms_replay_checked(const ms_trace *trace, const ms_allocator *alloc,
                       const ms_check_options *options, ms_check_result *result);

typedef struct {
    uint32_t min_passes; /* run at least this many passes... */
    uint32_t max_passes; /* ...and never more (pass_seconds has room for this many) */
    double min_seconds;  /* between the two, keep going until this much time in all */
    /* Each pass on the heap the last one left, its blocks freed, after an
       untimed warm-up pass: the system malloc's steady state. */
    bool carry_heap;
    /* If not NULL, two words kept up to date for a parent process to read
       after a crash: progress[1] the pass (1, 2... timed; 0 the warm-up pass)
       stored before it starts, progress[0] the op being run, UINT64_MAX while
       mm_init runs, the op count while a carried pass's blocks are freed. One
       store an op, into a word no one else writes. */
    volatile uint64_t *progress;
    /* For a grader in another process (remote.c), both NULL otherwise: every
       pointer a pass returns is stored in log[op] (NULL for a free), and
       boundary(context, pass, ended, seconds) is called, untimed, just before
       each pass (ended false) and just after it (true, with its seconds). */
    uint64_t *log; /* 64 bits whatever the build: the agent may be a 32-bit one */
    void (*boundary)(void *context, uint32_t pass, bool ended, double seconds);
    void *context;
    /* Room for the pointers of trace->num_ids blocks, or NULL: the engine
       allocates its own (a sandboxed agent may not ask the system for memory). */
    void **scratch;
    /* A grader in another process (remote.c): when the agent's own clock claims less than the
       kernel counted for the passes, report the kernel's count (ms_timed_result.counted_seconds)
       instead of a "tampered timing" verdict, with no retries. */
    bool kernel_clock;
    /* A counter (mscount), which counts a pass whole, only: a pass on the system's malloc leaves
       what it did not free live, for the caller to free from scratch (which it must give),
       outside what it counts; the engine frees it, untimed, otherwise. So a count holds what a
       timed pass times, and glibc's free of a trace's leftovers is no part of its cost per op. */
    bool leave_live;
    /* Every pass timed alone, even one too short for the clock (no batches: see
       ms_replay_timed), as a grader in another process times an agent's: what is compared with
       such passes (a reference, for a student's code) is then timed the same way. */
    bool pass_alone;
    /* Each pass from mm_init on a heap of zeros (mem_rewind_zeroed, untimed), as the F22+ CMU
       drivers map their heap afresh before every pass; else on the bytes the last pass left, as
       the CS:APP and F20 drivers run their later passes. */
    bool zero_each_pass;
} ms_timed_options;

typedef struct {
    uint32_t passes; /* passes timed; 0 when one failed */
    /* Passes timed together in each pass_seconds entry, which holds their mean: 1, or more for
       passes too short to time alone (under 50 us), run in batches with the clock read twice a
       batch; always 1 where a grader in another process checks every pass. */
    uint32_t pass_repeats;
    ms_failure failure; /* what failed (kind MS_FAIL_NONE when none did) */
    char error[512];    /* what was wrong, one line ("" when nothing) */
    /* A grader in another process (remote.c): the most heap the timed passes used, as bytes
       above the heap's start (the highest payload end of the passes it checked, or the end of
       the last page they touched past the checked passes' heap), so that a heap grown further
       there than in the checked passes is seen; 0 where not measured (passes run in this
       process). */
    uint64_t highest_used;
    /* The CPU seconds the kernel counted for the agent over the passes, their boundaries
       included, when its own clock claimed less: with kernel_clock at once; without, three
       tries running, short of a forgery (each entry of pass_seconds is at no less than the
       kernel's count of its pass, less a stop's usual cost, in any case). 0 when the claims
       held. */
    double counted_seconds;
} ms_timed_result;

/* Timed passes without checks. Each pass starts from mm_init (untimed) on a rewound heap
   (mem_rewind: pages stay warm); with carry_heap, after one untimed warm-up pass from mm_init,
   each pass runs on the heap the last one left, its blocks freed (untimed), as the system's
   malloc always does: refused (MS_FAIL_HEAP_GROWTH) once the heap is 8 times its size after the
   warm-up, as an allocator that does not reuse freed memory has no steady state. Runs at least
   min_passes and keeps going until min_seconds in all or max_passes; writes each pass's seconds
   to pass_seconds and returns the passes run, or 0 with result's failure and error filled when
   the allocator failed (mm_init, or NULL where a block was due). Passes under 50 us are timed in
   batches that last that long (result->pass_repeats passes each, found by doubling from 1: the
   batches before are probes, not counted), each pass_seconds entry a batch's mean, its mm_init
   calls timed apart and taken off. */
uint32_t ms_replay_timed(const ms_trace *trace, const ms_allocator *alloc,
                         const ms_timed_options *options, double *pass_seconds,
                         ms_timed_result *result);

/* Check a timed pass from outside the allocator's process: the pointers it
   returned (log[op], as ms_timed_options.log holds them) aligned, inside
   [heap_lo, heap_lo + heap_bytes) and overlapping no live block, the trace's
   blocks live as its ops say. Payloads are not touched: the heap is still the
   allocator's. Returns result->valid, the failure as ms_replay_checked's. */
bool ms_verify_pointers(const ms_trace *trace, const uint64_t *log, const ms_check_options *options,
                        uintptr_t heap_lo, uint64_t heap_bytes, ms_check_result *result);

/* ----------------------------------------------------------------- remote */

/* A student's allocator in a process of its own, the agent, and the grader in
   this one (remote.c): the checked pass runs here, each call of the
   allocator's a request over the link; the heap is memlib's shared one
   (mem_share), at the same address in both; the timed passes run in the agent,
   each checked from here when it ends. */
typedef struct ms_link ms_link;

enum {
    MS_LINK_OK = 0,          /* the agent kept to the protocol */
    MS_LINK_VIOLATED = 1,    /* it wrote what no agent of ours writes: its answers are void */
    MS_LINK_LOAD_FAILED = 2, /* it could not load the allocator (the message says why) */
    MS_LINK_TIMING = 3,      /* its timed passes claimed less time than the kernel counted */
    MS_LINK_MEMORY = 4       /* loading its library took memory from the kernel beyond its data */
};

/* Shared memory for one trace's link, made before the agent is forked; NULL
   with err filled when the system refuses. */
ms_link *ms_link_create(const ms_trace *trace, uint32_t max_passes, ms_error *err);
void ms_link_destroy(ms_link *link);
/* How the grader starts the agent: msagent (`program`), which maps the link,
   the shared heap and the parent's progress words (`words_fd`, a memfd of
   uint64_t words: the timed engine's two at index `progress_at`, the
   sandbox's denied word at `denied_at`, and after it MS_ASSERT_BYTES for a
   failed assert()'s message), enters the sandbox with a CPU limit,
   then loads `library` (its dialect, its mm_configure options) and serves the
   grader until it is stopped. */
enum { MS_ASSERT_BYTES = 256 };
typedef struct {
    const char *program;
    const char *library;
    int dialect;
    const char *options;
    double cpu_seconds;
    int words_fd;
    uint32_t progress_at;
    uint32_t denied_at;
    int output_fd; /* the agent's stdout and stderr (a pipe the watching process drains), or
                      -1: /dev/null */
} ms_agent_setup;
/* Start the agent for the link (made with the heap already shared: mem_share):
   its pid, or -1 with err filled. It inherits no descriptor but the three it
   maps, /dev/null as its stdin and output_fd (or /dev/null) as its stdout and
   stderr, and no environment. */
int ms_agent_spawn(ms_link *link, const ms_agent_setup *setup, ms_error *err);
/* The grader: wait for the agent (its pid) to load, then fill `out` with the
   table whose every call is a request to it. Loading may add to the agent's
   private memory the library's own writable data (`own_data` bytes) and a
   little bookkeeping, no more (MS_LINK_MEMORY). An agent that dies is died
   of: this process ends with its signal or status, so whoever watches it
   learns the agent's fate. False (status and message in the link) when the
   agent could not load, took memory or broke the protocol. */
bool ms_link_attach(ms_link *link, int agent_pid, uint64_t own_data, ms_allocator *out);
/* The grader's timed passes, run by the agent: each pass's pointers verified
   (ms_verify_pointers, check's alignment) when it ends, its time checked
   against the CPU time the kernel counted for it. As ms_replay_timed. */
uint32_t ms_link_timed(ms_link *link, const ms_trace *trace, const ms_timed_options *options,
                       const ms_check_options *check, double *pass_seconds,
                       ms_timed_result *result);
/* The CS:APP team record the agent's library holds (the lab adapter's
   ms_lab_team): teamname, name1, id1, name2, id2, each in MS_TEAM_FIELD_BYTES
   of `fields` (MS_TEAM_FIELDS of them), cut short to fit, a NULL pointer as an
   empty string whose next byte is MS_TEAM_FIELD_NULL; false when the library
   has none or the agent failed. */
enum { MS_TEAM_FIELDS = 5, MS_TEAM_FIELD_BYTES = 100, MS_TEAM_FIELD_NULL = 1 };
bool ms_link_team(ms_link *link, char *fields);
/* MS_LINK_*: how the agent has behaved, and the line that says so. */
int ms_link_status(const ms_link *link);
const char *ms_link_message(const ms_link *link);
/* Stop the agent and reap it. */
void ms_link_stop(ms_link *link);

/* ------------------------------------------------------------------- heap */

void mem_reset(void);
size_t mem_heapsize(void);
void mem_set_limit(size_t bytes);
size_t mem_limit(void);
void mem_fail_after(int64_t calls);
size_t mem_high_water(void);
/* Whether a negative mem_sbrk gives memory back (the default) or fails with
   ENOMEM, as the labs' memlib never shrinks. Kept across resets. */
void mem_set_shrink(bool allowed);
bool mem_share(bool narrow);
void mem_place(uintptr_t at);

/* ---------------------------------------------------------------- sandbox */

/* Confine this process before it loads untrusted code (sandbox.c): no new
   process or program, no network, no file created, written or changed, no
   signal to another process, no tracing, no change to the system; a core dump
   and file growth refused by resource limits. A forbidden call kills the
   process with SIGSYS, its number first stored in *denied (plus one: 0 means
   none; its ABI, AUDIT_ARCH_*, in the high 32 bits), a word the parent can read
   after the death. Irreversible; false with
   err filled when the kernel refuses the filter. */
bool ms_sandbox_enter(uint64_t *denied, ms_error *err);
/* The process as it was before an untrusted library loaded (ms_sandbox_note_before_load), to
   hold it to after (ms_sandbox_after_load): descriptors 0-2's files (device and inode; a closed
   one's as zeros), its limit of open descriptors and its stack of system-call filters (-1: this
   kernel does not say). */
typedef struct {
    uint64_t dev[3], ino[3];
    uint64_t open_files;
    int64_t filters;
} ms_before_load;
void ms_sandbox_note_before_load(ms_before_load *before);
/* Before a seal: every descriptor from 3 on closed but the `count` of `keep`; then NULL when the
   process is still as `before` noted it, else what its library did as it loaded ("installed a
   system-call filter of its own"), for the caller's refusal. A descriptor that a constructor
   opened, or put in place of 0-2, would still read its file once the trace is in sight, setting
   the file's access time, which the seals keep any path from doing (red-team pass 35); one kept
   past a descriptor limit the library lowered was out of a close's reach, and a filter of its own
   that answered the seal's installation with success installed nothing (red-team pass 39). */
const char *ms_sandbox_after_load(const ms_before_load *before, const int *keep, size_t count);
/* Seal a sandboxed process once the untrusted library is loaded (dlopen needs
   the kernel's memory and the library's files): from here on no mmap, mremap,
   brk growth, shared memory or memfd, the heap the driver shares all there is,
   and a sealed call dies as a denied one does; nor is a file opened for
   reading or a symbolic link read (EACCES), which would set its access time.
   The caller closes the descriptors the library opened (ms_sandbox_after_load).
   False with err filled when the kernel refuses. */
bool ms_sandbox_seal(ms_error *err);
/* The seal's refusal of reads alone (EACCES), for the instruction count (mscount, under
   valgrind, which goes on mapping memory and writing its profiles): once the library is loaded
   and before the traces come, no file opened for reading and no symbolic link read, and no call
   on any of the `count` descriptors `untouchable` (EBADF: valgrind's own files, which the
   process could reach by number). False with err filled when the kernel refuses. */
bool ms_sandbox_seal_reads(const int *untouchable, size_t count, ms_error *err);
/* The instruction count's root from here on: the folder open at `folder` (a descriptor), where
   valgrind writes its profiles, so that its paths reach no name another process looks up (the
   kernel's cache of names carries what one grade saw to the next). Before ms_sandbox_seal_reads,
   which refuses it after. False where the kernel allows it no root of its own. */
bool ms_sandbox_take_root(int folder);
/* For one counted pass (mscount's child, before the pass runs): no process or thread started
   from here on (EAGAIN). False with err filled when the kernel refuses. */
bool ms_sandbox_seal_forks(ms_error *err);
/* Confine this process and every program it then runs for the instruction
   count (msconfine, before it runs valgrind): as ms_sandbox_confine_build
   (files read only beneath the system's folders and `readable`, written only
   beneath `writable`), no core dumps, no file over 256 MiB, no leaving the
   process group (setsid, setpgid: the grader ends the count's processes as
   one group), no signal outside the sandbox (without Landlock's scope, this
   process's own only), and the sandbox's other
   denials (network, tracing, other processes' memory, the system, file
   permissions) by seccomp, which kills. Processes and programs stay allowed:
   valgrind needs them. With reads open, a constructor printed /etc/shadow
   and the grader's environment as the count's error. False with err filled
   when the kernel cannot (no Landlock: the message says so). */
bool ms_sandbox_confine_count(const char *const *readable, size_t count, const char *writable,
                              ms_error *err);
/* The kernel's Landlock ABI version, 0 when it has none: the confinements below need 1. */
int ms_sandbox_landlock_abi(void);
/* Confine this process and every program it then runs to building a submission (build.py, in
   the compiler's process before it starts): files read and run only beneath the system's folders
   (/usr, /lib*, /bin, /sbin, /etc/ld.so.cache), the `count` paths of `readable` (folders or
   files: the lab's headers, the engine) and `writable`, written only beneath `writable` (nowhere
   when NULL) and to /dev/null; no TCP (Landlock ABI 4), no signal or abstract socket outside the
   sandbox (ABI 6). False with err filled when it cannot. */
bool ms_sandbox_confine_build(const char *const *readable, size_t count, const char *writable,
                              ms_error *err);
/* Confine the agent, before it loads the student's library (remote.c): files read and run only
   beneath the system's folders, its own /proc/self, the agent's folder (the engine) and the
   library's, and nothing written (ms_sandbox_confine_build): a constructor read another student's
   file, /etc/shadow and the grader's environment and memory (/proc/PID/environ, /proc/PID/mem) and
   printed them as its team. False with err filled when it cannot. */
bool ms_sandbox_confine_agent(const char *library, ms_error *err);
/* What a denied call means, for a diagnosis ("start a process (fork)"): `call` is
   the denied word less one (its ABI in the high 32 bits, 0 for this build's). */
const char *ms_sandbox_denied_action(uint64_t call);

/* CDEF-END */

#define MS_ABI_VERSION 29

/* ms_failure.op and the progress words when no op is running (mm_init); the
   cdef cannot hold a constant this large, the driver spells it 2**64 - 1. */
#define MS_NO_OP UINT64_MAX

/* The checked pass's progress word while the engine resets the heap before mm_init: the
   grader's own work (giving back a heap of gigabytes takes a good part of a second), which no
   stall limit charges to the allocator. The driver spells it 2**64 - 2. */
#define MS_RESETTING (UINT64_MAX - 1)

/* Added to the checked pass's progress word while mm_checkheap runs after the op
   it holds (no trace has 2^63 ops); the driver spells it 2**63. */
#define MS_OP_IN_CHECKER (UINT64_C(1) << 63)

#endif /* MALLOCSIM_MALLOCSIM_H */
