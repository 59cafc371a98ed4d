/*
 * count_main.c - mscount: one pass per trace, for valgrind to count.
 *
 *   mscount [--forked [--warm] | --timed=SECONDS] [--glibc-warm] [--verify] [--reading=N]
 *           [--heap-at=A] [--heap-limit=BYTES] [--traces-on=FD [--root=FOLDER]]
 *           classic|cmu|system LIBRARY|- OPTIONS TRACE...
 *
 * OPTIONS is the allocator's run-time options for mm_configure ("" for none),
 * so that `implicit:best` is counted as best fit, not as the default. N is how
 * the traces are read (MS_READ_* flags, 0 by default): as the grader read them.
 * A is where the heap should start (mem_place), as the lab's memlib puts it;
 * BYTES (--heap-limit) the most it may grow to, as the lab's (mem_set_limit).
 *
 * --traces-on=FD (someone else's code): the traces are not read from their files, which the
 * count's sandbox then does not let this process open, but from the socket FD, each as a line
 * "BYTES" and that many bytes of the file, in the order of the TRACE arguments (then only their
 * names). The allocator's code shares this process and runs uncounted when it is started (its
 * constructors: run once this process is sealed, ms_allocator_start, for a student's mm.c; as
 * it loads, for another library) and in whatever it leaves running: given the trace files'
 * paths, a constructor
 * replayed each trace on a heap of its own and the counted passes answered from its log, 1,967
 * instructions an op counted as 97, confirmed by the clock (red-team pass 30). So the grader
 * sends the traces only once the allocator is started and checked (TRACES_PREAMBLE, read then,
 * tells it so: sent at once, they lay in the socket for a constructor to peek at, pass 32);
 * what is read from the socket before is gone (the preamble, or what follows it, does not
 * parse; a pipe's could be written back through /proc/self/fd: pass 31); a descriptor replaced
 * by then is another file. Once it
 * is loaded this process refuses to go on with a thread besides its own or with a process of
 * the allocator's (this one is made its descendants' reaper first, so that a process that
 * leaves its parent is still seen: pass 31 had one answer each op of the counted passes through
 * shared memory, 46.3 -> 78.0), and blocks every signal: no code of the allocator's runs but
 * inside a pass, in a process of its own that leaves none behind. --root=FOLDER (the folder
 * valgrind writes its profiles in, where the paths it was given lead back to FOLDER itself): the
 * process's root once the allocator is loaded, before it is sealed, so that no path its code
 * looks up reaches a name another grade's process can (ms_sandbox_take_root).
 *
 * Each pass replays a trace through the engine's timed loop (ms_replay_timed,
 * the same loop `mallocsim bench` times) inside count_pass(). What the trace
 * leaves live on the system's malloc is freed outside it (or not at all, in a
 * forked child): the engine frees it untimed, so a count that held glibc's
 * frees of a trace's leftovers held work no timed pass does (on a trace of
 * mallocs alone, more than half of glibc's count).
 *
 * Default (for callgrind): callgrind is told to collect only in count_pass and
 * to dump after it, so each dump holds one pass's count. Every trace is
 * replayed twice and the caller keeps the second count: the first pays
 * one-time costs (lazy symbol binding, first touch of code paths) no steady
 * state has. The first trace is an empty one: its count, the fixed cost of a
 * pass (the engine's, the heap's reset), is what the caller subtracts. Prints
 * each trace's op count, one per line, after a first line "0" for the empty
 * trace.
 *
 * The empty passes, in every mode, run the engine with a stand-in for the allocator whose
 * mm_init does nothing (without_init): no code of the allocator's runs in a count the caller
 * subtracts, and everything it does in a pass, its mm_init included, is in that pass's count.
 * When they ran its own mm_init, an allocator could do work there that every pass's count lost
 * (the empty passes made dearer), or, in the first empty pass of --forked, whose count is
 * dropped, work the later passes used (red-team pass 30).
 *
 * --verify (default mode, on our heap: a student's code): each pass logs the
 * pointers it returned, checked after it, outside the count (count_twice): a
 * pass whose pointers fail is a failed pass, its line "0".
 *
 * --forked (for cachegrind --cache-sim=no, several times faster than callgrind
 * on a slow allocator, but counting the whole process with no way to switch
 * off): every trace is parsed first, then each pass runs once in its own
 * forked child, which ends with _exit. Each child's profile (the caller asks
 * for one per pid) holds everything the parent counted before the fork plus
 * that one pass. Between two forks the parent runs the same instructions
 * every time (fork, waitpid, two stores: nothing that depends on the trace),
 * so the caller gets a pass's own count exactly from three empty passes run
 * first (with the stand-in, above): the first pays the parent's lazy binding,
 * the next two give the fixed step between forks and the fixed cost of a
 * pass. Prints, after every child ended, one line per child:
 * "PID STATUS OPS HEAP" (STATUS as waitpid gave it; HEAP the pass's heap
 * high-water mark on our heap, 0 on the system's malloc), the three empty ones
 * first.
 *
 * --forked --warm: each pass is a pair of children, the second one's pass a
 * warm one, as timed passes on the system's malloc are (each on the heap the
 * last one left, its blocks freed). The first child runs a pass and frees its
 * leftovers; the second does the same, then the pass again. So the second's
 * count less the first's is the warm pass plus the parent's fixed step, and
 * the empty trace's pair gives that step plus a pass's fixed cost: one line
 * per child, as above, the pairs in order.
 *
 * --timed=SECONDS (no valgrind: the clock check's reference, timed as it is
 * counted): each trace's timed passes, at least 3 and until SECONDS in all, in
 * a forked child of this small clean process, not of the grader's, whose heap
 * holds whatever it did before and which may run on another malloc. Each child
 * prints "INDEX SECONDS..." (its trace's index from 0, each pass's seconds), or
 * "INDEX failed: WHY".
 *
 * A small executable rather than the Python process, so that valgrind sees
 * nothing but the replay and starts in milliseconds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mallocsim.h"
#include "memlib.h"

/*
 * Where the counts go: standard output as it was, on a descriptor of its own, while the allocator,
 * which shares this process, prints to /dev/null. A debug printf in a student's extend_heap went
 * into the lines the grader reads, and an honest file lost its whole throughput part, "the
 * counter's output was written over" (red-team pass 12). Code that writes to this descriptor on
 * purpose still is caught so.
 */
