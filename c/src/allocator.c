/*
 * allocator.c - loading an allocator into an ms_allocator function table.
 *
 * ms_allocator_open dlopens a library exporting the mm.h names and fills the
 * table; the caller states the dialect, which is never guessed. It is two steps,
 * which a sandboxed process takes apart: ms_allocator_load runs none of the code
 * of a student's mm.c built by the grader (the build defers its constructors:
 * c/include/labs/ms_lab_constructors.ld), and ms_allocator_start, once the
 * process is sealed, runs them (the adapter's ms_lab_start), asks the adapter
 * about the checker and applies the options. Two entries
 * have a dialect-dependent type, and the replay engine converts them back
 * before calling them (calling through the wrong type is undefined, and a
 * bool return leaves the upper bits of the register unspecified):
 *   init       int mm_init(void) (classic) or bool mm_init(void) (cmu), kept
 *              as the void * that dlsym returned;
 *   checkheap  stored as int (*)(int) but, for the cmu dialect's own
 *              mm_checkheap, really bool (*)(int) (checkheap_kind says which).
 * A student's mm.c built with the lab adapter (c/include/labs/ms_lab_adapter.h)
 * exports ms_lab_checkheap, an int (*)(int) in either dialect that calls the
 * student's checker through its real type, whatever it is named and however
 * it is declared: it is preferred to mm_checkheap, whose type could only be
 * guessed. When the adapter says it did not recognise the checker's signature
 * (ms_lab_checkheap_kind() == 0), there is no checker: calling mm_checkheap
 * through a type it may not have would be undefined.
 * Every failure is one line in err->message naming the library.
 */
#include "mallocsim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ms_abi_version(void) { return MS_ABI_VERSION; }

static void set_error(ms_error *err, const char *path, const char *what, const char *detail) {
    err->line = 0;
    snprintf(err->message, sizeof err->message, "%s: %s%s", path, what, detail);
    /* dlerror() text may hold newlines; the message is one line. */
    for (char *c = err->message; *c != '\0'; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

/* The symbol's address, or NULL when the library does not export it. */
static void *find(void *handle, const char *name) {
    dlerror();
    return dlsym(handle, name);
}

bool ms_allocator_load(const char *path, int dialect, ms_allocator *out, ms_error *err) {
    memset(out, 0, sizeof *out);
    err->message[0] = '\0';
    err->line = 0;
    if (dialect != MS_DIALECT_CLASSIC && dialect != MS_DIALECT_CMU) {
        set_error(err, path, "unknown dialect (expected classic or cmu)", "");
        return false;
    }
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        if (why == NULL)
            why = "unknown error";
        /* dlerror often repeats the path: say it once. */
        size_t n = strlen(path);
        if (strncmp(why, path, n) == 0 && strncmp(why + n, ": ", 2) == 0)
            why += n + 2;
        set_error(err, path, "cannot load: ", why);
        return false;
    }

    ms_allocator a = {.handle = handle, .dialect = dialect};
    static const char *const required[] = {"mm_init", "mm_malloc", "mm_free", "mm_realloc"};
    void *sym[4];
    for (size_t i = 0; i < 4; i++) {
        sym[i] = find(handle, required[i]);
        if (sym[i] == NULL) {
            /* Left loaded: a close runs the library's destructors, its own code, which a
               sandboxed caller may not let run before its seal (a file that hid mm_realloc ran
               one there: red-team pass 41). The caller closes it once that is safe, or exits. */
            set_error(err, path, "does not export ", required[i]);
            out->handle = handle;
            return false;
        }
    }
    /* POSIX guarantees a dlsym result converts to a function pointer; this
       is the idiom its rationale gives for doing so. */
    a.init = sym[0];
    *(void **)(&a.malloc) = sym[1];
    *(void **)(&a.free) = sym[2];
    *(void **)(&a.realloc) = sym[3];
    *(void **)(&a.calloc) = find(handle, "mm_calloc");
    /* The adapter's checker until ms_allocator_start has asked it whether it knows the
       student's (its kind is the library's code, which waits for the start). */
    *(void **)(&a.checkheap) = find(handle, "ms_lab_checkheap");
    if (a.checkheap != NULL)
        a.checkheap_kind = MS_CHECKHEAP_INT;
    else {
        *(void **)(&a.checkheap) = find(handle, "mm_checkheap");
        a.checkheap_kind = MS_CHECKHEAP_DIALECT;
    }
    *(void **)(&a.checkheap_message) = find(handle, "mm_checkheap_message");
    *(void **)(&a.configure) = find(handle, "mm_configure");
    *out = a;
    return true;
}

bool ms_allocator_start(ms_allocator *alloc, const char *path, const char *options, ms_error *err) {
    err->message[0] = '\0';
    err->line = 0;
    void (*start)(void);
    *(void **)(&start) = find(alloc->handle, "ms_lab_start");
    if (start != NULL)
        start();
    if (alloc->checkheap_kind == MS_CHECKHEAP_INT) {
        int (*kind)(void);
        *(void **)(&kind) = find(alloc->handle, "ms_lab_checkheap_kind");
        if (kind != NULL && kind() == 0)
            alloc->checkheap = NULL;
    }
    if (options == NULL || options[0] == '\0')
        return true;
    if (alloc->configure == NULL) {
        set_error(err, path, "takes no options (no mm_configure)", "");
        return false;
    }
    const char *why = alloc->configure(options);
    if (why != NULL) {
        set_error(err, path, why, "");
        return false;
    }
    return true;
}

bool ms_allocator_open(const char *path, int dialect, const char *options, ms_allocator *out,
                       ms_error *err) {
    if (!ms_allocator_load(path, dialect, out, err)) {
        ms_allocator_close(out); /* no seal to wait for here */
        return false;
    }
    if (ms_allocator_start(out, path, options, err))
        return true;
    ms_allocator_close(out);
    return false;
}

void ms_allocator_system(ms_allocator *out) {
    /* Taking the addresses here resolves them like any call from this
       library would: to the first definition, the LD_PRELOADed one if any. */
    *out = (ms_allocator){
        .handle = NULL,
        .dialect = MS_DIALECT_SYSTEM,
        .init = NULL,
        .malloc = malloc,
        .free = free,
        .realloc = realloc,
        .calloc = calloc,
    };
}

void ms_allocator_close(ms_allocator *alloc) {
    if (alloc->handle != NULL)
        dlclose(alloc->handle);
    memset(alloc, 0, sizeof *alloc);
}
