/*
 * interposer.c - a test library preloaded in front of a malloc: it counts the calls it sees.
 *
 * Not an allocator: a fixture for tests of the libraries that sit in front of or behind one.
 * Preloaded before a malloc (LD_PRELOAD="interposer.so next.so", or alone in front of glibc's),
 * it forwards malloc, free, calloc and realloc to the next definition (dlsym(RTLD_NEXT)),
 * counts each, and at exit writes one line on stderr:
 *     interposer: malloc M free F calloc C realloc R
 * So a test can tell whether the malloc behind it calls its own exported functions: glibc's
 * malloc, free and realloc never do (a program's realloc(NULL, n) reaches an interposer as one
 * realloc, no malloc); its reallocarray calls realloc, so it is counted as one.
 *
 * Fault switch: with INTERPOSER_REENTER=1 in the environment, realloc(NULL, n) calls malloc(n)
 * through the dynamic linker, as a naive malloc library does. Preloaded behind another
 * interposer, it so calls back into that one while serving it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
} next;

/* malloc as the dynamic linker binds it for the program: the first library's. */
static void *(*first_malloc)(size_t);

static atomic_ulong mallocs, frees, callocs, reallocs;
static bool reenter;

/* Zeroed memory for the calls dlsym may make while it resolves the next functions. */
static _Alignas(16) char boot[1024];
static size_t boot_used;
static bool resolving;

static void *boot_alloc(size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (size > sizeof boot - boot_used)
        return NULL;
    boot_used += size;
    return boot + boot_used - size;
}

static bool is_boot(const void *p) {
    return (const char *)p >= boot && (const char *)p < boot + sizeof boot;
}

/* Find the next functions on the first call (made before any thread starts). */
static bool resolved(void) {
    if (next.malloc != NULL)
        return true;
    if (resolving)
        return false;
    resolving = true;
    next.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    next.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    next.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    first_malloc = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
    const char *switch_ = getenv("INTERPOSER_REENTER");
    reenter = switch_ != NULL && switch_[0] == '1';
    next.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    resolving = false;
    return true;
}

__attribute__((visibility("default"))) void *malloc(size_t size) {
    if (!resolved())
        return boot_alloc(size);
    atomic_fetch_add(&mallocs, 1);
    return next.malloc(size);
}

__attribute__((visibility("default"))) void free(void *p) {
    if (is_boot(p) || !resolved())
        return;
    atomic_fetch_add(&frees, 1);
    next.free(p);
}

__attribute__((visibility("default"))) void *calloc(size_t count, size_t size) {
    if (!resolved())
        return count != 0 && size > sizeof boot / count ? NULL : boot_alloc(count * size);
    atomic_fetch_add(&callocs, 1);
    return next.calloc(count, size);
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t size) {
    if (!resolved() || is_boot(p))
        return NULL; /* dlsym never reallocates; a test program never sees the buffer */
    atomic_fetch_add(&reallocs, 1);
    if (p == NULL && reenter)
        return first_malloc(size);
    return next.realloc(p, size);
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "interposer: malloc %lu free %lu calloc %lu realloc %lu\n",
            atomic_load(&mallocs), atomic_load(&frees), atomic_load(&callocs),
            atomic_load(&reallocs));
}
