/*
 * forbidden_calls.c - what a student's call of a function an allocator may not call reaches.
 *
 * An allocator takes memory from mem_sbrk alone: the C library's malloc family, sbrk, brk, mmap,
 * mprotect, dlsym or syscall to reach them, and its functions that return malloc's memory
 * (strdup, asprintf, CPU_ALLOC's...) are not its to call (driver/mallocsim/forbidden.py,
 * FORBIDDEN). The handouts link mm.o with the C library and so grade a file that names them, as
 * long as it does not call them where it counts: a CS:APP solution keeps an old realloc, never
 * called, that calls free (86 under its driver; refused before any trace here, 0: lab check run
 * 16). So the build links each mm.c with `--wrap=NAME` for every forbidden name: its references go
 * to __wrap_NAME, defined here in the heap's library, which every allocator links with. A call
 * ends the pass there, through __assert_fail (the engine's own, in the sandboxed agent: its message
 * reaches the grader), with FORBIDDEN_CALL_FILE as the file and the function's name as the
 * function, which isolate.py reads back as "called free at op N". Code that never calls them
 * grades as under its driver; nothing it does reaches the real functions.
 *
 * Guarantees: every name of forbidden.FORBIDDEN has its __wrap_ here (a test holds the two lists
 * together, and a build that referenced a missing one would fail to link: -z defs); none returns.
 */
/* The C library's, declared here: <assert.h> leaves it out of a release build (NDEBUG). */
_Noreturn void __assert_fail(const char *assertion, const char *file, unsigned int line,
                             const char *function);

/* What isolate.py looks for in a failed assertion's message: keep the two alike. */
#define FORBIDDEN_CALL_FILE "(forbidden call)"
#define FORBIDDEN_CALL_WHY "an allocator may get memory only from mem_sbrk"

#define FORBIDDEN_NAMES(X)                                                                         \
    X(malloc)                                                                                      \
    X(calloc)                                                                                      \
    X(realloc)                                                                                     \
    X(reallocarray)                                                                                \
    X(free)                                                                                        \
    X(posix_memalign)                                                                              \
    X(aligned_alloc)                                                                               \
    X(memalign)                                                                                    \
    X(valloc)                                                                                      \
    X(pvalloc)                                                                                     \
    X(sbrk)                                                                                        \
    X(brk)                                                                                         \
    X(mmap)                                                                                        \
    X(mmap64)                                                                                      \
    X(mremap)                                                                                      \
    X(__libc_malloc)                                                                               \
    X(__libc_calloc)                                                                               \
    X(__libc_realloc)                                                                              \
    X(__libc_free)                                                                                 \
    X(__libc_memalign)                                                                             \
    X(__libc_valloc)                                                                               \
    X(__libc_pvalloc)                                                                              \
    X(__sbrk)                                                                                      \
    X(__brk)                                                                                       \
    X(__mmap)                                                                                      \
    X(dlmopen)                                                                                     \
    X(__libc_reallocarray)                                                                         \
    X(__mprotect)                                                                                  \
    X(__sched_cpualloc)                                                                            \
    X(__sched_cpufree)                                                                             \
    X(strdup)                                                                                      \
    X(strndup)                                                                                     \
    X(__strdup)                                                                                    \
    X(__strndup)                                                                                   \
    X(wcsdup)                                                                                      \
    X(asprintf)                                                                                    \
    X(vasprintf)                                                                                   \
    X(__asprintf)                                                                                  \
    X(getline)                                                                                     \
    X(getdelim)                                                                                    \
    X(__getdelim)                                                                                  \
    X(open_memstream)                                                                              \
    X(open_wmemstream)                                                                             \
    X(get_current_dir_name)                                                                        \
    X(canonicalize_file_name)                                                                      \
    X(tempnam)                                                                                     \
    X(backtrace_symbols)                                                                           \
    X(getcwd)                                                                                      \
    X(setenv)                                                                                      \
    X(putenv)                                                                                      \
    X(realpath)                                                                                    \
    X(scandir)                                                                                     \
    X(tsearch)                                                                                     \
    X(hcreate)                                                                                     \
    X(hcreate_r)                                                                                   \
    X(regcomp)                                                                                     \
    X(glob)                                                                                        \
    X(opendir)                                                                                     \
    X(fdopendir)                                                                                   \
    X(argz_add)                                                                                    \
    X(argz_add_sep)                                                                                \
    X(argz_append)                                                                                 \
    X(argz_create)                                                                                 \
    X(argz_create_sep)                                                                             \
    X(argz_insert)                                                                                 \
    X(argz_replace)                                                                                \
    X(envz_add)                                                                                    \
    X(envz_merge)                                                                                  \
    X(wordexp)                                                                                     \
    X(newlocale)                                                                                   \
    X(duplocale)                                                                                   \
    X(iconv_open)                                                                                  \
    X(posix_spawn_file_actions_addopen)                                                            \
    X(__libc_alloc_buffer_allocate)                                                                \
    X(__libc_dynarray_emplace_enlarge)                                                             \
    X(__libc_dynarray_resize)                                                                      \
    X(__libc_dynarray_resize_clear)                                                                \
    X(pthread_key_create)                                                                          \
    X(pthread_setspecific)                                                                         \
    X(pthread_atfork)                                                                              \
    X(__register_atfork)                                                                           \
    X(__res_state)                                                                                 \
    X(register_printf_specifier)                                                                   \
    X(register_printf_function)                                                                    \
    X(register_printf_modifier)                                                                    \
    X(register_printf_type)                                                                        \
    X(mprotect)                                                                                    \
    X(pkey_mprotect)                                                                               \
    X(dlopen)                                                                                      \
    X(dlsym)                                                                                       \
    X(dlvsym)                                                                                      \
    X(syscall)

/* Each takes whatever the caller passed and reads none of it: the call itself is the failure. */
#define TRAP(name)                                                                                 \
    _Noreturn void __wrap_##name(void);                                                            \
    _Noreturn void __wrap_##name(void) {                                                           \
        __assert_fail(FORBIDDEN_CALL_WHY, FORBIDDEN_CALL_FILE, 0, #name);                          \
    }

FORBIDDEN_NAMES(TRAP)
