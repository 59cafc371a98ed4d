/*
 * test_trace.c - the trace parser: every accepted format, every malformed
 * case with its exact line and message, the reference traces against a
 * naive reader, ms_trace_line_of_op, and random input that must give errors
 * or valid traces, never crashes (this test is built with ASan and UBSan).
 *
 * Run from the repository root (the reference traces are read from
 * ../shared/traces; their part is skipped when that folder is absent).
 */
#include "check.h"
#include "mallocsim.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHARED_TRACES "../shared/traces"

/* ------------------------------------------------------------ helpers */

static bool parse(const char *text, ms_trace *t, ms_error *e) {
    return ms_trace_parse_text(text, strlen(text), MS_READ_STRICT, t, e);
}

/* Parses text that must fail at `line` with exactly `message`. */
static void expect_error_len(const char *text, size_t len, uint64_t line, const char *message) {
    ms_trace t;
    ms_error e;
    bool ok = ms_trace_parse_text(text, len, MS_READ_STRICT, &t, &e);
    CHECK(!ok, "accepted %.*s", (int)len, text);
    CHECK(e.line == line, "line %" PRIu64 " instead of %" PRIu64 " for %s", e.line, line, message);
    CHECK(strcmp(e.message, message) == 0, "message \"%s\" instead of \"%s\"", e.message, message);
    CHECK(t.ops == NULL && t.num_ops == 0, "a failed parse left ops behind");
    ms_trace_free(&t);
}

static void expect_error(const char *text, uint64_t line, const char *message) {
    expect_error_len(text, strlen(text), line, message);
}

/* Parses text that must be accepted; the caller checks and frees *t. */
static bool expect_ok(const char *text, ms_trace *t) {
    ms_error e;
    bool ok = parse(text, t, &e);
    CHECK(ok, "rejected %s: line %" PRIu64 ": %s", text, e.line, e.message);
    CHECK(ok || e.message[0] != '\0', "failed without a message");
    return ok;
}

static bool op_is(const ms_op *op, int kind, uint32_t id, uint64_t size, uint32_t count) {
    return op->kind == kind && op->id == id && op->size == size && op->count == count;
}

/* --------------------------------------------------------- the formats */

static void test_classic(void) {
    ms_trace t;
    if (!expect_ok("20000\n6\n4\n1\na 0 2040\na 1 4010\nr 0 100\nf 1\n", &t))
        return;
    CHECK(t.format == MS_FORMAT_CLASSIC, "format %d", t.format);
    CHECK(t.header[0] == 20000 && t.header[1] == 6 && t.header[2] == 4 && t.header[3] == 1,
          "header %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64, t.header[0], t.header[1],
          t.header[2], t.header[3]);
    /* num_ids: the ids the ops use (0 and 1), which the header's 6 bounds */
    CHECK(t.num_ops == 4 && t.num_ids == 2 && t.weight == 1, "counts %" PRIu64 " %u %" PRIu64,
          t.num_ops, t.num_ids, t.weight);
    CHECK(op_is(&t.ops[0], MS_OP_ALLOC, 0, 2040, 0), "op 0");
    CHECK(op_is(&t.ops[1], MS_OP_ALLOC, 1, 4010, 0), "op 1");
    CHECK(op_is(&t.ops[2], MS_OP_REALLOC, 0, 100, 0), "op 2");
    CHECK(op_is(&t.ops[3], MS_OP_FREE, 1, 0, 0), "op 3");
    ms_trace_free(&t);
    CHECK(t.ops == NULL && t.num_ops == 0, "ms_trace_free left the trace set");
    ms_trace_free(&t); /* twice is harmless */
}

static void test_cmu(void) {
    ms_trace t;
    /* The example of the CMU README. */
    if (!expect_ok("1\n3\n8\n896\na 0 512\na 1 128\nr 0 640\na 2 128\nf 1\nr 0 768\nf 0\nf 2\n",
                   &t))
        return;
    CHECK(t.format == MS_FORMAT_CMU, "format %d", t.format);
    CHECK(t.weight == 1 && t.header[3] == 896 && t.num_ids == 3 && t.num_ops == 8,
          "weight %" PRIu64 " peak %" PRIu64, t.weight, t.header[3]);
    CHECK(op_is(&t.ops[5], MS_OP_REALLOC, 0, 768, 0), "op 5");
    ms_trace_free(&t);
}

