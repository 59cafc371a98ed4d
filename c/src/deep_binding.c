/*
 * deep_binding.c - the drop-in's dlopen: a library loaded with RTLD_DEEPBIND calls the drop-in's
 * malloc, as the rest of the program does, not the C library's.
 *
 * RTLD_DEEPBIND binds a library's symbols in its own dependencies first, the C library among
 * them: its malloc and free were glibc's while the program's were ours, and a block made by one
 * was freed by the other. PHP loads every extension so: php-cli died at its start, in glibc's free
 * of a block of ours, and posix_setrlimit, in an extension, set the limit past the drop-in's
 * wrapper (address_limit.c; drop-in pass 28). jemalloc and tcmalloc share the problem; the
 * sanitizers refuse such a dlopen. Here the flag is dropped: the library's symbols are then bound
 * in the global scope first, as any library's are, which changes what it binds only where the
 * program, or a library loaded before it, defines a name its own dependencies define too.
 *
 * Guarantees:
 *   - every dlopen is the C library's with the same file and mode less RTLD_DEEPBIND;
 *   - it is reached by a jump, not a call, so that it takes the caller's return address for its
 *     own: glibc searches the calling object's RPATH and RUNPATH for a name without a slash, and
 *     loads into the caller's namespace (built without the jump, a program whose RUNPATH named
 *     its plugin's folder failed to load it);
 *   - the C library's dlopen is looked up at the first call, not at load.
 */
#include <dlfcn.h>
#include <stddef.h>

#define MS_EXPORT __attribute__((visibility("default")))

typedef void *dlopen_fn(const char *file, int mode);

static dlopen_fn *_Atomic next_dlopen;

/* The C library's dlopen: the next definition after this library's. */
static __attribute__((noinline)) dlopen_fn *c_library_dlopen(void) {
    dlopen_fn *found = (dlopen_fn *)dlsym(RTLD_NEXT, "dlopen");
    next_dlopen = found;
    return found;
}

/* -foptimize-sibling-calls is -O2's: the debug build (-O1) must jump too. */
MS_EXPORT __attribute__((optimize("optimize-sibling-calls"))) void *dlopen(const char *file,
                                                                           int mode) {
    dlopen_fn *next = next_dlopen;
    if (next == NULL)
        next = c_library_dlopen();
    return next(file, mode & ~RTLD_DEEPBIND);
}