static int results = -1;

static bool own_results(void) {
    results = dup(STDOUT_FILENO);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    bool ok = results >= 0 && null >= 0 && dup2(null, STDOUT_FILENO) >= 0;
    if (null >= 0)
        close(null);
    return ok;
}

/*
 * The results and the traces go through this process's own reads and writes, with no stream
 * and no call of the printf family: once the allocator has started here, libc calls back into
 * code it registered (a handler of a conversion, found in libc's symbol table: one ran at each
 * trace header's line and replayed the trace uncounted, another printed every failed pass's
 * status as 0, red-team pass 44), and a stream calls through a table of functions its own
 * writable memory points to.
 */
static void put_bytes(const char *bytes, size_t count) {
    for (const char *end = bytes + count; bytes < end;) {
        ssize_t wrote = write(results, bytes, (size_t)(end - bytes));
        if (wrote <= 0)
            return; /* the reader is gone: its count fails */
        bytes += wrote;
    }
}

/* A line of numbers onto the results, then `tail` (a failure's words; "" for none). */
static void put_line(const unsigned long long *numbers, size_t count, const char *tail) {
    char line[512];
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        char digits[20];
        int n = 0;
        unsigned long long v = numbers[i];
        do
            digits[n++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        if (at + 21 > sizeof line) {
            put_bytes(line, at);
            at = 0;
        }
        if (i > 0)
            line[at++] = ' ';
        while (n > 0)
            line[at++] = digits[--n];
    }
    put_bytes(line, at);
    put_bytes(tail, strlen(tail));
    put_bytes("\n", 1);
}

enum { FORKED_EMPTIES = 3 }; /* --forked: empty passes before the traces' */

/* Kept out of line: callgrind toggles collection on entry and exit. */
__attribute__((noinline)) bool count_pass(const ms_trace *trace, const ms_allocator *alloc,
                                          void **live, uint64_t *log, ms_timed_result *result);

/* One pass into `live` (trace->num_ids pointers, zeroed by the pass): on the system's malloc,
   what the trace leaves live stays so, for free_live to free outside the count. With `log`, the
   pointer each op returned, as a timed pass in the agent logs them for the grader to check. */
bool count_pass(const ms_trace *trace, const ms_allocator *alloc, void **live, uint64_t *log,
                ms_timed_result *result) {
    const ms_timed_options one_pass = {
        .min_passes = 1, .max_passes = 1, .scratch = live, .leave_live = true, .log = log};
    double seconds;
    return ms_replay_timed(trace, alloc, &one_pass, &seconds, result) == 1;
}

static _Noreturn void out_of_memory(void) {
    fprintf(stderr, "mscount: out of memory\n");
    exit(2);
}

static bool init_nothing_cmu(void) { return true; }
static int init_nothing_classic(void) { return 0; }

/* The empty passes' allocator: `alloc` with an mm_init that does nothing, of its dialect (see the
   banner); the system's malloc as it is (it has no mm_init). */
static ms_allocator without_init(const ms_allocator *alloc) {
    ms_allocator stand_in = *alloc;
    bool (*cmu)(void) = init_nothing_cmu;
    int (*classic)(void) = init_nothing_classic;
    _Static_assert(sizeof cmu == sizeof stand_in.init, "a function's address fits in init");
    if (alloc->dialect == MS_DIALECT_CMU)
        memcpy(&stand_in.init, &cmu, sizeof stand_in.init);
    else if (alloc->dialect == MS_DIALECT_CLASSIC)
        memcpy(&stand_in.init, &classic, sizeof stand_in.init);
    return stand_in;
}

/* Room for a pass's pointers (at least one, for an empty trace). */
static void **live_table(const ms_trace *trace) {
    void **live = calloc(trace->num_ids > 0 ? trace->num_ids : 1, sizeof(void *));
    if (live == NULL)
        out_of_memory();
    return live;
}

/* Free what a pass on the system's malloc left live (on our heap, the next pass's mm_init
   starts afresh, and the blocks are no one's to free). */
static void free_live(const ms_trace *trace, const ms_allocator *alloc, void **live) {
    if (alloc->dialect != MS_DIALECT_SYSTEM)
        return;
    for (uint32_t id = 0; id < trace->num_ids; id++) {
        alloc->free(live[id]);
        live[id] = NULL;
    }
}

/* fork() without the fork handlers a started allocator registered (it finds libc's
   __register_atfork by libc's symbol table, no import): they ran in this process, uncounted,
   with every trace parsed in its memory, and a handler replayed them all for the counted passes
   to answer from, 46.3 -> 81.2 "confirmed by the clock" (red-team pass 43). */
static pid_t quiet_fork(void) { return _Fork(); }