static void test_format_boundary(void) {
    /* A first header number above 3 means classic, 3 and below CMU. */
    ms_trace t;
    if (expect_ok("3\n1\n1\n7\na 0 1\n", &t))
        CHECK(t.format == MS_FORMAT_CMU && t.weight == 3, "3 is a CMU weight");
    ms_trace_free(&t);
    if (expect_ok("4\n1\n1\n7\na 0 1\n", &t))
        CHECK(t.format == MS_FORMAT_CLASSIC && t.weight == 7, "4 is a classic heap size");
    ms_trace_free(&t);
    if (expect_ok("0\n0\n0\n18446744073709551615\n", &t))
        CHECK(t.num_ops == 0 && t.ops == NULL && t.header[3] == UINT64_MAX,
              "a header-only trace with no ops");
    ms_trace_free(&t);
}

static void test_script(void) {
    ms_trace t;
    if (!expect_ok("# a CS107 script\n\na 5 10\n  # indented comment\nf 5\na 2 1\n\n", &t))
        return;
    CHECK(t.format == MS_FORMAT_SCRIPT, "format %d", t.format);
    CHECK(t.num_ops == 3 && t.num_ids == 6, "num_ids is max id + 1: %u", t.num_ids);
    CHECK(t.header[0] == 0 && t.header[1] == 0 && t.header[2] == 0 && t.header[3] == 0 &&
              t.weight == 0,
          "a script has no header");
    CHECK(op_is(&t.ops[1], MS_OP_FREE, 5, 0, 0), "op 1");
    ms_trace_free(&t);
    if (expect_ok("f -1\n", &t))
        CHECK(t.num_ops == 1 && t.num_ids == 0 && op_is(&t.ops[0], MS_OP_FREE, MS_ID_NULL, 0, 0),
              "free(NULL) alone uses no id");
    ms_trace_free(&t);
}

static void test_tolerated(void) {
    ms_trace t;
    const char *texts[] = {
        "20000\r\n2\r\n2\r\n1\r\na 0 5\r\nf 0\r\n",    /* Windows line ends */
        "20000\n2\n2\n1\na 0 5\nf 0\n\n  \n\r\n\t\n",  /* trailing blank lines */
        "20000\n2\n2\n1\n \ta \t0   5 \t\n  f\t0  \n", /* spaces and tabs */
        "20000\n2\n2\n1\na 0 5\nf 0",                  /* no final newline */
        "\xef\xbb\xbf"
        "20000\n2\n2\n1\na 0 5\nf 0\n",                       /* a UTF-8 byte order mark */
        "# by hand\n20000\n\n2\n2\n# ops\n1\na 0 5\n\nf 0\n", /* comments, blank lines */
        "020000\n02\n002\n01\na 00 005\nf 0\n",               /* leading zeros */
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (!expect_ok(texts[i], &t))
            continue;
        CHECK(t.format == MS_FORMAT_CLASSIC && t.num_ops == 2 && t.num_ids == 1 && t.weight == 1 &&
                  op_is(&t.ops[0], MS_OP_ALLOC, 0, 5, 0) && op_is(&t.ops[1], MS_OP_FREE, 0, 0, 0),
              "text %zu parsed wrong", i);
        ms_trace_free(&t);
    }
}

static void test_semantics_accepted(void) {
    ms_trace t;
    /* realloc of a block never allocated is malloc; r to 0 frees; unbalanced
       traces (blocks never freed) are fine; ids may be reused after a free. */
    if (expect_ok("r 3 10\nr 3 0\na 3 5\na 4 1\nf 3\na 3 7\n", &t))
        CHECK(t.num_ops == 6 && t.num_ids == 5 && op_is(&t.ops[1], MS_OP_REALLOC, 3, 0, 0),
              "realloc semantics");
    ms_trace_free(&t);
    /* calloc under every header and as a script. */
    const char *callocs[] = {"20000\n1\n2\n1\nc 0 3 16\nf 0\n", "1\n1\n2\n0\nc 0 3 16\nf 0\n",
                             "c 0 3 16\nf 0\n"};
    for (size_t i = 0; i < 3; i++) {
        if (expect_ok(callocs[i], &t))
            CHECK(op_is(&t.ops[0], MS_OP_CALLOC, 0, 16, 3), "calloc %zu", i);
        ms_trace_free(&t);
    }
    /* The largest sizes and counts allowed. */
    if (expect_ok("a 0 281474976710656\nc 1 4294967295 0\nc 2 65536 4294967296\n", &t))
        CHECK(t.ops[0].size == (UINT64_C(1) << 48) &&
                  op_is(&t.ops[1], MS_OP_CALLOC, 1, 0, 4294967295u) &&
                  op_is(&t.ops[2], MS_OP_CALLOC, 2, UINT64_C(1) << 32, 65536),
              "limits");
    ms_trace_free(&t);
}

