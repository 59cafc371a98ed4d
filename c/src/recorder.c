/*
 * recorder.c - libmsrecord.so: log every allocation call of a program.
 *
 * Preloaded (LD_PRELOAD) into a program with MALLOCSIM_RECORD=<log file>, it
 * interposes malloc, free, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign, valloc and pvalloc, forwards each call to the next
 * definition (glibc's, found with dlsym(RTLD_NEXT)) and appends one line per
 * call to the log. mallocsim/record.py turns the log into a trace.
 *
 * The log: one text line per event, "<pid> <kind> <fields>", numbers in
 * decimal, pointers in hex (0 = NULL):
 *   <pid> s                        a process image starts logging (also after exec)
 *   <pid> k                        a forked child starts logging (a new heap history)
 *   <pid> m <size> <ptr>           malloc
 *   <pid> c <count> <size> <ptr>   calloc
 *   <pid> r <old> <size> <ptr>     realloc, and reallocarray with size = count * size
 *   <pid> f <ptr>                  free (free(NULL) included)
 *   <pid> a <align> <size> <ptr>   posix_memalign, aligned_alloc, memalign,
 *                                  valloc, pvalloc (align = page size for the last two)
 *
 * Guarantees:
 *   - order: the real call and its log line happen under one lock, so the
 *     log's order is the order the heap saw (a free in one thread before the
 *     malloc that reuses the address in another);
 *   - processes: the file is opened O_APPEND and every line is one write(2),
 *     so the lines of parent and children never mix; each line carries its
 *     pid, and a forked child first logs "k", an exec'd image "s";
 *   - nothing is buffered, so a process that ends with _exit, exec or a
 *     crash loses no line;
 *   - dlsym itself may call calloc or malloc before the real functions are
 *     known: those calls are served from a small static buffer, never
 *     logged, and freeing such a block does nothing;
 *   - a call the next malloc makes back into these functions while it serves
 *     one (a library whose realloc calls malloc through the dynamic linker)
 *     is forwarded, not logged: it is part of the call being logged, and
 *     taking the lock again would wait for itself.
 * Without MALLOCSIM_RECORD the interposer only forwards.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS_EXPORT __attribute__((visibility("default")))

/* The log's descriptor is moved at least this high, out of the way of
   programs that reuse low descriptor numbers. */
static const int LOG_FD_FLOOR = 700;

/* ------------------------------------------------ the real functions */

static struct {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
} real;

enum { STATE_NEW, STATE_RESOLVING, STATE_READY };
static _Atomic int state = STATE_NEW;

/* ------------------------------------------- the bootstrap buffer for dlsym */

static alignas(16) char boot_buffer[8192];
static size_t boot_used;

static bool is_boot(const void *p) {
    uintptr_t a = (uintptr_t)p;
    return a >= (uintptr_t)boot_buffer && a < (uintptr_t)boot_buffer + sizeof boot_buffer;
}

/* Zeroed, 16-aligned memory for calls made while dlsym runs; NULL when full. */
static void *boot_alloc(size_t size) {
    size_t rounded = (size + 15) & ~(size_t)15;
    if (size > sizeof boot_buffer || rounded > sizeof boot_buffer - boot_used)
        return NULL;
    void *p = boot_buffer + boot_used;
    boot_used += rounded;
    return p;
}

/* ----------------------------------------------------------- the log */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1; /* -1: not recording */
/* The log's path, kept to open it again: a program that closes every descriptor it did not
   open itself (closefrom, close_range) closed the log, and its later calls were lost (a 1-op
   trace of 201 calls, red-team pass 27). */
static char log_path[4096];
static pid_t log_pid;

/* One log line being built: a fixed buffer that fits the longest line. */
typedef struct {
    char text[160];
    size_t len;
} line;

static void put_char(line *l, char c) { l->text[l->len++] = c; }

static void put_digits(line *l, uint64_t value, unsigned base) {
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value != 0);
    while (n > 0)
        put_char(l, digits[--n]);
}