/* In a pass's child, before the pass: no process or thread started from here on
   (ms_sandbox_seal_forks), or the child ends as a failed pass. */
static void seal_pass(void) {
    ms_error sealed;
    if (!ms_sandbox_seal_forks(&sealed))
        _exit(1);
}

/* Once the allocator is loaded, this process leaves by _exit (its results are written as they
   come): exit() runs the library's destructors, which before the seal ran unsealed (red-team pass
   41), and the exit handlers a started allocator registered (__cxa_atexit, by libc's symbol
   table), one of which rewrote the results still in a stream's buffer (pass 43). */
static _Noreturn void leave(int status) { _exit(status); }

/* Where the traces come from: their files, or (--traces-on) a socket, this descriptor. */
static int fed = -1;

/* What the socket holds first: the grader sends the traces only once mscount has read it, after
   the allocator was loaded, started and checked (nothing_else_runs), so that no constructor finds
   them there to read without taking them (recv with MSG_PEEK: red-team pass 32). instructions.py's
   TRACES_PREAMBLE. */
static const char TRACES_PREAMBLE[] = "mallocsim traces\n";

enum { FED_LENGTH_DIGITS = 20 }; /* a trace's length line, at most (2^64 has 20 digits) */

/* The preamble, read from the socket itself, then whatever the stream holds dropped: a started
   allocator read it through `fed`'s buffer and set the buffer back, so that mscount's own read
   found it there while the traces, sent once it had gone from the socket, lay open to a peek
   (red-team pass 42). Only this read takes the preamble from the socket, and no byte a buffer
   held before it is read as a trace. */