/* ---------------------------------------------------------- the errors */

static void test_header_errors(void) {
    expect_error("", 0, "empty trace file");
    expect_error("\n  \n# only comments\r\n", 0, "empty trace file");
    expect_error("20000\n6\nabc\n1\n", 3,
                 "expected the number of ops (header line 3), found 'abc'");
    expect_error("20000\n6\n", 3,
                 "expected the number of ops (header line 3), found the end of the file");
    expect_error("20000\n6\n12 7\n1\n", 3, "expected the end of header line 3, found '7'");
    expect_error("xyz\n", 1,
                 "expected a trace header (a number) or an op (a, r, f or c), found 'xyz'");
    expect_error("-5\n1\n1\n1\n", 1,
                 "expected a trace header (a number) or an op (a, r, f or c), found '-5'");
    expect_error("12abc\n", 1, "expected a number (header line 1), found '12abc'");
    expect_error("1\n2\n2\nx\n", 4, "expected the peak live bytes (header line 4), found 'x'");
    expect_error("20000\n2\n2\n-1\n", 4, "expected the weight (header line 4), found '-1'");
    expect_error("20000\n\n2\n", 4,
                 "expected the number of ops (header line 3), found the end of the file");
    expect_error("1\n16777217\n0\n0\n", 2,
                 "the number of ids 16777217 is too large (at most 16777216)");
    expect_error("1\n4294967295\n0\n0\n", 2,
                 "the number of ids 4294967295 is too large (at most 16777216)");
    expect_error("1\n99999999999999999999\n0\n0\n", 2,
                 "expected the number of ids (header line 2), found '99999999999999999999'");
    expect_error("20000 6 12 1\n", 1, "expected the end of header line 1, found '6'");
}

static void test_count_errors(void) {
    expect_error("1\n2\n3\n0\na 0 1\nf 0\n", 3, "the header declares 3 ops but the file has 2");
    expect_error("1\n2\n1\n0\na 0 1\nf 0\n\na 1 2\n", 6,
                 "the header declares 1 ops but the file has 3");
    expect_error("1\n2\n0\n0\n\nf 0\n", 6, "the header declares 0 ops but the file has 1");
}

/* The CMU drivers' fscanf reading, asked for by a lab: a missing size is the one read last,
   lines past the header's count are not read; each counted with its first line. Strict by
   default: both stay errors (test_op_errors, test_count_errors). */
