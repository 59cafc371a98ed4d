/*
 * trace.c - the trace parser: malloc-lab trace files into compact op arrays.
 *
 * Reads the three formats of mallocsim.h: the classic CS:APP header (heap
 * size, ids, ops, weight), the CMU header (weight, ids, ops, peak live bytes)
 * and the headerless CS107 script; the first header number tells the two
 * headers apart (above 3 means classic). Ops are `a id size`, `r id size`,
 * `f id` (`f -1` is free(NULL)) and our `c id count size`.
 *
 * Tolerated everywhere: CRLF line ends, a UTF-8 byte order mark, blank lines,
 * '#' comment lines, runs of spaces and tabs around fields. Tolerated when the
 * caller reads as a CMU driver does (MS_READ_*, for that lab's own traces): an
 * a or r line without a size, given the size read last (the driver's fscanf
 * leaves it as it was), and op lines past the header's count, left unread (the
 * driver stops at the count); the trace counts both, for the grade to say.
 *
 * Guarantees:
 * - any input, binary garbage included, gives either a trace or one error
 *   line with the file line and what was expected there; never a crash;
 * - an accepted trace is one the replay can run: ids in range, no `a`/`c` on
 *   a live id, no `f` on an id that is not live, every size at most 2^48
 *   bytes, calloc counts in 32 bits, exactly the header's number of ops (read
 *   up to that number under MS_READ_STOP_AT_COUNT);
 * - memory: 24 bytes an op (the ms_op array, sized once from the header's op
 *   count, capped by what the file's length allows), plus during the parse
 *   one byte per block id and the file's read-only mapping; nothing is
 *   allocated per line. Numbers are parsed by hand, in one pass.
 */
#include "mallocsim.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SIZE (UINT64_C(1) << 48) /* no heap is larger than 256 TiB */
/* Ids the engine can keep books for. It holds about 33 bytes per id (address,
   size, live flag, tree node; the timed passes' pointer) for every id up to
   the largest, used or not, so a lone "a 4294967294 8" asked for 140 GB and
   failed as if the allocator had. Ids are block numbers, reused after a free
   (they count the blocks live at once): 2^24 is far more than any lab or
   recorded trace needs, 550 MB of books at most. driver/mallocsim/constants.py
   has it as MAX_TRACE_IDS. */
#define MAX_IDS (UINT64_C(1) << 24)
#define TOKEN_SHOWN 20 /* bytes of an unexpected token quoted in an error */
#define SHORTEST_OP 4  /* bytes of the shortest op line, "f 0\n" */
#define TYPICAL_OP 8   /* bytes of a short but typical one, "a 12 24\n" */

/* What the parser knows of a block id, one byte per id. */
enum { ID_NEVER = 0, ID_LIVE = 1, ID_FREED = 2 };

typedef struct {
    const char *p;   /* the cursor */
    const char *end; /* one past the last byte of the text */
    uint64_t line;   /* 1-based line the cursor is on */
} scanner;

typedef struct {
    scanner s;
    ms_trace *trace;
    ms_error *err;
    uint64_t ops_cap; /* ms_op slots allocated in trace->ops */
    uint8_t *ids;     /* ID_* per block id, ids_cap of them */
    uint64_t ids_cap;
    uint64_t id_limit; /* every id must be below this */
    uint64_t ids_used; /* max id + 1 over the ops so far */
    unsigned reading;  /* MS_READ_* flags */
    bool sized;        /* an a or r line has given a size, last_size */
    uint64_t last_size;
} parser;

typedef enum { NUM_OK, NUM_BAD, NUM_TOO_BIG } num_status;

/* --------------------------------------------------------------- scanning */

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* A line ends at '\n', at a '\r' just before it (CRLF) or at the end of the
   text; a lone '\r' elsewhere is an ordinary byte. */
static bool at_line_end(const char *p, const char *end) {
    return p == end || *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'));
}

static bool at_field_end(const char *p, const char *end) {
    return at_line_end(p, end) || is_blank(*p);
}

