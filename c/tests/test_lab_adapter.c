/*
 * test_lab_adapter.c - the lab headers (c/include/labs/) and the adapter the driver appends to a
 * student's mm.c, built the way the driver builds one.
 *
 * Every heap-checker signature a student writes (int, bool or void; taking an int or nothing; an
 * old-style one without a prototype; static or not) and one the adapter does not know is put in a
 * small mm.c, the adapter appended, and compiled into a shared library with each C compiler found
 * (gcc, clang) at -Wall -Wextra -Werror: the adapter must add no warning. Loaded with dlopen, the
 * library's ms_lab_checkheap_kind must name the signature and ms_lab_checkheap must call the
 * checker through it, passing the argument and reporting its answer as 1 or 0 (a void checker: 1).
 * Loaded with ms_allocator_open, the engine must prefer ms_lab_checkheap, call it after every op
 * with the op index (cmu dialect) or 0 (classic), and stop where it reports a broken heap; an
 * unknown signature must leave the allocator with no checker at all.
 *
 * Then each lab's headers against a student-style mm.c of that lab, compiled unchanged at -Werror
 * with the simulated heap linked in: the CS:APP one's own "void *mem_sbrk(int incr);" prototype
 * (and its calls reach mem_sbrk_int: a negative incr is refused), its team record through
 * ms_lab_team; the CMU F20 one's renaming under DRIVER, mem_read, mem_write, mem_memset,
 * mem_get_max_addr; the older CMU one's int mm_init and a student's own bool, which its mm.h
 * must not clash with. With no compiler, the test says so and passes.
 */
#include "check.h"
#include "mallocsim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LABS_DIR
#error "build with -DLABS_DIR='\"<checkout>/c/include/labs\"'"
#endif
#define SRC_DIR LABS_DIR "/../../src"
#define INCLUDE_DIR LABS_DIR "/.."

static char dir[] = "/tmp/ms-test-lab-adapter-XXXXXX";

/* Whether `compiler` runs here. */
static bool have(const char *compiler) {
    char command[128];
    snprintf(command, sizeof command, "command -v %s >/dev/null 2>&1", compiler);
    return system(command) == 0;
}

/* Write `source` to dir/name.c and build dir/name.so for `lab` with `compiler`, plus `extra`
   (sources or flags); false, with the compiler's messages shown, when it does not build. */