static void test_driver_reading(void) {
    const unsigned cmu = MS_READ_CARRY_SIZE | MS_READ_STOP_AT_COUNT;
    const char *text = "0\n3\n5\n0\na 0 16\na 1\nf 0\nr 1 \na 2 8\nf 2\n";
    ms_trace t;
    ms_error e;
    CHECK(ms_trace_parse_text(text, strlen(text), cmu, &t, &e), "driver reading: %s", e.message);
    if (t.ops_valid) {
        CHECK(t.num_ops == 5 && op_is(&t.ops[1], MS_OP_ALLOC, 1, 16, 0) &&
                  op_is(&t.ops[3], MS_OP_REALLOC, 1, 16, 0) &&
                  op_is(&t.ops[4], MS_OP_ALLOC, 2, 8, 0),
              "sizes carried wrong");
        CHECK(t.sizes_carried == 2 && t.first_carried_line == 6,
              "carried %" PRIu64 " from %" PRIu64, t.sizes_carried, t.first_carried_line);
        CHECK(t.ops_unread == 1 && t.first_unread_line == 10, "unread %" PRIu64 " from %" PRIu64,
              t.ops_unread, t.first_unread_line);
    }
    ms_trace_free(&t);
    /* Carrying alone still counts the ops; stopping alone still wants every size. */
    CHECK(!ms_trace_parse_text(text, strlen(text), MS_READ_CARRY_SIZE, &t, &e) && e.line == 10,
          "carrying alone read past the count");
    CHECK(!ms_trace_parse_text(text, strlen(text), MS_READ_STOP_AT_COUNT, &t, &e) && e.line == 6,
          "stopping alone carried a size");
    /* The first sized op has nothing to carry: the driver's variable would be uninitialised. */
    const char *first = "0\n1\n1\n0\na 0\n";
    CHECK(!ms_trace_parse_text(first, strlen(first), cmu, &t, &e) && e.line == 5 &&
              strstr(e.message, "no size before it to carry") != NULL,
          "a first op without a size: %s", e.message);
    /* A free gives no size, and a calloc (ours, no driver's) must have both numbers. */
    const char *calloc_short = "0\n1\n1\n0\nc 0 4\n";
    CHECK(!ms_trace_parse_text(calloc_short, strlen(calloc_short), cmu, &t, &e) && e.line == 5,
          "a calloc without its size was read");
    /* Fewer ops than the header's are an error under every reading. */
    const char *few = "0\n1\n3\n0\na 0 8\nf 0\n";
    CHECK(!ms_trace_parse_text(few, strlen(few), cmu, &t, &e), "too few ops read");
    /* Unread lines are not checked: the driver never sees them. */
    const char *junk = "0\n1\n2\n0\na 0 8\nf 0\nno op at all\nf 7\n";
    CHECK(ms_trace_parse_text(junk, strlen(junk), cmu, &t, &e) && t.ops_unread == 2,
          "lines past the count were read: %s", e.message);
    ms_trace_free(&t);
}

static void test_op_errors(void) {
    expect_error("a 0 1\nx 0 1\n", 2, "expected an op (a, r, f or c), found 'x'");
    expect_error("a 0 1\nalloc 0 1\n", 2, "expected an op (a, r, f or c), found 'alloc'");
    expect_error("a 0 5\na 1\n", 2, "expected a size in bytes, found the end of the line");
    expect_error("a 0 5\nr 0\r\n", 2, "expected a size in bytes, found the end of the line");
    expect_error("a 0 5\nf\n", 2, "expected a block id, found the end of the line");
    expect_error("a 0 5 7\n", 1, "expected the end of the line, found '7'");
    expect_error("a 0 5\nf 0 x\n", 2, "expected the end of the line, found 'x'");
    expect_error("a 0 5 # why\n", 1, "expected the end of the line, found '#'");
    expect_error("a 0 -5\n", 1, "expected a size in bytes, found '-5'");
    expect_error("a 0 5k\n", 1, "expected a size in bytes, found '5k'");
    expect_error("a -1 5\n", 1, "expected a block id, found '-1'");
    expect_error("a 0 1\nf -2\n", 2, "expected a block id, found '-2'");
    expect_error("a 0 281474976710657\n", 1,
                 "size 281474976710657 is larger than any heap (at most 2^48 bytes)");
    expect_error("a 0 123456789012345678901234\n", 1,
                 "size 12345678901234567890... is larger than any heap (at most 2^48 bytes)");
    expect_error("c 0 4294967296 1\n", 1, "calloc count 4294967296 does not fit in 32 bits");
    expect_error("c 0 2 140737488355329\n", 1,
                 "size 2*140737488355329 is larger than any heap (at most 2^48 bytes)");
    expect_error("c 0 1 281474976710657\n", 1,
                 "size 281474976710657 is larger than any heap (at most 2^48 bytes)");
    expect_error("c 0 5\n", 1, "expected an element size, found the end of the line");
    expect_error("c 0 x 5\n", 1, "expected an element count, found 'x'");
    expect_error("1\n2\n1\n0\na 2 5\n", 5,
                 "block id 2 is out of range (the header declares 2 ids)");
    expect_error("1\n0\n1\n0\nf 0\n", 5, "block id 0 is out of range (the header declares 0 ids)");
    expect_error("a 16777216 1\n", 1, "block id 16777216 is too large (at most 16777215)");
    expect_error("a 4294967294 8\nf 4294967294\n", 1,
                 "block id 4294967294 is too large (at most 16777215)");
    expect_error("a 99999999999999999999999 1\n", 1,
                 "block id 99999999999999999999... is too large (at most 16777215)");
}