static bool read_preamble(void) {
    char preamble[sizeof TRACES_PREAMBLE - 1];
    size_t got = 0;
    while (got < sizeof preamble) {
        ssize_t n = read(fed, preamble + got, sizeof preamble - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return memcmp(preamble, TRACES_PREAMBLE, sizeof preamble) == 0;
}

/* The next trace's text from the socket `fed` into *text (malloc'd), its length *len; false when
   the socket does not hold one whole (read early, or cut short). */
static bool read_fed(char **text, size_t *len) {
    char line[FED_LENGTH_DIGITS + 2];
    size_t got = 0; /* the length line, a byte at a time: nothing past it is taken */
    while (got < sizeof line - 1 && (got == 0 || line[got - 1] != '\n'))
        if (read(fed, line + got, 1) != 1)
            return false;
        else
            got++;
    line[got] = '\0';
    if (line[got - 1] != '\n' || line[0] == '\n')
        return false;
    char *end;
    errno = 0;
    unsigned long long bytes = strtoull(line, &end, 10);
    if (errno != 0 || *end != '\n' || bytes > SIZE_MAX - 1)
        return false;
    *text = malloc((size_t)bytes + 1);
    if (*text == NULL)
        out_of_memory();
    *len = (size_t)bytes;
    for (size_t taken = 0; taken < *len;) {
        ssize_t n = read(fed, *text + taken, *len - taken);
        if (n <= 0)
            return false;
        taken += (size_t)n;
    }
    return true;
}

/* Parse the trace named `path` as `reading` says, from its file or from the socket, or say why
   it could not be, and false. */
static bool parse_one(const char *path, unsigned reading, ms_trace *trace) {
    ms_error err = {{0}, 0};
    if (fed >= 0) {
        char *text = NULL;
        size_t len = 0;
        bool whole = read_fed(&text, &len);
        bool parsed = whole && ms_trace_parse_text(text, len, reading, trace, &err);
        free(text);
        if (!whole) {
            fprintf(stderr, "mscount: %s: the traces' socket did not hold it whole\n", path);
            return false;
        }
        if (parsed)
            return true;
    } else if (ms_trace_parse_file(path, reading, trace, &err)) {
        return true;
    }
    fprintf(stderr, "mscount: %s:%llu: %s\n", path, (unsigned long long)err.line, err.message);
    return false;
}

/* Parse every trace into traces[0..count), or say which one could not be, and false. */
static bool parse_all(int count, char **paths, unsigned reading, ms_trace *traces) {
    for (int i = 0; i < count; i++)
        if (!parse_one(paths[i], reading, &traces[i]))
            return false;
    return true;
}

/* A file opened once, before any code of the allocator's runs (the seal, seal_reads, refuses an
   open for reading later, and the allocator starts after it), and held to what it was then: the
   allocator may dup2 another over it. */
typedef struct {
    int fd;
    struct stat identity;
} noted_file;

static noted_file children_list = {.fd = -1}; /* /proc/self/task/PID/children */
static noted_file own_status = {.fd = -1};    /* /proc/self/status */
static noted_file root_folder = {.fd = -1};   /* --root: the count's root once sealed */

static bool note_file(noted_file *file, const char *path, int flags) {
    file->fd = open(path, flags | O_CLOEXEC);
    return file->fd >= 0 && fstat(file->fd, &file->identity) == 0;
}

/* Whether the descriptor still holds the file noted. */
static bool still_noted(const noted_file *file) {
    struct stat now;
    return file->fd >= 0 && fstat(file->fd, &now) == 0 && now.st_dev == file->identity.st_dev &&
           now.st_ino == file->identity.st_ino;
}

/* Up to `room` - 1 bytes of the file from its start into `text`, ended by a zero: how many, or -1
   when it is gone or another file is in its place. */
static ssize_t proc_read(const noted_file *file, char *text, size_t room) {
    if (!still_noted(file))
        return -1;
    ssize_t got = pread(file->fd, text, room - 1, 0);
    text[got > 0 ? got : 0] = '\0';
    return got;
}

static bool open_proc_files(void) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    return note_file(&children_list, path, O_RDONLY) &&
           note_file(&own_status, "/proc/self/status", O_RDONLY);
}

/* A number of this process's status ("Threads", "Seccomp_filters"); -1 when it cannot be read. */
static long long status_number(const char *field) {
    char text[8192], label[40];
    if (proc_read(&own_status, text, sizeof text) <= 0)
        return -1;
    snprintf(label, sizeof label, "\n%s:", field);
    const char *line = strstr(text, label);
    return line == NULL ? -1 : atoll(line + strlen(label));
}

/* Whether this process, its only thread, has a child process alive (or unreaped), or cannot
   tell: its passes are reaped each before the next starts, so any child is the allocator's (or
   an orphan of one of its processes: this process is their reaper). */
static bool has_children(void) {
    char first[2];
    if (proc_read(&children_list, first, sizeof first) != 0)
        return true;
    /* Asked of the kernel too, by no state of this process's: a started allocator pointed the
       list's descriptor and identity, in writable memory, at an empty file and hid a helper that
       ran every counted op (red-team pass 44: 46.3 -> 81.2). Without WNOWAIT nothing is reaped;
       ECHILD: no child at all. __WALL: a child whose exit signal is not SIGCHLD is reported too
       (without it, one made with none answered every counted op unseen: red-team pass 47). */
    siginfo_t child = {0};
    int every = WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT | __WALL;
    return waitid(P_ALL, 0, &child, every) == 0 || errno != ECHILD;
}

/* Whether no process this one started has run and been reaped: a fork's child starts with none
   (RUSAGE_CHILDREN), so in a pass's child, one that the allocator started and reaped itself
   within the pass, where no /proc of its own may be read (the sandbox's /proc is the counting
   process's). One it left running goes to the counting process, their reaper (has_children). */
static bool reaped_none(void) {
    struct rusage reaped;
    return getrusage(RUSAGE_CHILDREN, &reaped) == 0 && reaped.ru_maxrss == 0 &&
           reaped.ru_utime.tv_sec == 0 && reaped.ru_utime.tv_usec == 0 &&
           reaped.ru_stime.tv_sec == 0 && reaped.ru_stime.tv_usec == 0;
}

enum { VALGRIND_FILES_MOST = 16 };

/* valgrind's own files that this process could reach by number, past its descriptor limit as
   valgrind shows it: the regular files there, which are those it answers opens of
   /proc/self/cmdline and auxv with, and the counting program's file, which it answers
   /proc/self/exe with (its log and its scheduler's lock are pipes, and /dev/null a device).
   Into fds, and their number into *found (none outside valgrind); false when there are more than
   VALGRIND_FILES_MOST, which valgrind's own are not (a library that kept files there, past a limit
   it lowered, filled the list with decoys: red-team pass 39). */
static bool valgrind_files(uint64_t limit, int *fds, size_t *found) {
    DIR *open_fds = opendir("/proc/self/fd");
    bool all = true;
    *found = 0;
    for (struct dirent *entry; open_fds != NULL && (entry = readdir(open_fds)) != NULL;) {
        long fd = strtol(entry->d_name, NULL, 10);
        struct stat file;
        if (entry->d_name[0] == '.' || fd < 0 || (uint64_t)fd < limit || fd > INT_MAX ||
            fstat((int)fd, &file) != 0 || !S_ISREG(file.st_mode))
            continue;
        if (*found == VALGRIND_FILES_MOST)
            all = false;
        else
            fds[(*found)++] = (int)fd;
    }
    if (open_fds != NULL)
        closedir(open_fds);
    return all;
}

/*
 * Someone else's code loaded, before the traces come: no descriptor stays open but 0-2, the
 * results', the traces' socket and the children file, and the process is as `before` noted it
 * before the load (0-2, the descriptor limit, the filters: ms_sandbox_after_load); and
 * from here on no file is opened for reading nor a symbolic link read, nor valgrind's own files
 * touched (ms_sandbox_seal_reads).
 * A read sets a file's access time, a bit a later process reads back by stat: a pass that has
 * seen its trace would leave it there for a later grade (red-team pass 35, where an agent did).
 * valgrind's own descriptors lie past this process's limit, where a close does not reach them.
 * The limit is the one noted before the load: a library that lowered it kept its own files past
 * it, out of the closes' reach, and out of the seal's (red-team pass 39).
 * Says what is wrong, and false.
 */
static bool seal_reads(const ms_before_load *before) {
    const int keep[] = {results, fed, children_list.fd, own_status.fd, root_folder.fd};
    const char *changed = ms_sandbox_after_load(before, keep, sizeof keep / sizeof keep[0]);
    if (changed != NULL) {
        fprintf(stderr, "mscount: the allocator %s as it was loaded\n", changed);
        return false;
    }
    int untouchable[VALGRIND_FILES_MOST];
    size_t count = 0;
    if (!valgrind_files(before->open_files, untouchable, &count)) {
        fprintf(stderr,
                "mscount: more than %d files past the descriptor limit: not valgrind's "
                "own\n",
                VALGRIND_FILES_MOST);
        return false;
    }
    /* Where a root is given, it is taken before the seal refuses it; a kernel that allows none
       leaves the root as it was (ms_sandbox_take_root). */
    if (root_folder.fd >= 0) {
        if (!still_noted(&root_folder)) {
            fprintf(stderr, "mscount: the allocator replaced the count's folder as it loaded\n");
            return false;
        }
        (void)ms_sandbox_take_root(root_folder.fd);
        close(root_folder.fd);
    }
    ms_error err;
    if (!ms_sandbox_seal_reads(untouchable, count, &err)) {
        fprintf(stderr, "mscount: %s\n", err.message);
        return false;
    }
    /* The kernel's word that the seal took, as the grader holds the agent to it: code that ran as
       the library loaded (an archive member's constructor, red-team pass 40) answered the seal's
       installation with success by pointing libseccomp's jump slots at its own. */
    long long filters = status_number("Seccomp_filters");
    if (before->filters >= 0 && filters != before->filters + 1) {
        fprintf(stderr, "mscount: the seal of reads did not take (%lld filters, not %lld)\n",
                filters, (long long)before->filters + 1);
        return false;
    }
    return true;
}

/* Once the allocator is started (sealed first: seal_reads): none of its code may run here but
   inside a pass (see the banner): one thread, no process of its, every signal blocked, and the
   traces' socket the one given (`before`, its identity before the load) and a socket. Says what
   is wrong, and false. */
static bool nothing_else_runs(const struct stat *before) {
    if (status_number("Threads") != 1) {
        fprintf(stderr, "mscount: the allocator started a thread as it was loaded or started\n");
        return false;
    }
    if (has_children()) {
        fprintf(stderr, "mscount: the allocator started a process as it was loaded or started\n");
        return false;
    }
    /* Every signal, by the kernel's call: glibc's sigfillset leaves out the two it keeps for its
       threads (32 and 33), and a handler the allocator gave one of them ran outside any pass,
       called by the traces' socket itself (F_SETSIG, O_ASYNC: red-team pass 40). */
    uint64_t all = ~(uint64_t)0;
    if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, sizeof all) != 0) {
        fprintf(stderr, "mscount: cannot block signals: %s\n", strerror(errno));
        return false;
    }
    /* A socket, as the kernel says, besides the identity main noted: fed and that identity are
       memory a started allocator can write. One read the traces from the socket itself, put a
       file of its own holding the preamble and them in its place (a pipe did as well) and rewrote
       the identity where main kept it on the stack; every counted pass then answered from a
       replay its constructor had made of them (red-team pass 46: 45.2 -> 84.4, "confirmed by the
       clock"). The count's sandbox makes no socket (socket, socketpair and socketcall are
       refused: sandbox.c) and accepts none, so the one socket in this process is the grader's. */
    struct stat now;
    if (fed >= 0 && (fstat(fed, &now) != 0 || now.st_dev != before->st_dev ||
                     now.st_ino != before->st_ino || !S_ISSOCK(now.st_mode))) {
        fprintf(stderr, "mscount: the traces' socket was replaced as the allocator was loaded or "
                        "started\n");
        return false;
    }
    /* The grader sends the traces once this is read, here, after every look above. */
    if (fed >= 0 && !read_preamble()) {
        fprintf(stderr, "mscount: the traces' socket was read before mscount\n");
        return false;
    }
    return true;
}