static const char *skip_blanks(const char *p, const char *end) {
    while (p < end && is_blank(*p))
        p++;
    return p;
}

static void next_line(scanner *s) {
    const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
    if (nl == NULL) {
        s->p = s->end;
    } else {
        s->p = nl + 1;
        s->line++;
    }
}

/* Moves to the first field of the next line that is neither blank nor a
   comment; false at the end of the text. */
static bool next_content(scanner *s) {
    for (;;) {
        s->p = skip_blanks(s->p, s->end);
        if (s->p == s->end)
            return false;
        if (!at_line_end(s->p, s->end) && *s->p != '#')
            return true;
        next_line(s);
    }
}

static scanner scan_start(const char *text, size_t len) {
    scanner s = {text, text + len, 1};
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        s.p += 3; /* a UTF-8 byte order mark, as Windows editors write it */
    return s;
}

/* True when the line at p starts with an op letter: the text is a script. */
static bool starts_op(const char *p, const char *end) {
    return (*p == 'a' || *p == 'r' || *p == 'f' || *p == 'c') && at_field_end(p + 1, end);
}

static bool is_digit(char c) { return (unsigned)(c - '0') <= 9; }

/* Parses a decimal unsigned number that makes up a whole field; advances *pp
   past it unless it is NUM_BAD. */
static num_status parse_u64(const char **pp, const char *end, uint64_t *out) {
    const char *p = *pp;
    if (p == end || !is_digit(*p))
        return NUM_BAD;
    /* 19 digits cannot overflow 64 bits: the common case needs no check. */
    const char *unchecked_end = end - p > 19 ? p + 19 : end;
    uint64_t v = 0;
    while (p < unchecked_end && is_digit(*p))
        v = v * 10 + (unsigned)(*p++ - '0');
    bool too_big = false;
    for (; p < end && is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            too_big = true;
        else
            v = v * 10 + d;
    }
    if (!at_field_end(p, end))
        return NUM_BAD;
    *pp = p;
    *out = v;
    return too_big ? NUM_TOO_BIG : NUM_OK;
}

/* ----------------------------------------------------------------- errors */

/* Writes the field at p for a message: "the end of the line", or the field
   (quoted when `quote`), truncated to TOKEN_SHOWN bytes and with every byte
   that is not printable ASCII written as \xNN. */
static void describe(const char *p, const char *end, bool quote, char *buf, size_t size) {
    if (at_line_end(p, end)) {
        snprintf(buf, size, "the end of the line");
        return;
    }
    size_t n = 0;
    if (quote)
        buf[n++] = '\'';
    int shown = 0;
    for (; !at_field_end(p, end) && shown < TOKEN_SHOWN; p++, shown++) {
        unsigned char c = (unsigned char)*p;
        if (c > ' ' && c < 0x7f && c != '\\' && c != '\'')
            buf[n++] = (char)c;
        else
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
    }
    if (!at_field_end(p, end))
        n += (size_t)snprintf(buf + n, size - n, "...");
    if (quote)
        buf[n++] = '\'';
    buf[n] = '\0';
}

/* Big enough for describe(): TOKEN_SHOWN escaped bytes, quotes, "...". */
typedef char field_text[TOKEN_SHOWN * 4 + 8];

__attribute__((format(printf, 3, 4))) static bool fail(ms_error *err, uint64_t line,
                                                       const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->line = line;
    return false;
}

static bool fail_expected(parser *ps, const char *what, const char *p) {
    field_text found;
    describe(p, ps->s.end, true, found, sizeof found);
    return fail(ps->err, ps->s.line, "expected %s, found %s", what, found);
}

/* -------------------------------------------------------------- the header */

static const char *const HEADER_NAMES[2][4] = {
    [MS_FORMAT_CLASSIC] = {"the suggested heap size", "the number of ids", "the number of ops",
                           "the weight"},
    [MS_FORMAT_CMU] = {"the weight", "the number of ids", "the number of ops",
                       "the peak live bytes"},
};