static void test_semantic_errors(void) {
    expect_error("a 0 1\na 0 2\n", 2, "a 0: block 0 is already allocated");
    expect_error("a 0 1\nc 0 1 2\n", 2, "c 0: block 0 is already allocated");
    expect_error("r 0 1\na 0 2\n", 2, "a 0: block 0 is already allocated");
    expect_error("a 0 1\nf 5\n", 2, "f 5: block 5 is not allocated");
    expect_error("a 0 1\nf 0\n\nf 0\n", 4, "f 0: block 0 is not allocated (it was freed before)");
    expect_error("a 0 5\nr 0 0\nf 0\n", 3, "f 0: block 0 is not allocated (it was freed before)");
}

static void test_garbage_shown(void) {
    static const char binary[] = "a 0 1\n\x01\xff\0zz 3\n";
    expect_error_len(binary, sizeof binary - 1, 2,
                     "expected an op (a, r, f or c), found '\\x01\\xff\\x00zz'");
    expect_error("a 0 1\nqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\n", 2,
                 "expected an op (a, r, f or c), found 'qqqqqqqqqqqqqqqqqqqq...'");
    expect_error("a 0 1\n'\\\n", 2, "expected an op (a, r, f or c), found '\\x27\\x5c'");
    /* A lone carriage return is not a line end (old Mac files). */
    expect_error("a 0 1\rf 0\n", 1, "expected a size in bytes, found '1\\x0df'");
}

/* --------------------------------------------------------------- files */

static const char *write_temp(const char *text) {
    static char path[] = "/tmp/test_trace_XXXXXX";
    strcpy(path, "/tmp/test_trace_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0)
        return NULL;
    size_t len = strlen(text);
    CHECK(write(fd, text, len) == (ssize_t)len, "write");
    close(fd);
    return path;
}

static void test_files(void) {
    ms_trace t;
    ms_error e;
    CHECK(!ms_trace_parse_file("/nonexistent/x.rep", MS_READ_STRICT, &t, &e),
          "a missing file parsed");
    CHECK(e.line == 0 && strcmp(e.message, "cannot open the file: No such file or directory") == 0,
          "missing file: %s", e.message);
    CHECK(!ms_trace_parse_file("/tmp", MS_READ_STRICT, &t, &e), "a directory parsed");
    CHECK(strcmp(e.message, "is a directory, not a trace file") == 0, "directory: %s", e.message);
    CHECK(!ms_trace_parse_file("/dev/null", MS_READ_STRICT, &t, &e) &&
              strcmp(e.message, "empty trace file") == 0,
          "/dev/null: %s", e.message);

    const char *path = write_temp("# made by hand\n20000\n3\n3\n1\n\na 0 1\n# a comment\nf 0\r\n"
                                  "\nf -1\n\n");
    if (path == NULL)
        return;
    if (ms_trace_parse_file(path, MS_READ_STRICT, &t, &e)) {
        CHECK(t.num_ops == 3 && t.ops[2].id == MS_ID_NULL, "file parsed wrong");
        ms_trace_free(&t);
    } else {
        CHECK(false, "%s:%" PRIu64 ": %s", path, e.line, e.message);
    }
    CHECK(ms_trace_line_of_op(path, 0) == 7, "op 0 at line %" PRIu64, ms_trace_line_of_op(path, 0));
    CHECK(ms_trace_line_of_op(path, 1) == 9, "op 1");
    CHECK(ms_trace_line_of_op(path, 2) == 11, "op 2");
    CHECK(ms_trace_line_of_op(path, 3) == 0, "no op 3");
    unlink(path);

    path = write_temp("\n# script\na 0 1\n\nf 0\n");
    if (path == NULL)
        return;
    CHECK(ms_trace_line_of_op(path, 0) == 3 && ms_trace_line_of_op(path, 1) == 5, "script lines");
    unlink(path);
    CHECK(ms_trace_line_of_op("/nonexistent/x.rep", 0) == 0, "line of a missing file");
}

/* A trace read from a pipe (as from `<(zcat x.rep.gz)`) rather than mapped:
   larger than a pipe's buffer, so a child process writes it. */
static void test_pipe(void) {
    enum { OPS = 50000 };
    int fds[2];
    if (pipe(fds) != 0) {
        CHECK(false, "pipe");
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        for (int i = 0; i < OPS; i++)
            if (write(fds[1], "f -1\n", 5) != 5)
                _exit(1);
        _exit(0);
    }
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    ms_trace t;
    ms_error e;
    bool ok = ms_trace_parse_file(path, MS_READ_STRICT, &t, &e);
    CHECK(ok && t.num_ops == OPS && t.format == MS_FORMAT_SCRIPT, "pipe: %s", e.message);
    if (ok)
        ms_trace_free(&t);
    close(fds[0]);
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the writer failed");
}

/* ---------------------------------------------------- reference traces */

/* Reads a trace the obvious way (fscanf) to compare with the parser on
   well-formed files; false when it cannot. */
static bool naive_read(const char *path, uint64_t header[4], ms_op *ops, uint64_t max_ops) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool ok = fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &header[0], &header[1],
                     &header[2], &header[3]) == 4 &&
              header[2] <= max_ops;
    for (uint64_t i = 0; ok && i < header[2]; i++) {
        char kind;
        ok = fscanf(f, " %c %" SCNu32, &kind, &ops[i].id) == 2;
        ops[i].size = 0;
        ops[i].kind = kind == 'a' ? MS_OP_ALLOC : kind == 'r' ? MS_OP_REALLOC : MS_OP_FREE;
        if (ok && kind != 'f')
            ok = fscanf(f, "%" SCNu64, &ops[i].size) == 1;
    }
    fclose(f);
    return ok;
}