static bool build(const char *compiler, const char *lab, const char *name, const char *source,
                  const char *extra) {
    char path[256], command[2048];
    snprintf(path, sizeof path, "%s/%s.c", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    fputs(source, f);
    fclose(f);
    snprintf(command, sizeof command,
             "%s -std=gnu11 -O1 -Wall -Wextra -Werror -fPIC -shared -DDRIVER -I%s/%s -I%s "
             "-o %s/%s.so %s %s",
             compiler, LABS_DIR, lab, LABS_DIR, dir, name, path, extra);
    bool ok = system(command) == 0;
    CHECK(ok, "%s: %s for %s does not build cleanly: %s", compiler, name, lab, command);
    unlink(path);
    return ok;
}

static void *open_library(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s.so", dir, name);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(handle != NULL, "dlopen %s: %s", path, dlerror());
    return handle;
}

/* A function of the library, by name (the POSIX dlsym idiom). */
#define SYMBOL(handle, name, out)                                                                  \
    do {                                                                                           \
        *(void **)(&(out)) = dlsym((handle), (name));                                              \
        CHECK((out) != NULL, "%s is not exported", (name));                                        \
    } while (0)

/* ------------------------------------------------------------- checkers */

typedef struct {
    const char *what; /* the signature, for messages */
    const char *code; /* the checker, %s its name */
    int kind;         /* what ms_lab_checkheap_kind must answer */
    bool takes_arg;   /* it sees the argument: consistent unless it is 7 */
    bool can_fail;    /* it reports a broken heap (a void one cannot) */
} checker;

static const checker CHECKERS[] = {
    {"int (int)", "int %s(int arg) { calls++; last = arg; return arg == 7 ? 0 : 5; }", 1, true,
     true},
    {"int (void)", "int %s(void) { calls++; return broken ? 0 : 3; }", 2, false, true},
    {"bool (int)", "bool %s(int lineno) { calls++; last = lineno; return lineno != 7; }", 3, true,
     true},
    {"bool (void)", "bool %s(void) { calls++; return !broken; }", 4, false, true},
    {"void (int)", "void %s(int verbose) { calls++; last = verbose; }", 5, true, false},
    {"void (void)", "void %s(void) { calls++; }", 6, false, false},
    {"int () old-style", "int %s() { calls++; return !broken; }", 2, false, true},
    {"long (const char *)", "long %s(const char *why) { calls++; return why != NULL; }", 0, false,
     false},
};
enum { NUM_CHECKERS = sizeof CHECKERS / sizeof CHECKERS[0] };

/* The rest of a tiny cmu-dialect mm.c: no heap needed, as the trace below only frees NULL. */
static const char CMU_BODY[] =
    "#include \"memlib.h\"\n"
    "#include \"mm.h\"\n"
    "#include <stddef.h>\n"
    "int ms_test_calls(void);\n"
    "int ms_test_last(void);\n"
    "void ms_test_break(int on);\n"
    "static int calls, last = -1, broken;\n"
    "int ms_test_calls(void) { return calls; }\n"
    "int ms_test_last(void) { return last; }\n"
    "void ms_test_break(int on) { broken = on; }\n"
    "bool mm_init(void) { return true; }\n"
    "void *mm_malloc(size_t size) { (void)size; return NULL; }\n"
    "void mm_free(void *ptr) { (void)ptr; }\n"
    "void *mm_realloc(void *ptr, size_t size) { (void)ptr; (void)size; return NULL; }\n";

typedef struct {
    void *handle;
    int (*kind)(void);
    int (*check)(int);
    int (*calls)(void);
    int (*last)(void);
    void (*set_broken)(int);
} loaded;

static bool load(const char *name, loaded *l) {
    memset(l, 0, sizeof *l);
    l->handle = open_library(name);
    if (l->handle == NULL)
        return false;
    SYMBOL(l->handle, "ms_lab_checkheap_kind", l->kind);
    SYMBOL(l->handle, "ms_lab_checkheap", l->check);
    SYMBOL(l->handle, "ms_test_calls", l->calls);
    SYMBOL(l->handle, "ms_test_last", l->last);
    SYMBOL(l->handle, "ms_test_break", l->set_broken);
    return l->kind != NULL && l->check != NULL && l->calls != NULL && l->last != NULL &&
           l->set_broken != NULL;
}

/* Ten frees of NULL: the checker runs after each, the cmu argument being the op's index. */
static ms_check_result replay_checked(const char *name, int dialect) {
    static ms_op ops[10];
    for (int i = 0; i < 10; i++)
        ops[i] = (ms_op){.kind = MS_OP_FREE, .id = MS_ID_NULL};
    ms_trace trace = {.ops = ops, .num_ops = 10, .num_ids = 1};
    ms_check_result r;
    memset(&r, 0, sizeof r);
    char path[256];
    snprintf(path, sizeof path, "%s/%s.so", dir, name);
    ms_allocator a;
    ms_error err;
    if (!ms_allocator_open(path, dialect, NULL, &a, &err)) {
        CHECK(false, "ms_allocator_open %s: %s", path, err.message);
        return r;
    }
    ms_check_options options = {.check_heap = true};
    ms_replay_checked(&trace, &a, &options, &r);
    ms_allocator_close(&a);
    return r;
}

/* One checker, static or not, built with one compiler: its kind, direct calls, and the engine.
   It is named mm_check: the CMU header declares mm_checkheap's one signature, as the handout's. */
static void test_checker(const char *compiler, const checker *c, bool is_static) {
    const char *checker_name = "mm_check";
    char code[256], source[4096];
    snprintf(code, sizeof code, c->code, checker_name);
    snprintf(source, sizeof source,
             "%s%s%s\n#define MS_CHECKER %s\n#include \"ms_lab_adapter.h\"\n", CMU_BODY,
             is_static ? "static " : "", code, checker_name);
    char what[128];
    snprintf(what, sizeof what, "%s: %s%s", compiler, is_static ? "static " : "", c->what);
    if (!build(compiler, "cmu", "checker", source, ""))
        return;
    loaded l;
    if (!load("checker", &l)) {
        if (l.handle != NULL)
            dlclose(l.handle);
        return;
    }
    CHECK(l.kind() == c->kind, "%s: kind %d, expected %d", what, l.kind(), c->kind);
    if (c->kind == 0) {
        CHECK(l.check(3) == 1 && l.calls() == 0, "%s: an unknown checker was called", what);
    } else if (c->takes_arg) {
        CHECK(l.check(3) == 1 && l.last() == 3, "%s: check(3) or its argument (%d)", what,
              l.last());
        CHECK(l.check(7) == (c->can_fail ? 0 : 1) && l.last() == 7, "%s: check(7)", what);
        CHECK(l.calls() == 2, "%s: %d calls", what, l.calls());
    } else {
        CHECK(l.check(3) == 1, "%s: a consistent heap reported broken", what);
        l.set_broken(1);
        CHECK(l.check(3) == (c->can_fail ? 0 : 1), "%s: a broken heap", what);
        l.set_broken(0);
        CHECK(l.calls() == 2, "%s: %d calls", what, l.calls());
    }
    dlclose(l.handle);

    /* Through the engine: each replay reloads the library (ms_allocator_open), state afresh. */
    ms_check_result r = replay_checked("checker", MS_DIALECT_CMU);
    if (c->kind == 0) {
        CHECK(!r.valid && r.failure.kind == MS_FAIL_NO_CHECKHEAP,
              "%s: an unknown checker signature left a checker to call (%s)", what, r.error);
    } else if (c->takes_arg && c->can_fail) {
        CHECK(!r.valid && r.failure.kind == MS_FAIL_CHECKHEAP && r.failure.op == 7,
              "%s: the engine did not stop at op 7 (the argument): %s", what, r.error);
    } else {
        CHECK(r.valid, "%s: %s", what, r.error);
    }
    char path[256];
    snprintf(path, sizeof path, "%s/checker.so", dir);
    unlink(path);
}

/* Without MS_CHECKER there is no ms_lab_checkheap: the engine takes mm_checkheap per the
   dialect, as before the adapter (here the cmu one, bool (int)). */
static void test_no_checker_named(const char *compiler) {
    char source[4096];
    snprintf(source, sizeof source,
             "%sbool mm_checkheap(int lineno) { calls++; last = lineno; return true; }\n"
             "#include \"ms_lab_adapter.h\"\n",
             CMU_BODY);
    if (!build(compiler, "cmu", "plain", source, ""))
        return;
    void *handle = open_library("plain");
    if (handle == NULL)
        return;
    CHECK(dlsym(handle, "ms_lab_checkheap") == NULL, "%s: ms_lab_checkheap without MS_CHECKER",
          compiler);
    dlclose(handle);
    char path[256];
    snprintf(path, sizeof path, "%s/plain.so", dir);
    ms_allocator a;
    ms_error err;
    if (ms_allocator_open(path, MS_DIALECT_CMU, NULL, &a, &err)) {
        CHECK(a.checkheap != NULL && a.checkheap_kind == MS_CHECKHEAP_DIALECT,
              "%s: mm_checkheap not taken", compiler);
        ms_allocator_close(&a);
    } else {
        CHECK(false, "%s: %s", compiler, err.message);
    }
    unlink(path);
}

/* ------------------------------------------------------ the labs' headers */

/* The CS:APP lab: int mm_init, team_t, mem_sbrk(int) with the student's own prototype, a static
   int mm_check(void) (the write-up's), run by the engine in the classic dialect with 0. */
static const char CSAPP_MM[] =
    "#include <stdio.h>\n"
    "#include <string.h>\n"
    "#include <unistd.h>\n"
    "#include \"memlib.h\"\n"
    "#include \"mm.h\"\n"
    "team_t team = {\"bovik\", \"Harry Bovik\", \"bovik\", \"\", \"\"};\n"
    "void *mem_sbrk(int incr);\n" /* as students write it */
    "void *ms_test_grow(int incr);\n"
    "static int checks;\n"
    "static char *heap_listp;\n"
    "int mm_init(void) {\n"
    "    heap_listp = mem_sbrk(16);\n"
    "    return heap_listp == (void *)-1 ? -1 : 0;\n"
    "}\n"
    "void *mm_malloc(size_t size) {\n"
    "    int newsize = (int)((size + 15) & ~(size_t)15);\n"
    "    char *p = mem_sbrk(newsize);\n"
    "    return p == (void *)-1 ? NULL : p;\n"
    "}\n"
    "void mm_free(void *ptr) { (void)ptr; }\n"
    "void *mm_realloc(void *ptr, size_t size) { (void)ptr; return mm_malloc(size); }\n"
    "void *ms_test_grow(int incr) { return mem_sbrk(incr); }\n"
    "int ms_test_checks(void);\n"
    "int ms_test_checks(void) { return checks; }\n"
    "static int mm_check(void) {\n"
    "    checks++;\n"
    "    return mem_heap_lo() <= mem_heap_hi() && mem_heapsize() <= 20 * (1 << 20) &&\n"
    "           mem_pagesize() > 0;\n"
    "}\n"
    "#define MS_CHECKER mm_check\n"
    "#define MS_LAB_TEAM\n"
    "#include \"ms_lab_adapter.h\"\n";

/* The CMU F20 lab: the handout's renaming under DRIVER (memset and memcpy too), bool mm_init,
   the emulation accessors, bool mm_checkheap(int) as the handout's mm.h declares it. */
static const char CMU_MM[] =
    "#include <stdbool.h>\n"
    "#include <stdint.h>\n"
    "#include <string.h>\n"
    "#include \"memlib.h\"\n"
    "#include \"mm.h\"\n"
    "#ifdef DRIVER\n"
    "#define malloc mm_malloc\n"
    "#define free mm_free\n"
    "#define realloc mm_realloc\n"
    "#define calloc mm_calloc\n"
    "#define memset mem_memset\n"
    "#define memcpy mem_memcpy\n"
    "#endif\n"
    "static char *top;\n"
    "bool mm_init(void) {\n"
    "    top = mem_sbrk(16);\n"
    "    if (top == (void *)-1) return false;\n"
    "    mem_write(top, 0x1, 8);\n"
    "    return mem_read(top, 8) == 1;\n"
    "}\n"
    "void *malloc(size_t size) {\n"
    "    char *p = mem_sbrk((intptr_t)((size + 15) & ~(size_t)15));\n"
    "    return p == (void *)-1 ? NULL : p;\n"
    "}\n"
    "void free(void *ptr) { (void)ptr; }\n"
    "void *realloc(void *ptr, size_t size) { (void)ptr; return malloc(size); }\n"
    "void *calloc(size_t n, size_t size) {\n"
    "    void *p = malloc(n * size);\n"
    "    if (p != NULL) memset(p, 0, n * size);\n"
    "    return p;\n"
    "}\n"
    "uint64_t ms_test_probe(void);\n"
    "uint64_t ms_test_probe(void) {\n"
    "    char *p = malloc(32);\n"
    "    mem_write(p, 0x0102030405060708u, 8);\n"
    "    memcpy(p + 8, p, 8);\n"
    "    memset(p + 16, 0, 16);\n"
    "#ifdef __SIZEOF_INT128__\n"
    "    mem_write128(p + 16, mem_read128(p));\n"
    "    if (mem_read(p + 28, 4) != mem_read(p + 12, 4)) return 0;\n"
    "#endif\n"
    "    return (void *)(p + 32) <= mem_get_max_addr() ? mem_read(p + 12, 4) : 0;\n"
    "}\n"
    "bool mm_checkheap(int lineno) { return lineno >= 0 && top != NULL; }\n"
    "#define MS_CHECKER mm_checkheap\n"
    "#include \"ms_lab_adapter.h\"\n";

/* The older CMU lab: int mm_init, a student's own bool (its mm.h must not bring <stdbool.h>),
   void mm_checkheap(int verbose). */
static const char CMU_2015_MM[] =
    "#include <stdint.h>\n"
    "#include \"memlib.h\"\n"
    "#include \"mm.h\"\n"
    "typedef int bool;\n"
    "#define true 1\n"
    "#ifdef DRIVER\n"
    "#define malloc mm_malloc\n"
    "#define free mm_free\n"
    "#define realloc mm_realloc\n"
    "#define calloc mm_calloc\n"
    "#endif\n"
    "static bool ready;\n"
    "int mm_init(void) { ready = true; return mem_sbrk(0) == (void *)-1 ? -1 : 0; }\n"
    "void *malloc(size_t size) {\n"
    "    char *p = mem_sbrk((intptr_t)((size + 15) & ~(size_t)15));\n"
    "    return p == (void *)-1 ? NULL : p;\n"
    "}\n"
    "void free(void *ptr) { (void)ptr; }\n"
    "void *realloc(void *ptr, size_t size) { (void)ptr; return malloc(size); }\n"
    "void *calloc(size_t n, size_t size) { return malloc(n * size); }\n"
    "void mm_checkheap(int verbose) {\n"
    "    if (verbose && ready) printf(\"heap %p..%p\\n\", mem_heap_lo(), mem_heap_hi());\n"
    "}\n"
    "#define MS_CHECKER mm_checkheap\n"
    "#include \"ms_lab_adapter.h\"\n";

/* The simulated heap, compiled on its own against the project's memlib.h (a lab's memlib.h
   would be found first in the library's build) and linked into each library: the test binary
   does not export its own. */
static char with_heap[300];

static bool build_heap(const char *compiler) {
    char command[1024];
    snprintf(with_heap, sizeof with_heap, "%s/heap.o", dir);
    snprintf(command, sizeof command,
             "%s -std=c11 -D_GNU_SOURCE -O1 -Wall -Wextra -Werror -fPIC -I%s -c -o %s %s/memlib.c",
             compiler, INCLUDE_DIR, with_heap, SRC_DIR);
    bool ok = system(command) == 0;
    CHECK(ok, "%s: the heap does not build: %s", compiler, command);
    return ok;
}

/* The CS:APP handout's team_t, as the library lays it out. */
typedef struct {
    char *teamname, *name1, *id1, *name2, *id2;
} team_record;

static void test_csapp(const char *compiler) {
    if (!build(compiler, "csapp", "csapp", CSAPP_MM, with_heap))
        return;
    void *handle = open_library("csapp");
    if (handle == NULL)
        return;
    void *(*grow)(int);
    const team_record *(*team_of)(void);
    int (*kind)(void);
    SYMBOL(handle, "ms_test_grow", grow);
    SYMBOL(handle, "ms_lab_team", team_of);
    SYMBOL(handle, "ms_lab_checkheap_kind", kind);
    CHECK(dlsym(handle, "mem_sbrk_int") != NULL, "%s: mem_sbrk_int is not in the library",
          compiler);
    if (grow != NULL)
        CHECK(grow(32) != (void *)-1 && grow(-16) == (void *)-1,
              "%s: the student's mem_sbrk(int) is not mem_sbrk_int (a negative incr passed)",
              compiler);
    if (team_of != NULL)
        CHECK(strcmp(team_of()->teamname, "bovik") == 0 && strcmp(team_of()->id1, "bovik") == 0,
              "%s: the team record", compiler);
    if (kind != NULL)
        CHECK(kind() == 2, "%s: mm_check(void) is kind %d", compiler, kind());
    dlclose(handle);
}

static void test_cmu(const char *compiler) {
    if (!build(compiler, "cmu", "cmu", CMU_MM, with_heap))
        return;
    void *handle = open_library("cmu");
    if (handle == NULL)
        return;
    bool (*init)(void);
    uint64_t (*probe)(void);
    int (*kind)(void);
    SYMBOL(handle, "mm_init", init);
    SYMBOL(handle, "ms_test_probe", probe);
    SYMBOL(handle, "ms_lab_checkheap_kind", kind);
    CHECK(dlsym(handle, "mm_malloc") != NULL && dlsym(handle, "mm_calloc") != NULL,
          "%s: the DRIVER renaming did not give mm_malloc and mm_calloc", compiler);
    if (init != NULL && probe != NULL) {
        CHECK(init(), "%s: mm_init over mem_read and mem_write", compiler);
        CHECK(probe() == 0x01020304u, "%s: mem_read, mem_write, mem_memcpy: 0x%llx", compiler,
              (unsigned long long)probe());
    }
    if (kind != NULL)
        CHECK(kind() == 3, "%s: bool mm_checkheap(int) is kind %d", compiler, kind());
    dlclose(handle);
}

static void test_cmu_2015(const char *compiler) {
    if (!build(compiler, "cmu-2015", "cmu2015", CMU_2015_MM, with_heap))
        return;
    void *handle = open_library("cmu2015");
    if (handle == NULL)
        return;
    int (*init)(void);
    int (*kind)(void);
    SYMBOL(handle, "mm_init", init);
    SYMBOL(handle, "ms_lab_checkheap_kind", kind);
    if (init != NULL)
        CHECK(init() == 0, "%s: int mm_init", compiler);
    if (kind != NULL)
        CHECK(kind() == 5, "%s: void mm_checkheap(int) is kind %d", compiler, kind());
    CHECK(dlsym(handle, "mm_free") != NULL, "%s: no mm_free", compiler);
    dlclose(handle);
}

/* Without DRIVER the student's functions keep the standard names the CMU headers declare. */
static void test_without_driver(const char *compiler) {
    static const char *const labs[] = {"cmu", "cmu-2015"};
    static const char *const sources[] = {CMU_MM, CMU_2015_MM};
    for (int i = 0; i < 2; i++) {
        char path[256], command[1024];
        snprintf(path, sizeof path, "%s/nodriver.c", dir);
        FILE *f = fopen(path, "w");
        if (f == NULL)
            return;
        fputs(sources[i], f);
        fclose(f);
        snprintf(command, sizeof command,
                 "%s -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -I%s/%s -I%s %s", compiler,
                 LABS_DIR, labs[i], LABS_DIR, path);
        CHECK(system(command) == 0, "%s: %s without DRIVER: %s", compiler, labs[i], command);
        unlink(path);
    }
}

int main(void) {
    if (mkdtemp(dir) == NULL) {
        CHECK(false, "mkdtemp failed");
        return CHECK_DONE();
    }
    static const char *const compilers[] = {"gcc", "clang"};
    int built = 0;
    for (size_t k = 0; k < sizeof compilers / sizeof compilers[0]; k++) {
        const char *compiler = compilers[k];
        if (!have(compiler))
            continue;
        built++;
        for (size_t i = 0; i < NUM_CHECKERS; i++)
            for (int is_static = 0; is_static <= 1; is_static++)
                test_checker(compiler, &CHECKERS[i], is_static);
        test_no_checker_named(compiler);
        if (build_heap(compiler)) {
            test_csapp(compiler);
            test_cmu(compiler);
            test_cmu_2015(compiler);
        }
        test_without_driver(compiler);
    }
    if (built == 0)
        printf("test_lab_adapter: no gcc or clang, the lab builds left to the Python tests\n");
    char command[256];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