/* Reads the four header lines; on success the cursor is past them, and the
   line of the op count is stored in ops_line for a later count mismatch. */
static bool parse_header(parser *ps, uint64_t *ops_line) {
    ms_trace *t = ps->trace;
    /* The messages are made only for a failure: no line of the printf family runs while a trace
       is read well (mscount parses with an allocator started in its process, which registered
       a handler of a conversion that ran at each header line and replayed the whole trace,
       uncounted: red-team pass 44). */
    char what[96];
    for (int i = 0; i < 4; i++) {
        /* Until the first number is read the format is unknown. */
        const char *name = i == 0 ? "a number" : HEADER_NAMES[t->format][i];
        if (!next_content(&ps->s)) {
            snprintf(what, sizeof what, "%s (header line %d)", name, i + 1);
            return fail(ps->err, ps->s.line, "expected %s, found the end of the file", what);
        }
        const char *p = ps->s.p;
        if (parse_u64(&p, ps->s.end, &t->header[i]) != NUM_OK) {
            snprintf(what, sizeof what, "%s (header line %d)", name, i + 1);
            return fail_expected(ps, what, ps->s.p);
        }
        p = skip_blanks(p, ps->s.end);
        if (!at_line_end(p, ps->s.end)) {
            snprintf(what, sizeof what, "the end of header line %d", i + 1);
            return fail_expected(ps, what, p);
        }
        if (i == 0)
            t->format = t->header[0] > 3 ? MS_FORMAT_CLASSIC : MS_FORMAT_CMU;
        if (i == 2)
            *ops_line = ps->s.line;
        if (i == 1 && t->header[1] > MAX_IDS)
            return fail(ps->err, ps->s.line,
                        "the number of ids %" PRIu64 " is too large (at most %" PRIu64 ")",
                        t->header[1], MAX_IDS);
        ps->s.p = p;
        next_line(&ps->s);
    }
    t->num_ids = (uint32_t)t->header[1];
    t->weight = t->header[t->format == MS_FORMAT_CLASSIC ? 3 : 0];
    return true;
}

/* ------------------------------------------------------------------ ops */

static bool grow_ops(parser *ps) {
    uint64_t cap = ps->ops_cap < 16 ? 32 : ps->ops_cap * 2;
    if (cap > SIZE_MAX / sizeof(ms_op))
        return false;
    ms_op *ops = realloc(ps->trace->ops, (size_t)cap * sizeof(ms_op));
    if (ops == NULL)
        return false;
    ps->trace->ops = ops;
    ps->ops_cap = cap;
    return true;
}

/* Makes room for block `id` in the id table. A fresh zeroed block rather
   than realloc: calloc's pages cost nothing until touched, so a sparse id
   does not make the parse write gigabytes of zeros. */
static bool grow_ids(parser *ps, uint64_t id) {
    uint64_t cap = ps->ids_cap * 2 > id ? ps->ids_cap * 2 : id + 1;
    if (cap < 4096)
        cap = 4096;
    if (cap > ps->id_limit)
        cap = ps->id_limit;
    uint8_t *ids = calloc((size_t)cap, 1);
    if (ids == NULL)
        return false;
    if (ps->ids_cap > 0)
        memcpy(ids, ps->ids, (size_t)ps->ids_cap);
    free(ps->ids);
    ps->ids = ids;
    ps->ids_cap = cap;
    return true;
}

static bool fail_memory(parser *ps) {
    return fail(ps->err, ps->s.line, "out of memory after %" PRIu64 " ops", ps->trace->num_ops);
}

/* Reads the number field after *pp into *out; false (with the error set)
   when it is missing, not a number, or not below `limit`, which is then
   reported as "<noun> <digits> <too_large>". */
/* The rest of a block id's out-of-range message: why id_limit (made only for a failure, as
   parse_header's are). */
static const char *id_hint(const parser *ps, char *hint, size_t size) {
    if (ps->trace->format == MS_FORMAT_SCRIPT)
        snprintf(hint, size, "is too large (at most %" PRIu64 ")", MAX_IDS - 1);
    else
        snprintf(hint, size, "is out of range (the header declares %" PRIu64 " ids)", ps->id_limit);
    return hint;
}