static void check_reference_file(const char *path) {
    ms_trace t;
    ms_error e;
    if (!ms_trace_parse_file(path, MS_READ_STRICT, &t, &e)) {
        CHECK(false, "%s:%" PRIu64 ": %s", path, e.line, e.message);
        return;
    }
    enum { MAX_OPS = 200000 };
    static ms_op naive[MAX_OPS];
    uint64_t header[4];
    bool read = naive_read(path, header, naive, MAX_OPS);
    CHECK(read, "%s: the naive reader failed", path);
    if (read) {
        CHECK(memcmp(header, t.header, sizeof header) == 0, "%s: header differs", path);
        uint64_t differ = 0;
        for (uint64_t i = 0; i < t.num_ops; i++)
            differ += !op_is(&t.ops[i], naive[i].kind, naive[i].id, naive[i].size, 0);
        CHECK(differ == 0, "%s: %" PRIu64 " ops differ", path, differ);
    }
    CHECK(t.num_ops == t.header[2] && t.num_ids == t.header[1], "%s: counts", path);
    CHECK(t.format == (t.header[0] > 3 ? MS_FORMAT_CLASSIC : MS_FORMAT_CMU), "%s: format", path);
    CHECK(t.weight == (t.format == MS_FORMAT_CLASSIC ? t.header[3] : t.header[0]), "%s: weight",
          path);
    CHECK(ms_trace_line_of_op(path, 0) == 5 &&
              ms_trace_line_of_op(path, t.num_ops - 1) == 4 + t.num_ops,
          "%s: op lines", path);
    ms_trace_free(&t);
}

static int reference_files(const char *folder) {
    char dir_path[256];
    snprintf(dir_path, sizeof dir_path, "%s/%s", SHARED_TRACES, folder);
    DIR *dir = opendir(dir_path);
    if (dir == NULL)
        return 0;
    int n = 0;
    for (struct dirent *d; (d = readdir(dir)) != NULL;) {
        size_t len = strlen(d->d_name);
        if (len < 4 || strcmp(d->d_name + len - 4, ".rep") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir_path, d->d_name);
        check_reference_file(path);
        n++;
    }
    closedir(dir);
    return n;
}