static void put_pointer(line *l, const void *p) {
    put_char(l, ' ');
    put_digits(l, (uintptr_t)p, 16);
}

static void put_size(line *l, size_t size) {
    put_char(l, ' ');
    put_digits(l, size, 10);
}

static line line_start(char kind) {
    line l = {.len = 0};
    put_digits(&l, (uint64_t)log_pid, 10);
    put_char(&l, ' ');
    put_char(&l, kind);
    return l;
}

static bool open_log_fd(void);

/* Append the line with one write, so lines of different processes never mix.
   Caller holds log_lock. */
static void line_write(line *l) {
    put_char(l, '\n');
    int saved = errno;
    bool reopened = false;
    for (size_t done = 0; done < l->len;) {
        ssize_t n = write(log_fd, l->text + done, l->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EBADF && !reopened) { /* the program closed it: open it again */
            reopened = true;
            if (open_log_fd())
                continue;
        }
        if (n <= 0)
            break; /* the log is gone: the program must go on regardless */
        done += (size_t)n;
    }
    errno = saved;
}

/* ------------------------------------------------------------- set-up */

static void *next_symbol(const char *name) { return dlsym(RTLD_NEXT, name); }

static void fork_prepare(void) { pthread_mutex_lock(&log_lock); }

static void fork_parent(void) { pthread_mutex_unlock(&log_lock); }

static void fork_child(void) {
    log_pid = getpid();
    if (log_fd >= 0) {
        line l = line_start('k');
        line_write(&l);
    }
    pthread_mutex_unlock(&log_lock);
}

/* Open log_path for appending into log_fd, moved up to LOG_FD_FLOOR or past it; false (log_fd
   unchanged) when it cannot be opened. */
static bool open_log_fd(void) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, LOG_FD_FLOOR);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    log_fd = fd;
    return true;
}

static void open_log(void) {
    const char *path = getenv("MALLOCSIM_RECORD");
    if (path == NULL || *path == '\0' || strlen(path) >= sizeof log_path)
        return;
    strcpy(log_path, path);
    if (!open_log_fd())
        return;
    log_pid = getpid();
    line l = line_start('s');
    line_write(&l);
}

/*
 * Find the real functions and open the log on the first call. The first call
 * comes before the program starts threads (the loader and libc initialise
 * first, single-threaded), so this needs no lock; calls made by dlsym itself
 * while it runs see STATE_RESOLVING and use the bootstrap buffer.
 * Returns false for exactly those calls.
 */