/* too_large NULL: a block id's (id_hint). */
static bool number_field(parser *ps, const char **pp, const char *what, uint64_t limit,
                         const char *noun, const char *too_large, uint64_t *out) {
    const char *start = skip_blanks(*pp, ps->s.end), *p = start;
    num_status st = parse_u64(&p, ps->s.end, out);
    if (st == NUM_BAD)
        return fail_expected(ps, what, start);
    if (st == NUM_TOO_BIG || *out >= limit) {
        field_text digits;
        char hint[64];
        describe(start, ps->s.end, false, digits, sizeof digits);
        return fail(ps->err, ps->s.line, "%s %s %s", noun, digits,
                    too_large != NULL ? too_large : id_hint(ps, hint, sizeof hint));
    }
    *pp = p;
    return true;
}

/* Updates what is known of block `id` for op `kind`: the checks that make
   the trace one a correct allocator can replay. */
static bool track_id(parser *ps, int kind, char letter, uint64_t id, uint64_t size) {
    if (id >= ps->ids_cap && !grow_ids(ps, id))
        return fail_memory(ps);
    uint8_t *state = &ps->ids[id];
    switch (kind) {
    case MS_OP_ALLOC:
    case MS_OP_CALLOC:
        if (*state == ID_LIVE)
            return fail(ps->err, ps->s.line,
                        "%c %" PRIu64 ": block %" PRIu64 " is already allocated", letter, id, id);
        *state = ID_LIVE;
        break;
    case MS_OP_FREE:
        if (*state != ID_LIVE)
            return fail(ps->err, ps->s.line, "f %" PRIu64 ": block %" PRIu64 " is not allocated%s",
                        id, id, *state == ID_FREED ? " (it was freed before)" : "");
        *state = ID_FREED;
        break;
    default: /* realloc: of a block not live it is malloc; to 0 bytes, free */
        if (size > 0)
            *state = ID_LIVE;
        else if (*state == ID_LIVE)
            *state = ID_FREED;
        break;
    }
    if (id >= ps->ids_used)
        ps->ids_used = id + 1;
    return true;
}

/* Parses the op line at the cursor and appends it; leaves the cursor at the
   start of the next line. */
static bool parse_op(parser *ps) {
    const char *p = ps->s.p, *end = ps->s.end;
    char letter = *p;
    int kind = letter == 'a'   ? MS_OP_ALLOC
               : letter == 'f' ? MS_OP_FREE
               : letter == 'r' ? MS_OP_REALLOC
               : letter == 'c' ? MS_OP_CALLOC
                               : -1;
    if (kind < 0 || !at_field_end(p + 1, end))
        return fail_expected(ps, "an op (a, r, f or c)", p);
    p = skip_blanks(p + 1, end);

    uint64_t id, count = 0, size = 0;
    if (kind == MS_OP_FREE && end - p >= 2 && p[0] == '-' && p[1] == '1' &&
        at_field_end(p + 2, end)) {
        id = MS_ID_NULL;
        p += 2;
    } else if (!number_field(ps, &p, "a block id", ps->id_limit, "block id", NULL, &id)) {
        return false;
    }
    static const char *const HEAP = "is larger than any heap (at most 2^48 bytes)";
    if (kind == MS_OP_CALLOC) {
        if (!number_field(ps, &p, "an element count", UINT64_C(1) << 32, "calloc count",
                          "does not fit in 32 bits", &count) ||
            !number_field(ps, &p, "an element size", MAX_SIZE + 1, "size", HEAP, &size))
            return false;
        if (size > 0 && count > MAX_SIZE / size)
            return fail(ps->err, ps->s.line, "size %" PRIu64 "*%" PRIu64 " %s", count, size, HEAP);
    } else if (kind != MS_OP_FREE) {
        if ((ps->reading & MS_READ_CARRY_SIZE) && at_line_end(skip_blanks(p, end), end)) {
            if (!ps->sized) /* the driver's size variable would be uninitialised */
                return fail(ps->err, ps->s.line,
                            "expected a size in bytes, found the end of the line (and no size "
                            "before it to carry)");
            size = ps->last_size;
            if (ps->trace->sizes_carried++ == 0)
                ps->trace->first_carried_line = ps->s.line;
        } else if (!number_field(ps, &p, "a size in bytes", MAX_SIZE + 1, "size", HEAP, &size)) {
            return false;
        }
        ps->sized = true;
        ps->last_size = size;
    }
    p = skip_blanks(p, end);
    if (!at_line_end(p, end))
        return fail_expected(ps, "the end of the line", p);

    if (id != MS_ID_NULL && !track_id(ps, kind, letter, id, size))
        return false;
    ms_trace *t = ps->trace;
    if (t->num_ops == ps->ops_cap && !grow_ops(ps))
        return fail_memory(ps);
    t->ops[t->num_ops++] =
        (ms_op){.size = size, .id = (uint32_t)id, .count = (uint32_t)count, .kind = (uint8_t)kind};
    ps->s.p = p;
    next_line(&ps->s);
    return true;
}

