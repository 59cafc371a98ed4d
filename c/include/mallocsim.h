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
    uint32_t num_ids;
    int format;         /* MS_FORMAT_* */
    uint64_t header[4]; /* the four header numbers as written (zeros for scripts) */
    uint64_t weight;    /* header weight (classic: 4th number, cmu: 1st) */
} ms_trace;

/* Parse a trace file. On failure returns false and fills err with the file's
   line and what was expected there; *out is then empty. */
bool ms_trace_parse_file(const char *path, ms_trace *out, ms_error *err);
/* The same for text in memory (tests, generators). */
bool ms_trace_parse_text(const char *text, size_t len, ms_trace *out, ms_error *err);
void ms_trace_free(ms_trace *trace);
/* The 1-based file line of op `index` (re-reads the file; for diagnostics). */
uint64_t ms_trace_line_of_op(const char *path, uint64_t index);

/* ------------------------------------------------------------- allocators */

enum {
    MS_DIALECT_CLASSIC = 0, /* int mm_init(void), 0 = success */
    MS_DIALECT_CMU = 1,     /* bool mm_init(void), true = success */
    MS_DIALECT_SYSTEM = 2   /* the process's own malloc family: no heap of ours */
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
    const char *(*checkheap_message)(void);        /* NULL when not exported */
    const char *(*configure)(const char *options); /* NULL when not exported */
} ms_allocator;

/* Load a shared library exporting the mm.h names, in the given dialect, and
   apply `options` (may be NULL or "") through its mm_configure. */
bool ms_allocator_open(const char *path, int dialect, const char *options, ms_allocator *out,
                       ms_error *err);
/* The process's own malloc family (glibc, or whatever LD_PRELOAD put first). */
void ms_allocator_system(ms_allocator *out);
void ms_allocator_close(ms_allocator *alloc);

/* ----------------------------------------------------------------- replay */

typedef struct {
    /* Call mm_checkheap after every op. */
    bool check_heap;
    /* Payloads larger than this are filled and checked by sampling (head,
       tail, spread words); 0 = the default. */
    uint64_t sample_above;
    /* If not NULL, the index of the op being run is stored here before it
       runs (for a parent process to read after a crash). */
    volatile uint64_t *progress;
    /* If not NULL, called with observe_context after every op that passed
       its checks (time series, footprints at the peak). */
    void (*observe)(void *context, uint64_t op_index, uint64_t live_payload);
    void *observe_context;
} ms_check_options;

typedef struct {
    bool valid;            /* every check passed */
    uint64_t ops_done;     /* ops completed */
    uint64_t fail_op;      /* index of the failing op (valid == false) */
    char error[512];       /* what was wrong, one line ("" when valid) */
    uint64_t peak_payload; /* max over time of the sum of live requested bytes */
    uint64_t peak_aligned; /* max over time of the sum of live sizes rounded to 16 */
    uint64_t heap_size;    /* the heap's high-water mark (0 for the system) */
    uint64_t highest_used; /* highest payload end minus heap start (CS107) */
} ms_check_result;

/* The checked pass: resets the heap, calls mm_init, runs every op with every
   check, measures utilization. Returns result->valid. */
bool ms_replay_checked(const ms_trace *trace, const ms_allocator *alloc,
                       const ms_check_options *options, ms_check_result *result);

/* Timed passes without checks. Each pass starts from mm_init (untimed) on a rewound heap
   (mem_rewind: pages stay warm); with carry_heap, after one untimed warm-up pass from mm_init,
   each pass runs on the heap the last one left, its blocks freed (untimed), as the system's
   malloc always does: refused (0) once the heap is 8 times its size after the warm-up, as an
   allocator that does not reuse freed memory has no steady state. Runs at least min_passes and
   keeps going until min_seconds in all or max_passes; writes each pass's seconds to pass_seconds
   (room for max_passes) and returns the passes run, or 0 with err filled when the allocator failed
   (NULL where a block was due). */
uint32_t ms_replay_timed(const ms_trace *trace, const ms_allocator *alloc, uint32_t min_passes,
                         uint32_t max_passes, double min_seconds, bool carry_heap,
                         double *pass_seconds, ms_error *err);

/* ------------------------------------------------------------------- heap */

void mem_reset(void);
size_t mem_heapsize(void);
void mem_set_limit(size_t bytes);
size_t mem_limit(void);
void mem_fail_after(int64_t calls);
size_t mem_high_water(void);

/* CDEF-END */

#define MS_ABI_VERSION 3

#endif /* MALLOCSIM_MALLOCSIM_H */