static bool ready(void) {
    int now = atomic_load_explicit(&state, memory_order_acquire);
    if (now == STATE_READY)
        return true;
    if (now == STATE_RESOLVING)
        return false;
    atomic_store(&state, STATE_RESOLVING);
    real.malloc = (void *(*)(size_t))next_symbol("malloc");
    real.free = (void (*)(void *))next_symbol("free");
    real.calloc = (void *(*)(size_t, size_t))next_symbol("calloc");
    real.realloc = (void *(*)(void *, size_t))next_symbol("realloc");
    real.posix_memalign = (int (*)(void **, size_t, size_t))next_symbol("posix_memalign");
    real.aligned_alloc = (void *(*)(size_t, size_t))next_symbol("aligned_alloc");
    real.memalign = (void *(*)(size_t, size_t))next_symbol("memalign");
    real.valloc = (void *(*)(size_t))next_symbol("valloc");
    real.pvalloc = (void *(*)(size_t))next_symbol("pvalloc");
    open_log();
    atomic_store_explicit(&state, STATE_READY, memory_order_release);
    /* Registered once the real functions are known: it may allocate. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    return true;
}

/* Whether this thread is inside a logged call: a call made meanwhile comes from the real
   function, not from the program. (Initial-exec TLS: the library is preloaded.) */
static _Thread_local bool logging __attribute__((tls_model("initial-exec")));

/* Every wrapper: lock, call the real function, log, unlock. The lock is
   taken only when recording, and not again by a call the real function makes
   back into this library; errno is the real call's. */
#define RECORDED(call, kind, ...)                                                                  \
    do {                                                                                           \
        if (log_fd < 0 || logging) {                                                               \
            call;                                                                                  \
            break;                                                                                 \
        }                                                                                          \
        pthread_mutex_lock(&log_lock);                                                             \
        logging = true;                                                                            \
        call;                                                                                      \
        logging = false;                                                                           \
        int saved_errno = errno;                                                                   \
        line l = line_start(kind);                                                                 \
        __VA_ARGS__;                                                                               \
        line_write(&l);                                                                            \
        pthread_mutex_unlock(&log_lock);                                                           \
        errno = saved_errno;                                                                       \
    } while (0)

/* ------------------------------------------------------- the interposers */

MS_EXPORT void *malloc(size_t size) {
    if (!ready())
        return boot_alloc(size);
    void *p;
    RECORDED(p = real.malloc(size), 'm', put_size(&l, size), put_pointer(&l, p));
    return p;
}

MS_EXPORT void *calloc(size_t count, size_t size) {
    if (!ready()) {
        size_t total;
        return __builtin_mul_overflow(count, size, &total) ? NULL : boot_alloc(total);
    }
    void *p;
    RECORDED(p = real.calloc(count, size), 'c', put_size(&l, count), put_size(&l, size),
             put_pointer(&l, p));
    return p;
}

MS_EXPORT void free(void *p) {
    if (is_boot(p) || !ready())
        return;
    RECORDED(real.free(p), 'f', put_pointer(&l, p));
}

/* A bootstrap block moves to the real heap; its size is unknown, so copy
   what the buffer holds from p on, up to the new size. */
static void *boot_realloc(void *p, size_t size) {
    void *q = malloc(size);
    if (q != NULL) {
        size_t left = (size_t)(boot_buffer + sizeof boot_buffer - (char *)p);
        memcpy(q, p, left < size ? left : size);
    }
    return q;
}

MS_EXPORT void *realloc(void *p, size_t size) {
    if (is_boot(p))
        return boot_realloc(p, size);
    if (!ready())
        return NULL;
    void *q;
    RECORDED(q = real.realloc(p, size), 'r', put_pointer(&l, p), put_size(&l, size),
             put_pointer(&l, q));
    return q;
}

/* glibc's reallocarray calls realloc through the PLT, that is, ours: so
   this is glibc's definition, and the call is logged once, as a realloc. */
MS_EXPORT void *reallocarray(void *p, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

MS_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
    if (!ready())
        return ENOMEM;
    int result;
    RECORDED(result = real.posix_memalign(out, alignment, size), 'a', put_size(&l, alignment),
             put_size(&l, size), put_pointer(&l, result == 0 ? *out : NULL));
    return result;
}

MS_EXPORT void *aligned_alloc(size_t alignment, size_t size) {
    if (!ready())
        return NULL;
    void *p;
    RECORDED(p = real.aligned_alloc(alignment, size), 'a', put_size(&l, alignment),
             put_size(&l, size), put_pointer(&l, p));
    return p;
}

MS_EXPORT void *memalign(size_t alignment, size_t size) {
    if (!ready())
        return NULL;
    void *p;
    RECORDED(p = real.memalign(alignment, size), 'a', put_size(&l, alignment), put_size(&l, size),
             put_pointer(&l, p));
    return p;
}

MS_EXPORT void *valloc(size_t size) {
    if (!ready())
        return NULL;
    void *p;
    RECORDED(p = real.valloc(size), 'a', put_size(&l, (size_t)sysconf(_SC_PAGESIZE)),
             put_size(&l, size), put_pointer(&l, p));
    return p;
}

MS_EXPORT void *pvalloc(size_t size) {
    if (!ready())
        return NULL;
    void *p;
    RECORDED(p = real.pvalloc(size), 'a', put_size(&l, (size_t)sysconf(_SC_PAGESIZE)),
             put_size(&l, size), put_pointer(&l, p));
    return p;
}