/* Counts the op lines from the cursor on, for the "more ops" message. */
static uint64_t count_rest(scanner s) {
    uint64_t n = 0;
    for (; next_content(&s); next_line(&s))
        n++;
    return n;
}

static bool parse(parser *ps) {
    ms_trace *t = ps->trace;
    if (!next_content(&ps->s))
        return fail(ps->err, 0, "empty trace file");

    bool has_header = !starts_op(ps->s.p, ps->s.end);
    uint64_t ops_line = 0, declared = 0;
    if (has_header) {
        if (!is_digit(*ps->s.p))
            return fail_expected(ps, "a trace header (a number) or an op (a, r, f or c)", ps->s.p);
        if (!parse_header(ps, &ops_line))
            return false;
        declared = t->header[2];
        ps->id_limit = t->header[1];
    } else {
        t->format = MS_FORMAT_SCRIPT;
        ps->id_limit = MAX_IDS;
    }

    /* Room for every op at once: the header's count, but never more than the
       text could hold, so that a lying header costs no memory. A script
       starts from a guess of its typical line length and grows. */
    uint64_t bytes = (uint64_t)(ps->s.end - ps->s.p);
    uint64_t room = bytes / SHORTEST_OP + 1;
    if (has_header)
        ps->ops_cap = declared < room ? declared : room;
    else
        ps->ops_cap = bytes / TYPICAL_OP + 16;
    if (ps->ops_cap > 0) {
        t->ops = malloc((size_t)ps->ops_cap * sizeof(ms_op));
        if (t->ops == NULL)
            return fail_memory(ps);
    }

    while (next_content(&ps->s)) {
        if (has_header && t->num_ops == declared) {
            uint64_t rest = count_rest(ps->s);
            if (!(ps->reading & MS_READ_STOP_AT_COUNT))
                return fail(ps->err, ps->s.line,
                            "the header declares %" PRIu64 " ops but the file has %" PRIu64,
                            declared, declared + rest);
            t->first_unread_line = ps->s.line;
            t->ops_unread = rest;
            break;
        }
        if (!parse_op(ps))
            return false;
    }
    if (has_header && t->num_ops < declared)
        return fail(ps->err, ops_line,
                    "the header declares %" PRIu64 " ops but the file has %" PRIu64, declared,
                    t->num_ops);
    /* The ids the ops use: a header's count is a bound (checked above), and the engine's tables,
       cleared every pass, are of num_ids: short1-bal's 12 ops under a header of 100,000 ids ran
       segfit 3 times and glibc 45 times slower, their ratio 2x -> 30x (red-team pass 27). */
    t->num_ids = (uint32_t)ps->ids_used;
    if (!has_header) {
        ms_op *fit = realloc(t->ops, (size_t)t->num_ops * sizeof(ms_op));
        if (fit != NULL)
            t->ops = fit;
    }
    /* parse_op refused every unknown kind and every id past the limit, which is num_ids */
    t->first_calloc = t->num_ops;
    for (uint64_t i = 0; i < t->num_ops && t->first_calloc == t->num_ops; i++)
        if (t->ops[i].kind == MS_OP_CALLOC)
            t->first_calloc = i;
    t->ops_valid = true;
    return true;
}