static void check_header(const char *name, int format, uint64_t h0, uint64_t h1, uint64_t h2,
                         uint64_t h3) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", SHARED_TRACES, name);
    ms_trace t;
    ms_error e;
    if (!ms_trace_parse_file(path, MS_READ_STRICT, &t, &e)) {
        CHECK(false, "%s:%" PRIu64 ": %s", path, e.line, e.message);
        return;
    }
    CHECK(t.format == format && t.header[0] == h0 && t.header[1] == h1 && t.header[2] == h2 &&
              t.header[3] == h3,
          "%s: header", name);
    ms_trace_free(&t);
}

static void test_reference_traces(void) {
    if (access(SHARED_TRACES, R_OK) != 0) {
        printf("test_trace: %s is absent, reference traces skipped\n", SHARED_TRACES);
        return;
    }
    int n = reference_files("classic") + reference_files("cmu");
    CHECK(n >= 20, "only %d reference traces", n);
    check_header("classic/amptjp-bal.rep", MS_FORMAT_CLASSIC, 3000000, 2847, 5694, 1);
    check_header("classic/realloc-bal.rep", MS_FORMAT_CLASSIC, 100, 4801, 14401, 1);
    check_header("cmu/syn-array.rep", MS_FORMAT_CMU, 1, 40000, 80000, 31312856);
    check_header("cmu/syn-largemem-short.rep", MS_FORMAT_CMU, 0, 21, 42, 38654727413);
}

/* -------------------------------------------------------------- fuzzing */

/* Whatever the input, the parser returns either a one-line error on a line
   of the text or a trace whose every op respects the limits. */
static void check_any(const char *text, size_t len) {
    ms_trace t;
    ms_error e;
    if (!ms_trace_parse_text(text, len, MS_READ_STRICT, &t, &e)) {
        uint64_t lines = 1;
        for (size_t i = 0; i < len; i++)
            lines += text[i] == '\n';
        CHECK(e.message[0] != '\0' && strchr(e.message, '\n') == NULL && e.line <= lines,
              "bad error: line %" PRIu64 ": %s", e.line, e.message);
        return;
    }
    uint64_t bad = 0;
    for (uint64_t i = 0; i < t.num_ops; i++) {
        const ms_op *op = &t.ops[i];
        bad += op->kind > MS_OP_CALLOC || op->size > (UINT64_C(1) << 48) ||
               (op->id >= t.num_ids && !(op->kind == MS_OP_FREE && op->id == MS_ID_NULL)) ||
               (op->kind != MS_OP_CALLOC && op->count != 0);
    }
    CHECK(bad == 0, "%" PRIu64 " ops break the limits", bad);
    CHECK(t.format == MS_FORMAT_SCRIPT || t.num_ops == t.header[2], "op count");
    ms_trace_free(&t);
}

static void test_fuzz(void) {
    static const char alphabet[] = "0123456789arfcx -#\t\r\n\n\n";
    char text[256];
    for (int round = 0; round < 100000; round++) {
        size_t len = check_random() % sizeof text;
        for (size_t i = 0; i < len; i++) {
            uint64_t r = check_random();
            text[i] = r % 8 == 0 ? (char)(r >> 8) : alphabet[(r >> 8) % (sizeof alphabet - 1)];
        }
        check_any(text, len);
    }
    /* Mutations of a valid trace, so that deep paths are reached too. */
    static const char valid[] = "20000\n4\n6\n1\na 0 10\nc 1 2 8\nr 0 20\nf 1\nf 0\nf -1\n";
    for (int round = 0; round < 100000; round++) {
        memcpy(text, valid, sizeof valid - 1);
        size_t len = sizeof valid - 1;
        for (int k = (int)(check_random() % 3); k >= 0; k--)
            text[check_random() % len] = alphabet[check_random() % (sizeof alphabet - 1)];
        check_any(text, len - check_random() % 3);
    }
}

int main(void) {
    test_classic();
    test_cmu();
    test_format_boundary();
    test_script();
    test_tolerated();
    test_semantics_accepted();
    test_header_errors();
    test_count_errors();
    test_op_errors();
    test_driver_reading();
    test_semantic_errors();
    test_garbage_shown();
    test_files();
    test_pipe();
    test_reference_traces();
    test_fuzz();
    return CHECK_DONE();
}