/* The bytes of a pass's log: a word an op, then the heap's high-water mark (see heap_word). */
static size_t log_bytes(const ms_trace *trace) {
    return ((size_t)trace->num_ops + 1) * sizeof(uint64_t);
}

/* Where a forked pass leaves its heap's high-water mark, after its pointers: the grader holds it
   to the checked passes' heap, so that code that places its blocks otherwise where it is counted
   (told by this program's name, or by valgrind's CPU) than where it is checked is seen. */
static uint64_t *heap_word(const ms_trace *trace, uint64_t *log) { return &log[trace->num_ops]; }

/* Room for a pass's pointers, shared with the forked child that logs them. */
static uint64_t *shared_log(const ms_trace *trace) {
    void *log =
        mmap(NULL, log_bytes(trace), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (log == MAP_FAILED)
        out_of_memory();
    return log;
}

/* Whether a logged pass's pointers are what an allocator could have returned (aligned to 8, the
   least any lab asks, inside the heap, overlapping no live block): the code counted shares this
   process, and a pass that returned one pointer for everything was counted as cheap as that. */
static bool logged_pass_valid(const char *path, const ms_trace *trace, const uint64_t *log) {
    ms_check_options check = {.alignment = 8};
    ms_check_result result;
    if (ms_verify_pointers(trace, log, &check, (uintptr_t)mem_heap_lo(), mem_reserved(), &result))
        return true;
    fprintf(stderr, "mscount: %s: the counted pass's pointers: %s\n", path, result.error);
    return false;
}

/* Two passes, the second one's dump the warm count; each starts on the heap the last one left,
   its blocks freed, as timed passes do. Both run even when the first fails: the caller pairs
   the dumps up by position. With `verify` (--verify, for a student's code on our heap), each
   pass logs its pointers, checked after it, outside what is counted: a file right where it is
   checked and handing out one block for every call where it is counted was counted at 33
   instructions an op against its honest 6,048 (red-team pass 27). */
static bool count_twice(const char *path, const ms_trace *trace, const ms_allocator *alloc,
                        bool verify, ms_timed_result *result) {
    void **live = live_table(trace);
    uint64_t *log = verify ? calloc(trace->num_ops + 1, sizeof *log) : NULL;
    if (verify && log == NULL)
        out_of_memory();
    bool ok = true;
    for (int pass = 0; pass < 2; pass++) {
        ok = count_pass(trace, alloc, live, log, result) && ok;
        if (log != NULL && ok && !logged_pass_valid(path, trace, log)) {
            snprintf(result->error, sizeof result->error, "the counted pass's pointers failed");
            ok = false;
        }
        free_live(trace, alloc, live);
    }
    free(log);
    free(live);
    return ok;
}

/* --forked: every trace parsed, then each pass in its own child, or with `warm` each pair of
   children (see the banner). A pass on our heap logs its pointers, checked here once every child
   has ended (checked between forks, the work would count in the next child's profile): a pass
   whose pointers fail is a failed pass. */
static int count_forked(int count, char **paths, unsigned reading, const ms_allocator *alloc,
                        bool warm) {
    int jobs = FORKED_EMPTIES + count, per_job = warm ? 2 : 1, children = jobs * per_job;
    ms_trace *traces = calloc((size_t)jobs, sizeof *traces); /* the empty ones stay zero */
    void ***live = calloc((size_t)jobs, sizeof *live);
    pid_t *pids = calloc((size_t)children, sizeof *pids);
    int *statuses = calloc((size_t)children, sizeof *statuses);
    if (traces == NULL || live == NULL || pids == NULL || statuses == NULL)
        out_of_memory();
    if (!parse_all(count, paths, reading, traces + FORKED_EMPTIES))
        return 2;
    bool own_heap = alloc->dialect != MS_DIALECT_SYSTEM;
    uint64_t **logs = calloc((size_t)jobs, sizeof *logs);
    if (logs == NULL)
        out_of_memory();
    for (int i = 0; i < jobs; i++) { /* made before the forks, so no child counts its making */
        live[i] = live_table(&traces[i]);
        logs[i] = own_heap ? shared_log(&traces[i]) : NULL;
    }
    ms_allocator stand_in = without_init(alloc);
    if (own_heap)
        (void)mem_heap_lo(); /* the heap reserved here: at the same place in every child */
    /* Nothing in this loop may depend on the trace: see the banner. */
    for (int i = 0; i < children; i++) {
        if (has_children()) { /* a process a pass left behind: the same work every time */
            fprintf(stderr, "mscount: a pass left a process of the allocator's running\n");
            return 2;
        }
        pid_t pid = quiet_fork();
        if (pid == 0) {  /* what the last pass leaves live ends with the child, uncounted */
            seal_pass(); /* the same work in every child, the empty ones' too */
            const ms_trace *trace = &traces[i / per_job];
            const ms_allocator *runs = i / per_job < FORKED_EMPTIES ? &stand_in : alloc;
            void **table = live[i / per_job];
            ms_timed_result timed;
            uint64_t *log = logs[i / per_job];
            bool ok = count_pass(trace, runs, table, log, &timed);
            if (warm) { /* the pair's first child: a pass, its leftovers freed; the second: more */
                free_live(trace, runs, table);
                if (i % per_job == 1)
                    ok = count_pass(trace, runs, table, log, &timed) && ok;
            }
            if (log != NULL) /* the same work in every child, the empty ones' too */
                *heap_word(trace, log) = mem_high_water();
            _exit(ok && reaped_none() ? 0 : 1); /* a process started in the pass: no count */
        }
        pids[i] = pid;
        /* A wait that reaps nothing (SIGCHLD ignored here: the kernel reaps the child itself)
           says nothing of how the pass ended: a failed pass, not the status's first zero. */
        if (pid > 0 && waitpid(pid, &statuses[i], 0) != pid)
            statuses[i] = 1 << 8;
    }
    if (has_children()) { /* the last pass left a process of the allocator's running */
        fprintf(stderr, "mscount: a pass left a process of the allocator's running\n");
        return 2;
    }
    int status = 0;
    for (int i = 0; i < children; i++) {
        if (pids[i] < 0) {
            fprintf(stderr, "mscount: fork failed\n");
            return 2;
        }
        int job = i / per_job;
        if (own_heap && statuses[i] == 0 && job >= FORKED_EMPTIES && i % per_job == per_job - 1 &&
            !logged_pass_valid(paths[job - FORKED_EMPTIES], &traces[job], logs[job]))
            statuses[i] = 1 << 8; /* as exit(1): the caller takes it for a failed pass */
        /* a wait status is not negative, nor a pid here (pids[i] < 0 returned above) */
        const unsigned long long line[] = {
            (unsigned long long)pids[i], (unsigned long long)statuses[i],
            (unsigned long long)traces[job].num_ops,
            (unsigned long long)(logs[job] != NULL ? *heap_word(&traces[job], logs[job]) : 0)};
        put_line(line, 4, "");
        if (statuses[i] != 0)
            status = 1;
    }
    for (int i = 0; i < jobs; i++) {
        if (logs[i] != NULL)
            munmap(logs[i], log_bytes(&traces[i]));
        ms_trace_free(&traces[i]);
        free(live[i]);
    }
    free(logs);
    free(live);
    free(traces);
    free(pids);
    free(statuses);
    return status;
}

/* --timed=SECONDS: every trace parsed, then each one's timed passes in a child (the banner). */
static int time_forked(int count, char **paths, unsigned reading, const ms_allocator *alloc,
                       double min_seconds) {
    enum { MIN_PASSES = 3, MAX_PASSES = 2000 }; /* as the driver's ReplayOptions */
    ms_trace *traces = calloc((size_t)count, sizeof *traces);
    double *seconds = calloc(MAX_PASSES, sizeof *seconds);
    unsigned long long *line = calloc(MAX_PASSES + 1, sizeof *line); /* the index, nanoseconds */
    if (traces == NULL || seconds == NULL || line == NULL)
        out_of_memory();
    if (!parse_all(count, paths, reading, traces))
        return 2;
    int status = 0;
    for (int i = 0; i < count; i++) {
        pid_t pid = quiet_fork();
        if (pid == 0) {
            seal_pass(); /* no helper of the allocator's runs its passes (count_forked) */
            /* Each pass alone: what this times is compared with an agent's passes (grading). */
            const ms_timed_options timed = {.min_passes = MIN_PASSES,
                                            .max_passes = MAX_PASSES,
                                            .min_seconds = min_seconds,
                                            .pass_alone = true};
            ms_timed_result result;
            uint32_t passes = ms_replay_timed(&traces[i], alloc, &timed, seconds, &result);
            line[0] = (unsigned long long)i;
            for (uint32_t k = 0; k < passes; k++)
                line[k + 1] = (unsigned long long)(seconds[k] * 1e9 + 0.5);
            char failed[sizeof " failed: " + sizeof result.error] = " failed: ";
            strncat(failed, result.error, sizeof failed - sizeof " failed: ");
            put_line(line, passes + 1, passes > 0 ? "" : failed);
            _exit(0);
        }
        int child = 0;
        if (pid < 0 || waitpid(pid, &child, 0) < 0 || child != 0)
            status = 1; /* its line is missing or says why: the caller leaves the trace out */
    }
    for (int i = 0; i < count; i++)
        ms_trace_free(&traces[i]);
    free(traces);
    free(seconds);
    free(line);
    return status;
}

/* --glibc-warm: glibc keeps its pages between passes, as `bench --glibc-warm` makes it do in
   the driver's process (the same two settings as bench.keep_glibc_memory). */
static bool keep_glibc_memory(void) {
#ifdef __GLIBC__
    return mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) && mallopt(M_TRIM_THRESHOLD, INT_MAX);
#else
    return false;
#endif
}