bool ms_trace_parse_text(const char *text, size_t len, unsigned reading, ms_trace *out,
                         ms_error *err) {
    ms_error scratch;
    if (err == NULL)
        err = &scratch;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    parser ps = {.s = scan_start(text, len), .trace = out, .err = err, .reading = reading};
    bool ok = parse(&ps);
    free(ps.ids);
    if (!ok)
        ms_trace_free(out);
    return ok;
}

void ms_trace_free(ms_trace *trace) {
    free(trace->ops);
    memset(trace, 0, sizeof *trace);
}

/* ------------------------------------------------------------------ files */

typedef struct {
    const char *text;
    size_t len;
    void *mapping; /* the mmap of a regular file, else NULL */
    char *buffer;  /* what was read from anything else (a pipe), else NULL */
} file_text;

/* Reads a whole file: mapped when it is a regular file (no copy, and pages
   the parse has passed can be dropped by the kernel), read otherwise. */
static bool read_file(const char *path, file_text *f, ms_error *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, 0, "cannot open the file: %s", strerror(errno));
    struct stat st;
    bool ok = true;
    if (fstat(fd, &st) != 0) {
        ok = fail(err, 0, "cannot read the file: %s", strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        ok = fail(err, 0, "is a directory, not a trace file");
    } else if (S_ISREG(st.st_mode)) {
        if (st.st_size > 0) {
            f->mapping = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (f->mapping == MAP_FAILED) {
                f->mapping = NULL;
                ok = fail(err, 0, "cannot map the file: %s", strerror(errno));
            } else {
                madvise(f->mapping, (size_t)st.st_size, MADV_SEQUENTIAL);
                f->text = f->mapping;
                f->len = (size_t)st.st_size;
            }
        }
    } else {
        size_t cap = 0;
        for (;;) {
            if (f->len == cap) {
                cap = cap ? cap * 2 : 1 << 16;
                char *buffer = realloc(f->buffer, cap);
                if (buffer == NULL) {
                    ok = fail(err, 0, "out of memory reading the file");
                    break;
                }
                f->buffer = buffer;
            }
            ssize_t n = read(fd, f->buffer + f->len, cap - f->len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                ok = fail(err, 0, "cannot read the file: %s", strerror(errno));
                break;
            }
            if (n == 0)
                break;
            f->len += (size_t)n;
        }
        f->text = f->buffer;
    }
    close(fd);
    return ok;
}

static void release_file(file_text *f) {
    if (f->mapping != NULL)
        munmap(f->mapping, f->len);
    free(f->buffer);
    memset(f, 0, sizeof *f);
}

bool ms_trace_parse_file(const char *path, unsigned reading, ms_trace *out, ms_error *err) {
    ms_error scratch;
    if (err == NULL)
        err = &scratch;
    file_text f;
    if (!read_file(path, &f, err)) {
        release_file(&f);
        memset(out, 0, sizeof *out);
        return false;
    }
    bool ok = ms_trace_parse_text(f.text, f.len, reading, out, err);
    release_file(&f);
    return ok;
}

uint64_t ms_trace_line_of_op(const char *path, uint64_t index) {
    ms_error err;
    file_text f;
    uint64_t line = 0;
    if (read_file(path, &f, &err) && f.len > 0) {
        scanner s = scan_start(f.text, f.len);
        /* The lines the parser reads as the header, then the op lines. */
        uint64_t skip = next_content(&s) && !starts_op(s.p, s.end) ? 4 : 0;
        for (uint64_t n = 0; next_content(&s); next_line(&s), n++) {
            if (n == skip + index) {
                line = s.line;
                break;
            }
        }
    }
    release_file(&f);
    return line;
}
