/*
 * unseen_files.c - libmsunseen.so, preloaded into the compiler that builds a student's mm.c
 * (build.py): a file the build's Landlock domain does not let it read looks missing.
 *
 * Landlock refuses a read with EACCES, where a file that is not there gives ENOENT: a submission
 * told the two apart, one bit a build about any path on the machine, by `#if __has_include("/home/
 * bob/mm.c")` (gcc fails the build on the first, takes the #if as false on the second), or by the
 * message of an #include (red-team pass 39). Here every open for reading that the kernel refuses
 * with EACCES fails with ENOENT instead, in gcc's driver and in what it runs (cc1, as, collect2,
 * ld) and in clang, which all open their inputs through the C library's open functions.
 *
 * Guarantees: opens that create or write a file are passed through unchanged, errors and all (the
 * build writes in its own folder only); no other call is touched. x86-64 only: the compilers are.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* Whether an open with these flags writes (or may create) a file. */
static int writes(int flags) {
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) != 0 ||
           (flags & O_TMPFILE) == O_TMPFILE;
}

static int open_at(int dir, const char *path, int flags, mode_t mode) {
    long fd = syscall(SYS_openat, dir, path, flags, mode);
    if (fd < 0 && errno == EACCES && !writes(flags))
        errno = ENOENT;
    return (int)fd;
}

/* The mode argument, present when the flags create a file. */
#define MODE_OF(flags, last)                                                                       \
    mode_t mode = 0;                                                                               \
    if ((flags)&O_CREAT || ((flags)&O_TMPFILE) == O_TMPFILE) {                                     \
        va_list rest;                                                                              \
        va_start(rest, last);                                                                      \
        mode = (mode_t)va_arg(rest, int);                                                          \
        va_end(rest);                                                                              \
    }

EXPORT int open(const char *path, int flags, ...) {
    MODE_OF(flags, flags)
    return open_at(AT_FDCWD, path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...) {
    MODE_OF(flags, flags)
    return open_at(AT_FDCWD, path, flags, mode);
}

EXPORT int openat(int dir, const char *path, int flags, ...) {
    MODE_OF(flags, flags)
    return open_at(dir, path, flags, mode);
}

EXPORT int openat64(int dir, const char *path, int flags, ...) {
    MODE_OF(flags, flags)
    return open_at(dir, path, flags, mode);
}

/* _FORTIFY_SOURCE's checked forms, which a fortified build of a compiler calls (declared by
   <fcntl.h> only in a fortified build). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dir, const char *path, int flags);
int __openat64_2(int dir, const char *path, int flags);
EXPORT int __open_2(const char *path, int flags) { return open_at(AT_FDCWD, path, flags, 0); }
EXPORT int __open64_2(const char *path, int flags) { return open_at(AT_FDCWD, path, flags, 0); }
EXPORT int __openat_2(int dir, const char *path, int flags) { return open_at(dir, path, flags, 0); }
EXPORT int __openat64_2(int dir, const char *path, int flags) {
    return open_at(dir, path, flags, 0);
}