/*
 * valgrind preloads its vgpreload_core into every process it runs, and that object's code holds a
 * client request (the instructions valgrind reads as a request to it, such as "run this function
 * on the real CPU, uncounted") followed by pops and a return: an allocator that found it
 * (dl_iterate_phdr) and jumped there with a request of its own ran its fit search uncounted,
 * though its own file holds none (forbidden.check_uncounted): an explicit list's counted grade rose
 * from 57.4 to 93.6, confirmed by the clock (red-team pass 17). The object serves the tools that
 * replace functions (callgrind and cachegrind replace none) and the freeres calls at exit, which
 * the grader turns off (--run-libc-freeres=no), so before the allocator is loaded each of its
 * executable pages (where every request in it lies, in both ABIs' builds) becomes a page of
 * `ret` instructions: the loader still calls its destructors at exit, and they return. Its other
 * pages, its headers and data, stay as they are for whatever walks the loader's list. Without
 * valgrind there is none to blank.
 */
static bool blank_valgrind_preloads(void) {
    enum { MOST = 32 };
    struct {
        unsigned long long lo, hi;
    } found[MOST];
    size_t count = 0;
    bool complete = true;
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL)
        return false;
    char line[4096];
    while (fgets(line, sizeof line, maps) != NULL) {
        unsigned long long lo, hi;
        char perms[8];
        if (strstr(line, "/vgpreload_") == NULL)
            continue;
        if (count == MOST || sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 || hi <= lo) {
            complete = false;
            break;
        }
        if (strchr(perms, 'x') == NULL)
            continue;
        found[count].lo = lo;
        found[count++].hi = hi;
    }
    fclose(maps);
    for (size_t i = 0; complete && i < count; i++) {
        void *at = (void *)(uintptr_t)found[i].lo;
        size_t len = (size_t)(found[i].hi - found[i].lo);
        complete = mmap(at, len, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0) != MAP_FAILED &&
                   memset(at, 0xC3, len) != NULL && mprotect(at, len, PROT_READ | PROT_EXEC) == 0;
    }
    return complete;
}

int main(int argc, char **argv) {
    bool forked = false, forked_warm = false, warm = false, verify = false;
    bool timed = false;
    double timed_seconds = 0; /* --timed=SECONDS */
    unsigned reading = MS_READ_STRICT;
    struct stat fed_before = {0}; /* the traces' socket (--traces-on), before the allocator loads */
    for (; argc > 1 && strncmp(argv[1], "--", 2) == 0; argv++, argc--) {
        char *end;
        if (strncmp(argv[1], "--timed=", 8) == 0) {
            timed = true;
            timed_seconds = strtod(argv[1] + 8, &end);
            if (end == argv[1] + 8 || *end != '\0' ||
                !(timed_seconds >= 0 && timed_seconds <= 3600)) {
                fprintf(stderr, "mscount: %s: expected --timed=SECONDS, from 0 to an hour\n",
                        argv[1]);
                return 2;
            }
        } else if (strncmp(argv[1], "--reading=", 10) == 0) {
            unsigned long n = strtoul(argv[1] + 10, &end, 10);
            if (end == argv[1] + 10 || *end != '\0' ||
                n > (MS_READ_CARRY_SIZE | MS_READ_STOP_AT_COUNT)) {
                fprintf(stderr, "mscount: %s: expected --reading=N, MS_READ_* flags\n", argv[1]);
                return 2;
            }
            reading = (unsigned)n;
        } else if (strncmp(argv[1], "--heap-limit=", 13) == 0) {
            unsigned long long bytes = strtoull(argv[1] + 13, &end, 10);
            if (end == argv[1] + 13 || *end != '\0' || bytes == 0 || bytes > SIZE_MAX) {
                fprintf(stderr, "mscount: %s: expected --heap-limit=BYTES\n", argv[1]);
                return 2;
            }
            mem_set_limit((size_t)bytes);
        } else if (strncmp(argv[1], "--heap-at=", 10) == 0) {
            unsigned long long at = strtoull(argv[1] + 10, &end, 0);
            if (end == argv[1] + 10 || *end != '\0' || at > UINTPTR_MAX) {
                fprintf(stderr, "mscount: %s: expected --heap-at=ADDRESS\n", argv[1]);
                return 2;
            }
            mem_place((uintptr_t)at);
        } else if (strncmp(argv[1], "--traces-on=", 12) == 0) {
            long fd = strtol(argv[1] + 12, &end, 10);
            struct stat socket_stat;
            if (end == argv[1] + 12 || *end != '\0' || fd < 3 || fd > INT_MAX ||
                fstat((int)fd, &socket_stat) != 0 || !S_ISSOCK(socket_stat.st_mode)) {
                fprintf(stderr, "mscount: %s: expected --traces-on=FD, a socket's descriptor\n",
                        argv[1]);
                return 2;
            }
            fed = (int)fd;
            fed_before = socket_stat;
        } else if (strncmp(argv[1], "--root=", 7) == 0) {
            if (!note_file(&root_folder, argv[1] + 7, O_PATH | O_DIRECTORY)) {
                fprintf(stderr, "mscount: %s: expected --root=FOLDER, a folder: %s\n", argv[1],
                        strerror(errno));
                return 2;
            }
        } else if (strcmp(argv[1], "--forked") == 0)
            forked = true;
        else if (strcmp(argv[1], "--warm") == 0)
            forked_warm = true;
        else if (strcmp(argv[1], "--glibc-warm") == 0)
            warm = true;
        else if (strcmp(argv[1], "--verify") == 0)
            verify = true;
        else
            break;
    }
    if (argc < 5) {
        fprintf(stderr,
                "usage: mscount [--forked [--warm] | --timed=SECONDS] [--glibc-warm] [--verify] "
                "[--reading=N] [--heap-at=A] [--heap-limit=BYTES] [--traces-on=FD [--root=FOLDER]] "
                "classic|cmu|system LIBRARY|- OPTIONS TRACE...\n");
        return 2;
    }
    if ((forked_warm && !forked) || (timed && forked)) {
        fprintf(stderr, "mscount: --warm goes with --forked, --timed with neither\n");
        return 2;
    }
    if (warm && !keep_glibc_memory()) {
        fprintf(stderr, "mscount: --glibc-warm: this malloc has no glibc mallopt\n");
        return 2;
    }
    if (!own_results()) {
        fprintf(stderr, "mscount: cannot set its output apart: %s\n", strerror(errno));
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) { /* before any code of the allocator's runs */
        fprintf(stderr, "mscount: cannot reap its descendants: %s\n", strerror(errno));
        return 2;
    }
    if (!blank_valgrind_preloads()) {
        fprintf(stderr, "mscount: cannot blank valgrind's preloaded code: %s\n", strerror(errno));
        return 2;
    }
    if (!open_proc_files()) {
        fprintf(stderr, "mscount: cannot watch for processes of its own: %s\n", strerror(errno));
        return 2;
    }
    ms_before_load before;
    ms_sandbox_note_before_load(&before);
    ms_allocator alloc;
    ms_error err = {{0}, 0};
    bool system_malloc = strcmp(argv[1], "system") == 0;
    int dialect = strcmp(argv[1], "cmu") == 0 ? MS_DIALECT_CMU : MS_DIALECT_CLASSIC;
    if (system_malloc)
        ms_allocator_system(&alloc);
    else if (!ms_allocator_load(argv[2], dialect, &alloc, &err)) {
        fprintf(stderr, "mscount: %s\n", err.message);
        leave(2);
    }
    /* Loaded, sealed, then started: a student's mm.c runs none of its code before the seal (its
       constructors wait for the start), where it could undo it (red-team pass 39). */
    if (fed >= 0 && !seal_reads(&before))
        leave(2);
    if (!system_malloc && !ms_allocator_start(&alloc, argv[2], argv[3], &err)) {
        fprintf(stderr, "mscount: %s\n", err.message);
        leave(2);
    }
    if (!nothing_else_runs(&fed_before))
        leave(2);
    if (timed || forked)
        leave(timed ? time_forked(argc - 4, argv + 4, reading, &alloc, timed_seconds)
                    : count_forked(argc - 4, argv + 4, reading, &alloc, forked_warm));
    ms_trace empty = {0};
    ms_timed_result result;
    verify = verify && alloc.dialect != MS_DIALECT_SYSTEM;
    ms_allocator stand_in = without_init(&alloc);
    count_twice("(empty)", &empty, &stand_in, verify, &result);
    put_line(&(unsigned long long){0}, 1, "");
    int status = 0;
    for (int i = 4; i < argc; i++) {
        ms_trace trace;
        if (!parse_one(argv[i], reading, &trace))
            leave(2);
        bool counted = count_twice(argv[i], &trace, &alloc, verify, &result);
        if (has_children() || !reaped_none()) { /* the pass started a process of its own */
            fprintf(stderr, "mscount: %s: the allocator started a process in a pass\n", argv[i]);
            leave(2);
        }
        if (counted) {
            put_line(&(unsigned long long){trace.num_ops}, 1, "");
        } else {
            put_line(&(unsigned long long){0}, 1, ""); /* keeps the lines in step with the dumps */
            fprintf(stderr, "mscount: %s: %s\n", argv[i], result.error);
            status = 1;
        }
        ms_trace_free(&trace);
    }
    leave(status); /* the library stays loaded: its destructors are its own code, uncounted */
}
