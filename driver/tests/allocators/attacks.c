/*
 * attacks.c - a correct bump allocator that also attacks the grader, one way
 * per build: the test compiles it with -DATTACK=<name> (prepended as a
 * #define) and ATTACK_PATH / ATTACK_PORT / ATTACK_SECRET where the attack needs them. Every
 * attack must be stopped and named, and leave the machine as it was
 * (driver/tests/test_sandbox.py). ATTACK HONEST (0) attacks nothing: the
 * baseline a forgery is compared with.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "memlib.h"
#include "mm.h"

/* The attacks reach the kernel as any code can, by the instruction itself: a built file's calls of
   the C library's syscall, mmap and mprotect, which an allocator may not make, go to a trap
   (c/src/forbidden_calls.c) before the sandbox sees them, and the sandbox is what these attacks
   test. Up to six arguments (five in a -m32 build, which the attacks built so need), each passed
   as the ABI's system call registers take it; the kernel's answer as it gives it (-errno on
   failure). */
#if defined(__x86_64__)
static long raw_call(long number, long a, long b, long c, long d, long e, long f) {
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long done;
    __asm__ volatile("syscall"
                     : "=a"(done)
                     : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return done;
}
#else
static long raw_call(long number, long a, long b, long c, long d, long e, long f) {
    (void)f;
    long done;
    __asm__ volatile("int $0x80"
                     : "=a"(done)
                     : "a"(number), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
                     : "memory");
    return done;
}
#endif
#define RAW_CALL(n, a, b, c, d, e, f, ...)                                                         \
    raw_call((long)(n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define syscall(...) RAW_CALL(__VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define mmap(addr, length, prot, flags, fd, offset)                                                \
    ((void *)syscall(SYS_mmap, addr, length, prot, flags, fd, offset))
#define mprotect(addr, length, prot) ((int)syscall(SYS_mprotect, addr, length, prot))

/* Macros, not an enum: #if compares numbers, and an enum constant there is 0. */
#define HONEST 0
#define CONSTRUCTOR_WRITE 1 /* a constructor creates a file, before any mm_ call */
#define RUN_PROGRAM 2       /* system("touch ATTACK_PATH") */
#define CONNECT 3           /* a TCP connection to 127.0.0.1:ATTACK_PORT */
#define FORK_BOMB 4         /* fork() forever */
#define DETACHED_CHILD 5    /* a grandchild that outlives the grader, to rewrite its results */
#define KILL_PARENT 6       /* SIGKILL to the grader */
#define RAW_SYSCALL 7       /* openat for writing through syscall(2), past any import check */
#define FAKE_TABLE 8        /* prints a score table of its own */
#define PIPE_GARBAGE 9      /* writes into every descriptor it can: the grader's pipe among them */
#define ENDLESS_WRITE 10    /* writes into every descriptor, forever */
#define MEMORY_BOMB 11      /* touches a GiB of heap: past the memory limit */
#define EXIT_EARLY 12       /* _exit(0) in the middle of the trace */
#define READ_AND_PRINT 13   /* reads another student's file and prints it */
/* Forged grades: each would raise the grade if the verdict were made in the allocator's process.
   FORGE_ANSWER: one block for every call, and a well-formed perfect result sent down every
   descriptor; HIGH_WATER: rewrites memlib's record of the heap's size to 16 bytes; CHEAT_TIMED:
   correct until the third mm_init, then one block for every call (the passes that are timed, not
   checked); FAKE_CLOCK: patches the engine's clock_gettime to run 10 times slow (from a
   constructor), each malloc working ATTACK_PORT steps; PATCH_CHECKER: patches the engine's checker
   to say yes (from a constructor), then one block for every call. */
#define FORGE_ANSWER 14
#define HIGH_WATER 15
#define CHEAT_TIMED 16
#define FAKE_CLOCK 17
#define PATCH_CHECKER 18
#define KERNEL_MEMORY 19      /* a GiB mapped by a raw mmap, for metadata outside the heap */
#define CONSTRUCTOR_MEMORY 20 /* 64 MiB mapped by a constructor, before the memory seal */
/* Searches every readable page of its process for ATTACK_SECRET (written backwards, so that the
   library itself does not hold it) and fails mm_init when it finds it: what the grader's process
   held, another student's code say, must not be in the allocator's. */
#define FIND_SECRET 21
/* realloc copies no data: it writes what the checker's pattern would hold, worked out from the
   old block's first word and the pattern's public step, as an allocator that kept its metadata
   in live payloads could write each back before the grader reads it. */
#define REGENERATE 22
/* Work hidden from the instruction count: each malloc does slow work (a loop of SLOW_WORK steps),
   except where valgrind counts it. UNCOUNTED runs it, under valgrind, through valgrind's
   NON_SIMD_CALL request (on the real CPU, so uncounted), from code the library writes at run
   time into memory it maps with a raw system call: no import, and no marker bytes in its code for
   the build's check to find; without valgrind the request does nothing and the work runs here.
   CHEAT_COUNTED skips it in the program valgrind counts, told by its name. With ATTACK_PATH
   "honest" either does the work everywhere: the baseline. With ATTACK_PATH "gadget" UNCOUNTED
   writes no code: it jumps to the request that ends a function of valgrind's own preloaded
   object (vgpreload_core), found through dl_iterate_phdr, with its request in %rax. */
#define UNCOUNTED 23
#define CHEAT_COUNTED 24
/* Reuses the last block freed (if big enough) where it is checked, and never reuses anything in
   the timed passes (after the second mm_init): a checked pass's heap, a bump allocator's speed.
   With ATTACK_PATH "honest" it reuses everywhere: the baseline. */
#define BUMP_WHEN_TIMED 25
/* A const array (read-only data, which no global-data rule counts) made writable by a raw
   mprotect, past the import check, to keep metadata in. */
#define WRITABLE_RODATA 26
/* io_uring, whose operations (create, rename, unlink a file) pass every other rule, set up by a
   raw system call; and a grader's child that undoes its death with the grader, to outlive it. */
#define IO_URING 27
#define OUTLIVE 28
/* A constructor reads ATTACK_PATH (another student's file, a secret of the grader's) into the
   team record, which the grade prints. */
#define READ_INTO_TEAM 29
/* A constructor that can read ATTACK_PATH prints it as one line on stderr, with ESC[8m after it
   (which hides what a terminal prints next), and exits with status 2, mscount's own failure
   status: the instruction count's error showed that last line in the grade (/etc/shadow, the
   grader's environment through /proc/self/environ), escape and all. */
#define LEAK_BY_ERROR 30
/* In the program valgrind counts (mscount, told by its name), mm_malloc ends the pass's process
   at its 100th call: the count of a long trace is lost, a short one's kept, and T was made of the
   short ones alone. With ATTACK_PATH "honest" it never does: the baseline. */
#define DROP_FROM_COUNT 31
/* A constructor in the agent writes its own "why it failed" into the link the grader and the agent
   share (found by its name in /proc/self/maps), terminal escapes and a forged score line, and
   hands the turn back as if the grader had refused it. The offsets are remote.c's struct ms_link:
   turn at 0, move at 12, said at 72. */
#define FORGE_VERDICT 32
/* In the program valgrind counts (mscount, told by its name), everything its process may do to the
   grader around the count: a byte 0xff on stderr and a line "\u00b2 0 0" on stdout (a traceback
   each: no UTF-8, and a digit int() refuses); two children named ms-escapee that sleep, one
   after setsid (they outlived the grade); and at exit every profile replaced by a FIFO (which hung
   the grader). */
#define HOSTILE_COUNT 33
/* MEMORY_BOMB, after writing pid 1 where the grader's watch read its agent's pid (the fifth word of
   the progress words it maps, found by their name in /proc/self/maps), and then asleep for 5 s:
   the watch took pid 1's memory for the agent's, and the bomb ran to its end unstopped. */
#define FORGE_WATCH 34
/* In mscount's forked passes (the count's children, told by their pid from mscount's), burns
   3M steps in the third empty pass and 6M in the first trace's: the fixed cost and the step
   between forks, which are taken off every trace, grow, the first trace's count stays, and the
   second's comes out negative, which T and the clock check passed over (53.0 -> 89.6). The empty
   passes run a stand-in mm_init now (red-team pass 30): its burns land in the traces' passes. */
#define NEGATIVE_COUNT 35
/* FAKE_CLOCK's patch, with a clock that claims 0.1 us for nine passes in ten and, for the tenth,
   its own time plus 1.5 times what the nine hid: the claims' sum covers the kernel's count, and
   their median, what a trace is graded by, is 0.1 us. Each malloc also works ATTACK_PORT steps
   (4000: passes of milliseconds; 100: under the 200 us a pass's stops may cost, red-team pass 14).
   With ATTACK_PATH "honest" the clock is not patched. */
#define SKEWED_CLOCK 36
/* mm_init, in the agent, looks for the trace's ops in the link it shares with the grader (a
   size of ATTACK_PORT bytes, unique to the test's trace, as a 64-bit word) and fails when it
   finds them: an allocator that can read the ops to come in the checked passes, which
   utilization is made of, can place a hidden trace's blocks offline. */
#define PEEK_TRACE 37
/* In mscount's forked passes (their pid not the one that loaded the library), mm_malloc returns
   one block for every call: the count's passes were checked for NULL alone, and counted as cheap
   as that (49.8 -> 89.6 with the timed passes replayed, red-team pass 5). With ATTACK_PATH "any",
   in every pass of mscount's, forked or not (bench --instructions counts in the loader's). */
#define UNCHECKED_COUNT 38
/* CONSTRUCTOR_MEMORY's 64 MiB, mapped shared: the agent's private memory (VmData), which the
   grader compared, leaves shared mappings out, and the allocator kept every header and list there,
   off the heap (red-team pass 7). */
#define SHARED_MEMORY 39
/* From a constructor, as root would let it (red-team pass 8): OTHER_PROCESS lowers the open-file
   limit of process ATTACK_PORT (a classmate's grader, the class run's coordinator) with
   prlimit64, and moves it to one CPU; IPC_QUEUE leaves a SysV message queue, which carried a
   checked pass's requests to the -m32 build graded next; FANOTIFY asks for permission events on
   the file system, with which it refused every open of a file on the machine. CAPABILITIES
   fails mm_init when the process that loaded it held any capability but CAP_DAC_READ_SEARCH
   (CapEff or CapPrm in /proc/self/status, read by a constructor: the count's forked passes
   cannot read their own), in the agent or in the program valgrind counts. */
#define OTHER_PROCESS 40
#define IPC_QUEUE 41
#define FANOTIFY 42
#define CAPABILITIES 43
/* Red-team pass 10, as root: calls the filter did not name. FILE_MODE makes ATTACK_PATH setuid
   and world-writable (fchmodat2, new in Linux 6.6), FILE_TIMES dates it back (utimes),
   FILE_XATTR tags it (lsetxattr), FILE_FLAGS sets its no-dump flag (ioctl FS_IOC_SETFLAGS);
   AIO_MEMORY asks for AIO rings, writable memory the kernel maps past the memory seal; NEWER_CALL
   makes a call of a number libseccomp cannot name (469: file_setattr, Linux 6.17). */
#define FILE_MODE 44
#define FILE_TIMES 45
#define FILE_XATTR 46
#define FILE_FLAGS 47
#define AIO_MEMORY 48
#define NEWER_CALL 49
/* Red-team pass 11: OUTLIVE_WIDE undoes its death with the grader by prctl's option with bit 32
   set (the kernel reads an int; the rule compared 64 bits); LEAVE_GROUP calls setsid;
   FLAGS_WIDE sets ATTACK_PATH's no-dump flag by the ioctl request so widened; STACK_STORE raises
   its stack limit to the hard one and keeps a table 64 MiB below its frame; GROWSDOWN_MEMORY maps
   64 MiB MAP_GROWSDOWN in a constructor, which VmStk counts and VmData not; PIPE_STORE and
   LDT_STORE keep data in the kernel; OTHER_ABI makes an i386 call (int 0x80) from 64-bit code. */
#define OUTLIVE_WIDE 50
#define LEAVE_GROUP 51
#define FLAGS_WIDE 52
#define STACK_STORE 53
#define GROWSDOWN_MEMORY 54
#define PIPE_STORE 55
#define LDT_STORE 56
#define OTHER_ABI 57
/* Red-team pass 12: PAGE_CACHE asks which pages of a file are cached (mincore), a channel from
   one agent to the next through the page cache. */
#define PAGE_CACHE 58
/* COUNT_FORKS: in the program valgrind counts (mscount), a constructor starts 200 processes that
   sleep: a fork bomb there took every pid on the machine (root has no RLIMIT_NPROC).
   COUNT_ZOMBIES: 200 children that end at once and are not reaped for 10 s (pass 13: a zombie
   holds its pid, and the watch counted live processes). */
#define COUNT_FORKS 59
#define COUNT_ZOMBIES 60
#define COUNT_THREADS 61 /* 200 threads that sleep: /proc lists none of them (pass 13) */
/* Red-team pass 14: HIDE_MEMORY makes its process undumpable, which makes /proc/PID/maps
   unreadable to a grader without CAP_SYS_PTRACE (any but root): the loading watch then saw no
   shared mapping, and 42.5 MiB of bookkeeping off the heap graded 58.3 against an honest 45.2. */
#define HIDE_MEMORY 62
/* Red-team pass 15: SKEWED_CLOCK's forgery on passes under 200 us, four passes in five claimed
   as 0.1 us and the fifth made long on purpose (30 ms of CPU, claimed as 51 ms) so that the
   agent's run ends after five passes, whose median is then a hidden one: the sum's allowance
   (500 us) covered the four (30,611 -> 10,100,607 Kops/s). Each malloc works ATTACK_PORT steps. */
#define FEW_PASSES 63
/* Red-team pass 16: NaN written over each timed pass's claimed seconds in the link (the shared
   memfd "mallocsim-link", found in /proc/self/maps) just before the agent hands the pass's end
   over (the engine's `syscall` import, its futex call, patched): a NaN passed every comparison,
   and the traces dropped out of T (363 -> 286,373 Kops/s). The offsets are the link's wire
   layout (remote.c): the move at 12, the seconds at 56; MOVE_PASS_END is 6. */
#define NAN_CLAIM 64
/* Red-team pass 17: a SIGSYS handler of its own, then a denied call (a socket): the call was
   made harmless, but nothing named it, and the grade was the honest one. */
#define OWN_SIGSYS 65
/* Red-team pass 17: in the program valgrind counts, a constructor that waits for ever (COUNT_SLEEP)
   or stops its process (COUNT_STOP): the count held the grade for its whole budget. Pass 18: with
   ATTACK_PATH "zombie", COUNT_SLEEP first leaves a child unreaped, which the watch took for a
   process that runs. */
#define COUNT_SLEEP 66
#define COUNT_STOP 67
/* Red-team pass 18: the engine's `signal` and `raise` imports pointed (from a constructor) at
   functions that return, so that the sandbox's SIGSYS handler returned too: a socket call denied
   and survived, the grade the honest one. */
#define SILENT_SIGSYS 68
/* Red-team pass 18: in the program valgrind counts, a chain of 3,000 nested folders in the count's
   scratch folder (TMPDIR), its clean-up's recursion then past Python's limit: a traceback, and
   the tree left behind. With ATTACK_PATH "files" (red-team pass 20), files until the disk is
   full, each within the count's file size limit: the classmates' builds failed; "tmpfile" (pass
   21) the same without names (O_TMPFILE), "inodes" empty files until no inode is left. */
#define COUNT_LITTER 69
/* Red-team pass 19: the agent read its own source in its library's build folder (where a comment
   could carry payload bytes an earlier grade had seen); mm_init fails when it can. */
#define READ_OWN_SOURCE 70
/* Red-team pass 20: a kernel object that holds bytes past the memory seal, ATTACK_PATH naming
   which: "eventfd", "timer", "timerfd", "signalfd" or "epoll"; pass 48, the process's own state
   that holds bytes: a signal's "action", an "itimer", an "altstack" or its "name". */
#define KERNEL_OBJECTS 71
/* In the timed passes only (from the third mm_init), 1 MiB of tables written 8 MiB above the heap's
   start, never sbrk'd, no block placed there: memory the heap measure did not see (red-team pass
   22: 68.0 -> 88.9). With ATTACK_PATH "remove" the pages are then punched out of the grader's file
   (madvise MADV_REMOVE), before the grader looks; "remove-high" asks it by a raw system call, the
   advice's upper 32 bits set (the kernel reads an int: red-team pass 23). */
#define TOUCH_WHEN_TIMED 72
/* Another policy where valgrind counts (mscount, told by its name): reuse of the last block freed,
   each malloc doing slow work (SLOW_WORK steps), where it is checked and timed; a bump pointer
   doing none in the count. No request, nothing hidden: the count is true, of other code (red-team
   pass 18's four-block first fit under valgrind's CPU and best fit natively, 57.4 -> 93.6). With
   ATTACK_PATH "honest" it reuses and works everywhere: the baseline. */
#define PLACED_WHEN_COUNTED 73
/* Work hidden from the count by reading the trace before it: where it is counted (mscount), a
   constructor reads every trace its command line names; each malloc does SEEN_WORK steps of work,
   but none once a trace was read (red-team pass 30: a constructor replayed the traces on a heap of
   its own and the counted passes answered from its log, 57.4 -> 93.6, confirmed by the clock, a
   hidden cost within the clock's tolerance). With ATTACK_PATH "honest" it reads nothing: the
   baseline; "drain" reads every socket it was handed instead; "thread" starts a thread that
   would wait for the traces (and mm_init fails once it has); "process" a process that would (or would answer for the passes,
   as pass 31's did through shared memory); "peek" peeks at every socket it was handed for a
   third of a second (recv with MSG_PEEK: the traces stay for mscount), and works less if it saw
   more than a few bytes there; "sibling" one made by clone(CLONE_PARENT), no child of mscount's
   (pass 32); "pass process" has each pass's mm_init start one; "pass reaped" has it start one and
   wait for its end; "vm process" one that shares mscount's memory (CLONE_VM without
   CLONE_THREAD), "quiet process" one with no exit signal, which a wait without __WALL does not
   report (pass 47): mm_init fails, as for "thread", once either has started; "pass unseen" has
   each pass's mm_init ignore SIGCHLD and start one, which the kernel reaps unseen (pass 48):
   mm_init fails once it has. */
#define SEES_TRACE_WHEN_LOADED 74
/* An mm_init that works INIT_WORK steps (ATTACK_PATH "honest": none). Work there once went into
   the fixed cost of a pass that mscount took off every count, the empty passes running the
   allocator's own mm_init: a file that did its work in mm_init had none of it counted, and one
   that did more in the empty passes than in the others took it off every pass's count (red-team
   pass 30). */
#define BUSY_INIT 75
/* Red-team pass 35: a file read once the trace is in sight sets its access time (relatime, where
   it was stale), a bit a later process reads back by stat. mm_init fails when the read works:
   ATTACK_PATH "open" opens the library's own file and reads it; "kept" reads it through a
   descriptor a constructor opened; "stdin" through one a constructor put in place of standard
   input; "readlink" reads a system symbolic link; "cmdline" reads /proc/self/cmdline, which
   valgrind answers with a file of its own, shared by a count's passes (pass 36); "valgrind" reads
   such files by their numbers, past the descriptor limit valgrind shows (pass 37); "lowered" through
   descriptors kept past a limit its constructor lowered (pass 39). "mode3" opens
   the library's file with access mode 3, neither read nor write, for which Landlock asks no right
   (pass 36: a file it may not read leased, the grader's terminal's echo turned off), where valgrind
   counts it, and goes on whatever the answer. */
#define READ_WHEN_SEALED 76
/* Red-team pass 35: a record lock, which lives in the kernel while its file is open and which
   other processes see (storage past the global-data rule, a channel between two agents), at op 1:
   ATTACK_PATH "fcntl" (F_SETLK), "ofd" (F_OFD_SETLK), "lease" (F_SETLEASE: red-team pass 36)
   or "flock", on standard output. */
#define FILE_LOCK 77
/* Red-team pass 39: a constructor's own seccomp filter answers every later installation of a
   filter (seccomp, or prctl's PR_SET_SECCOMP) with success, and installs nothing: the seal that
   follows the load is then none, and mm_init takes a MiB from the kernel (mmap) for good.
   ATTACK_PATH "count": in the instruction count alone, whose seal of reads it would undo. */
#define SEAL_BLOCKED 78
/* The agent's own calls that check the load and seal it, skipped: a constructor points their
   jump slots in the engine's library at functions that say all is well. What a constructor may do
   to the agent's memory before the seal no check inside the agent can rule out; the grader reads
   the kernel's count of the agent's filters from outside. */
#define SEAL_SKIPPED 79
/* Red-team pass 40: in the program valgrind counts, a constructor (run once it is sealed) gives
   signal ATTACK_PORT a handler by the kernel's call and has the traces' socket send it when the
   traces come (F_SETOWN, F_SETSIG, O_ASYNC): the handler would run outside any pass, where no
   count sees its work. mm_init fails once it has run, and the count with it. */
#define SIGNAL_OUTSIDE 80
/* Red-team pass 42: in the program valgrind counts, a constructor reads the traces' preamble
   (pass 42 through the count's own stream over the socket, its buffer set back so that the
   preamble seemed unread; the count reads the socket with no stream now) and peeks at the traces
   the grader then sends: mm_init fails there unless it saw them, uncounted. With ATTACK_PATH
   "refeed" (red-team pass 46), it reads the traces whole instead and puts a pipe
   holding the preamble and them in the socket's place, the identity the count keeps of the
   socket rewritten wherever it lies above on the stack: mm_init fails unless that was done. */
#define PEEK_PAST_THE_PREAMBLE 81
/* Red-team pass 42: in the program valgrind counts, a constructor makes a page of code writable
   (its own here; the count's own there), after which every check the count makes could be
   rewritten. mm_init fails there unless the page became writable. */
#define WRITABLE_CODE 82
/* Red-team pass 42: state kept in the rest of the last data page of another loaded library (the
   engine's heap library here), past its variables, where no count of mm.c's variables sees it:
   mm_init writes a byte there. Pass 43: ATTACK_PATH "static TLS", in the main thread's spare
   static thread-local storage, below the lowest object's block. Pass 44: "msg", in the drivers'
   msg of the heap's library, found by its symbol table (mm.c does not name it); "_res", in the
   C library's resolver state, found through its thread-local pointer to it, __resp. */
#define STASH_ELSEWHERE 83
/* Red-team pass 43: in the program valgrind counts, a constructor registers a handler with libc's
   own functions, found in libc's symbol table (no import): ATTACK_PATH "fork", a fork handler,
   which ran in the count before each counted child, outside any pass (mm_init fails once it has:
   the children inherit its mark); "exit", an exit handler, which ran as the count ended and
   rewrote its results still in the stream's buffer (here it spoils them). Pass 44: "printf", a
   handler of the printf family's %d, which ran in the count as each trace's header was read,
   its text whole in memory (mm_init fails once it has), and as the results were printed. */
#define HANDLERS_OUTSIDE 84
/* Red-team pass 44: the watch of the memory no object owns kept its own table, and the pattern it
   compares with, in the engine's writable data: an allocator turned it off, or kept 4 KiB in the
   pattern. A malloc writes into that pattern (4,096 bytes of it in the engine's library); with
   ATTACK_PATH "madvise", gives the table's page after it back to the kernel, where it reads as
   zeros, its count 0 among them (red-team pass 45). */
#define WATCH_TABLE 85
/* Red-team pass 46: the agent's link with its grader, found through the engine's own note of it
   (the link's address, then its layout, whose grader is this process's parent), kept the
   allocator's state from one call to the next: in the 512 bytes of its `said`, or (ATTACK_PATH
   "log") in the timed passes' log, which no checked pass writes, or ("words") in the page of the
   parent's progress words past them, found by the engine's two pointers into it (the op index,
   the second word; the assert() message's room, 24 bytes on). Red-team pass 47: "phase" and
   "timed pass", the words before and after the op index, 8 bytes each, and "padding", the link's
   4 bytes after `pass`. mm_init writes a mark there in the checked pass; mm_malloc answers NULL
   while the mark is still there. "denied": the sandbox's denied word, after the timed pass's,
   which mm_malloc clears once it has seen the mark there (state kept, then hidden). Red-team pass
   48: "forged phase": the first timed pass's mm_init writes "the checked pass" in the phase word,
   then crashes. */
#define LINK_STASH 86
/* Red-team pass 46: a path walked through a symbolic link sets the link's access time where it
   is a day old, a bit a later process reads back with lstat, no file opened: mm_init looks up
   ATTACK_PATH, in the agent (ATTACK_PORT 0) or in the count (1). */
#define STAT_THROUGH_LINK 87
/* Not an attack: mm_init fails unless the kernel lets its process run ATTACK_PORT seconds of CPU
   time (RLIMIT_CPU), what the grader's watch allows it at most. The kernel's limit was the
   checked passes' alone: a file whose checked passes took a third of it died of SIGXCPU in the
   timed passes the watch allows, and its checked trace failed (lab check 22). */
#define CPU_LIMIT_SEEN 88
/* Red-team pass 48: a stat of a name never walked takes five times a second one's time, a bit in
   the machine's cache of names not found that any later process reads: mm_init, in the agent,
   fails unless a walk of ATTACK_PATH by stat, access and fstatat with AT_EMPTY_PATH (which walks
   a path that is not empty all the same) is each refused (EACCES), as the seal refuses them. The
   count's seal cannot refuse them (valgrind writes its profiles by path), and one count sent a
   trace's sizes so to a later grade's (pass 49): in mscount, mm_init fails when ATTACK_PATH, a
   path that exists, is found, as it is unless the count is rooted in a folder of its own. */
#define WALKS_A_PATH 89
/* Not an attack, a probe of where the agent runs: each malloc works ATTACK_PORT steps while the
   agent may run on more than one CPU, none once it is held to one. The grader holds it and itself
   to one CPU while the passes are timed (shared_core.py), and only then: the checked passes run
   slow, the timed ones at a bump pointer's speed. */
#define ONE_CPU_PROBE 90

team_t team = {"attack", "Mallory", "mallory", "", ""};

#if ATTACK == READ_INTO_TEAM
__attribute__((constructor)) static void read_into_team(void) {
    static char found[256];
    int fd = open(ATTACK_PATH, O_RDONLY);
    if (fd >= 0 && read(fd, found, sizeof found - 1) > 0)
        team.teamname = found;
    else
        team.teamname = "nothing read";
}
#endif

#if ATTACK == LEAK_BY_ERROR
__attribute__((constructor)) static void leak_by_error(void) {
    char found[512] = {0};
    int fd = open(ATTACK_PATH, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, found, sizeof found - 1) : -1;
    if (n <= 0)
        return;
    for (ssize_t i = 0; i < n; i++) /* one line: /proc/self/environ's NULs, a file's newlines */
        if (found[i] == '\0' || found[i] == '\n')
            found[i] = ' ';
    dprintf(2, "%s\x1b[8m\n", found);
    _exit(2);
}
#endif

#if ATTACK == FORGE_VERDICT || ATTACK == FORGE_WATCH || ATTACK == PEEK_TRACE
/* The start of this process's writable mapping whose line in /proc/self/maps names `name`, or
   NULL, its length in *length: the grader's shared memfds are named (mallocsim-link,
   mallocsim-progress). */
static char *writable_mapping(const char *name, size_t *length) {
    static char maps[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY);
    ssize_t n = 0, got;
    while (fd >= 0 && n < (ssize_t)sizeof maps - 1 &&
           (got = read(fd, maps + n, sizeof maps - 1 - (size_t)n)) > 0)
        n += got;
    if (fd >= 0)
        close(fd);
    maps[n] = '\0';
    for (char *line = strtok(maps, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        unsigned long lo, hi;
        char perms[8];
        if (strstr(line, name) != NULL && sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
            perms[1] == 'w') {
            *length = hi - lo;
            return (char *)lo;
        }
    }
    return NULL;
}
#endif

#if ATTACK == FORGE_VERDICT
__attribute__((constructor)) static void forge_verdict(void) {
    size_t length;
    char *link = strcmp(program_invocation_short_name, "msagent") == 0
                     ? writable_mapping("mallocsim-link", &length)
                     : NULL;
    if (link == NULL)
        return;
    strcpy(link + 72, "\x1b[2J\x1b[32mAll traces valid. score 100 / 100\x1b[8m");
    *(volatile unsigned *)(link + 12) = 2;                   /* MOVE_REFUSED */
    __atomic_store_n((unsigned *)link, 0, __ATOMIC_SEQ_CST); /* TURN_GRADER */
    _exit(0);
}
#endif

#if ATTACK == HOSTILE_COUNT
#include <dirent.h>
#include <sys/stat.h>
__attribute__((constructor)) static void hostile_count(void) {
    if (strcmp(program_invocation_short_name, "mscount") != 0)
        return;
    if (write(2, "\xff\n", 2) < 0 || write(1, "\xc2\xb2 0 0\n", 7) < 0)
        return;
    for (int leave = 0; leave < 2; leave++)
        if (fork() == 0) {
            prctl(PR_SET_NAME, "ms-escapee");
            if (leave)
                setsid();
            sleep(600);
            _exit(0);
        }
}
__attribute__((destructor)) static void profiles_to_fifos(void) {
    const char *folder = getenv("TMPDIR");
    if (strcmp(program_invocation_short_name, "mscount") != 0 || folder == NULL)
        return;
    /* The folder's entries by the system call: opendir is a trapped call (its buffer is
       malloc's memory, red-team pass 30). */
    int d = open(folder, O_RDONLY | O_DIRECTORY);
    char path[1024], entries[8192];
    for (long got;
         d >= 0 && (got = raw_call(SYS_getdents64, d, (long)entries, sizeof entries, 0, 0, 0)) > 0;)
        for (long at = 0; at < got;) {
            const char *name = entries + at + 19; /* after d_ino, d_off, d_reclen, d_type */
            at += *(unsigned short *)(entries + at + 16);
            if (strncmp(name, "cachegrind.", 11) == 0) {
                snprintf(path, sizeof path, "%s/%s", folder, name);
                unlink(path);
                mkfifo(path, 0600);
            }
        }
}
#endif

#if ATTACK == FORGE_WATCH
static void forge_watch(void) {
    size_t length;
    char *words = writable_mapping("mallocsim-progress", &length);
    if (words != NULL)
        ((volatile uint64_t *)(void *)words)[4] = 1;
}
#endif

#if ATTACK == UNCHECKED_COUNT
static pid_t loaded_by;
__attribute__((constructor)) static void note_loader(void) { loaded_by = getpid(); }
#endif

#if ATTACK == PEEK_TRACE
/* Whether the ops to come are in the link. */
static bool ops_in_sight(void) {
    size_t length = 0;
    const char *link = strcmp(program_invocation_short_name, "msagent") == 0
                           ? writable_mapping("mallocsim-link", &length)
                           : NULL;
    for (size_t at = 0; link != NULL && at + 8 <= length; at += 8)
        if (*(const volatile uint64_t *)(const void *)(link + at) == (uint64_t)ATTACK_PORT)
            return true;
    return false;
}
#endif

#if ATTACK == NEGATIVE_COUNT
static volatile long *passes_seen; /* shared by mscount and its forked passes */
static pid_t counting_parent;
__attribute__((constructor)) static void negative_count_setup(void) {
    if (strcmp(program_invocation_short_name, "mscount") != 0)
        return;
    counting_parent = getpid();
    long p; /* a raw mmap: the import check refuses mmap and syscall */
    register long flags __asm__("r10") = MAP_SHARED | MAP_ANONYMOUS;
    register long fd __asm__("r8") = -1;
    register long offset __asm__("r9") = 0;
    __asm__ volatile("syscall"
                     : "=a"(p)
                     : "0"((long)SYS_mmap), "D"(0L), "S"(4096L),
                       "d"((long)(PROT_READ | PROT_WRITE)), "r"(flags), "r"(fd), "r"(offset)
                     : "rcx", "r11", "memory");
    passes_seen = p < 0 && p > -4096 ? NULL : (volatile long *)p;
}
static void negative_count_burn(void) {
    if (passes_seen == NULL || getpid() == counting_parent)
        return;
    long seen = __atomic_fetch_add(passes_seen, 1, __ATOMIC_SEQ_CST);
    long steps = seen == 2 ? 3000000 : seen == 3 ? 6000000 : 0;
    for (volatile long i = 0; i < steps; i++)
        ;
}
#endif

#if ATTACK == CONSTRUCTOR_MEMORY || ATTACK == SHARED_MEMORY
static char *stash; /* metadata the heap would never show */
__attribute__((constructor)) static void take_memory(void) {
    int shared = ATTACK == SHARED_MEMORY ? MAP_SHARED : MAP_PRIVATE;
    stash = (char *)syscall(SYS_mmap, NULL, (size_t)64 << 20, PROT_READ | PROT_WRITE,
                            shared | MAP_ANONYMOUS, -1, 0);
}
#endif

#if ATTACK == OTHER_PROCESS || ATTACK == IPC_QUEUE || ATTACK == FANOTIFY
__attribute__((constructor)) static void reach_out(void) {
#if ATTACK == OTHER_PROCESS
    struct {
        uint64_t cur, max;
    } seven = {7, 7};
    syscall(SYS_prlimit64, ATTACK_PORT, 7 /* RLIMIT_NOFILE */, &seven, NULL);
    uint64_t one_cpu = 1;
    syscall(SYS_sched_setaffinity, ATTACK_PORT, sizeof one_cpu, &one_cpu);
#elif ATTACK == IPC_QUEUE
    syscall(SYS_msgget, 0x6d616c6c /* a key of its own */, 01600 /* IPC_CREAT | 0600 */);
#else
    syscall(SYS_fanotify_init, 0x4 /* FAN_CLASS_CONTENT */, O_RDONLY);
#endif
}
#endif

#if ATTACK == CAPABILITIES
/* Whether /proc/self/status shows a capability this process holds. */
static int holds_capabilities(void) {
    char text[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 1; /* unreadable: say so by failing */
    text[n] = '\0';
    const char *fields[] = {"CapEff:\t", "CapPrm:\t"};
    for (size_t i = 0; i < 2; i++) {
        const char *at = strstr(text, fields[i]);
        if (at == NULL || (strtoull(at + strlen(fields[i]), NULL, 16) & ~(1ULL << 2)) != 0)
            return 1; /* bit 2, CAP_DAC_READ_SEARCH, kept: Landlock bounds what it reads */
    }
    return 0;
}

static int capable;
__attribute__((constructor)) static void note_capabilities(void) { capable = holds_capabilities(); }
#endif

#if ATTACK == COUNT_FORKS || ATTACK == COUNT_ZOMBIES
__attribute__((constructor)) static void fork_in_the_count(void) {
    if (strcmp(program_invocation_short_name, "mscount") != 0)
        return;
    for (int i = 0; i < 200; i++)
        if (fork() == 0) {
            if (ATTACK == COUNT_FORKS)
                sleep(30);
            _exit(0);
        }
    if (ATTACK == COUNT_ZOMBIES)
        sleep(10); /* the children's pids held, unreaped */
}
#endif

#if ATTACK == COUNT_LITTER
#include <sys/stat.h>
/* With ATTACK_PATH "files": 64 MiB files, 2 GiB in all, in 1 MiB writes (each file within the
   count's RLIMIT_FSIZE, their number not), as a count that fills the disk under its classmates'
   builds. */
static void fill_the_count(int folder) {
    static char chunk[1 << 20];
    memset(chunk, 1, sizeof chunk);
    for (int file = 0; file < 32; file++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", file);
        int fd = strcmp(ATTACK_PATH, "tmpfile") == 0
                     ? openat(folder, ".", O_WRONLY | O_TMPFILE, 0600) /* no name: unseen */
                     : openat(folder, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        for (int i = 0; fd >= 0 && i < 64; i++)
            if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
                return;
        close(fd);
    }
}

__attribute__((constructor)) static void litter_the_count(void) {
    const char *scratch = getenv("TMPDIR");
    if (strcmp(program_invocation_short_name, "mscount") != 0 || scratch == NULL)
        return;
    int fd = open(scratch, O_RDONLY | O_DIRECTORY);
    if (strcmp(ATTACK_PATH, "files") == 0 || strcmp(ATTACK_PATH, "tmpfile") == 0) {
        fill_the_count(fd);
        return;
    }
    if (strcmp(ATTACK_PATH, "inodes") == 0) { /* empty files: no blocks, an inode each */
        char name[16];
        for (int i = 0; i < 20000; i++) {
            snprintf(name, sizeof name, "e%d", i);
            int made = openat(fd, name, O_WRONLY | O_CREAT, 0600);
            if (made < 0)
                return;
            close(made);
        }
        return;
    }
    for (int i = 0; fd >= 0 && i < 3000 && mkdirat(fd, "d", 0700) == 0; i++) {
        int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = next;
    }
}
#endif

#if ATTACK == COUNT_SLEEP || ATTACK == COUNT_STOP
__attribute__((constructor)) static void asleep_in_the_count(void) {
    if (strcmp(program_invocation_short_name, "mscount") != 0)
        return;
    if (ATTACK == COUNT_STOP)
        raise(SIGSTOP);
    if (strcmp(ATTACK_PATH, "zombie") == 0 && fork() == 0)
        _exit(0);
    for (;;)
        pause();
}
#endif

#if ATTACK == COUNT_THREADS
#include <pthread.h>
static void *asleep(void *unused) {
    (void)unused;
    sleep(30);
    return NULL;
}
__attribute__((constructor)) static void threads_in_the_count(void) {
    if (strcmp(program_invocation_short_name, "mscount") != 0)
        return;
    /* No guard page: its mprotect is refused once the count is sealed, and a stack mapped whole
       needs none. */
    pthread_attr_t unguarded;
    pthread_attr_init(&unguarded);
    pthread_attr_setguardsize(&unguarded, 0);
    for (int i = 0; i < 200; i++) {
        pthread_t thread;
        if (pthread_create(&thread, &unguarded, asleep, NULL) != 0)
            break;
    }
}
#endif

#if ATTACK == GROWSDOWN_MEMORY
__attribute__((constructor)) static void grow_down(void) {
    size_t size = (size_t)64 << 20;
    char *low = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
    if (low != MAP_FAILED)
        for (size_t i = 0; i < size; i += 4096)
            low[i] = 1;
}
#endif

#if ATTACK == CONSTRUCTOR_WRITE
__attribute__((constructor)) static void before_everything(void) {
    int out = open(ATTACK_PATH, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* fopen is trapped */
    if (out >= 0)
        close(out);
}
#endif

static void write_everywhere(const char *text) {
    for (int fd = 1; fd < 64; fd++)
        if (write(fd, text, strlen(text)) < 0)
            continue;
}

#if ATTACK == OWN_SIGSYS
static void quiet_sigsys(int signal) { (void)signal; }
#endif

#if ATTACK == WATCH_TABLE || ATTACK == LINK_STASH
/* dl_iterate_phdr's visit: the engine's own library's writable segment, into found[0] (its
   start) and found[1] (its bytes). */
static int find_engine_data(struct dl_phdr_info *info, size_t size, void *found) {
    (void)size;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "libmscore") == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type == PT_LOAD && (segment->p_flags & PF_W)) {
            ((uintptr_t *)found)[0] = info->dlpi_addr + segment->p_vaddr;
            ((uintptr_t *)found)[1] = segment->p_memsz;
            return 1;
        }
    }
    return 0;
}

/* The engine's own library's writable data: its start, and its bytes in *bytes (0: not found). */
static unsigned char *engine_data(size_t *bytes) {
    uintptr_t found[2] = {0, 0};
    dl_iterate_phdr(find_engine_data, found);
    *bytes = found[1];
    return (unsigned char *)found[0];
}
#endif

#if ATTACK == WATCH_TABLE
/* In the engine's own data, the first 4,096 bytes of the watch's pattern in a row (no page's rest
   is that long), or NULL. */
static unsigned char *find_pattern(void) {
    size_t bytes, run = 0;
    unsigned char *p = engine_data(&bytes);
    for (size_t at = 0; at < bytes; at++)
        if ((run = p[at] == 0xa5 ? run + 1 : 0) == 4096)
            return p + at - 4095;
    return NULL;
}
#endif

#if ATTACK == LINK_STASH
static const char LINK_MARK[] = "kept in the link";
static char *link_stash;  /* where the mark is, or NULL (no link: in mscount) */
static size_t mark_bytes; /* how much of LINK_MARK fits there */

/* In the engine's own data, the agent's note of its link: a page's address, then the layout, its
   size past the log's start, its grader this process's parent; or its two pointers into the
   progress words. Where the mark goes (mark_bytes of it), or NULL. */
static char *find_link(void) {
    size_t bytes;
    const uint64_t *w = (const uint64_t *)(void *)engine_data(&bytes);
    bool words = strcmp(ATTACK_PATH, "words") == 0,
         phase = strcmp(ATTACK_PATH, "phase") == 0 || strcmp(ATTACK_PATH, "forged phase") == 0,
         timed = strcmp(ATTACK_PATH, "timed pass") == 0, denied = strcmp(ATTACK_PATH, "denied") == 0;
    mark_bytes = phase || timed || denied            ? 8
                 : strcmp(ATTACK_PATH, "padding") == 0 ? 4
                                                       : sizeof LINK_MARK;
    for (size_t i = 0; i + 7 < bytes / 8; i++) {
        if (words || phase || timed || denied) {
            if (w[i] % 4096 == 8 && w[i + 1] == w[i] + 24)
                return (char *)(uintptr_t)w[i] + (words ? 2040 : phase ? -8 : timed ? 8 : 16);
            continue;
        }
        uint64_t link = w[i], size = w[i + 1], log_at = w[i + 2];
        if (link == 0 || link % 4096 != 0 || log_at < 1024 || log_at > 8192 || size <= log_at ||
            (int32_t)(w[i + 6] >> 32) != (int32_t)getppid())
            continue;
        bool log = strcmp(ATTACK_PATH, "log") == 0;
        return (char *)(uintptr_t)link + (log ? log_at : mark_bytes == 4 ? 20 : 72); /* said */
    }
    return NULL;
}
#endif

static void attack(void) {
#if ATTACK == WATCH_TABLE
    unsigned char *pattern = find_pattern();
    if (pattern != NULL && strcmp(ATTACK_PATH, "madvise") == 0)
        syscall(SYS_madvise, pattern + 4096, 4096, MADV_DONTNEED);
    else if (pattern != NULL)
        pattern[100] = 42;
#elif ATTACK == RUN_PROGRAM
    if (system("touch " ATTACK_PATH) != 0)
        return;
#elif ATTACK == CONNECT
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(ATTACK_PORT)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(sock, (struct sockaddr *)&to, sizeof to) == 0)
        close(sock);
#elif ATTACK == FORK_BOMB
    for (;;)
        fork();
#elif ATTACK == DETACHED_CHILD
    if (fork() == 0) {
        setsid();
        sleep(2);
        int out = open(ATTACK_PATH, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* fopen is trapped */
        if (out >= 0)
            close(out);
        _exit(0);
    }
#elif ATTACK == KILL_PARENT
    kill(getppid(), SIGKILL);
#elif ATTACK == RAW_SYSCALL
    syscall(SYS_openat, AT_FDCWD, ATTACK_PATH, O_WRONLY | O_CREAT, 0644);
#elif ATTACK == FAKE_TABLE
    printf("amptjp-bal  yes  99.9%%\nscore 100.0 / 100\n");
    fflush(stdout);
#elif ATTACK == PIPE_GARBAGE
    write_everywhere("{\"result\": \"forged\"");
#elif ATTACK == ENDLESS_WRITE
    static char flood[1 << 16];
    memset(flood, 'x', sizeof flood - 1);
    for (;;)
        write_everywhere(flood);
#elif ATTACK == MEMORY_BOMB || ATTACK == FORGE_WATCH
#if ATTACK == FORGE_WATCH
    forge_watch();
#endif
    size_t size = (size_t)1 << 30;
    char *bomb = mem_sbrk((intptr_t)size);
    if (bomb != (void *)-1)
        for (size_t i = 0; i < size; i += 4096)
            bomb[i] = 1;
#if ATTACK == FORGE_WATCH
    sleep(5);
#endif
#elif ATTACK == KERNEL_MEMORY
    size_t size = (size_t)1 << 30; /* raw mmap: past the import check */
    char *bomb = (char *)syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bomb != MAP_FAILED)
        for (size_t i = 0; i < size; i += 4096)
            bomb[i] = 1;
#elif ATTACK == IO_URING
    char params[120] = {0}; /* struct io_uring_params */
    syscall(SYS_io_uring_setup, 4, params);
#elif ATTACK == OUTLIVE
    prctl(PR_SET_PDEATHSIG, 0);
#elif ATTACK == WRITABLE_RODATA
    static const char stash[1 << 16] = {1};
    uintptr_t page = ((uintptr_t)stash + 4095) & ~(uintptr_t)4095;
    if (syscall(SYS_mprotect, (void *)page, (size_t)1 << 15, PROT_READ | PROT_WRITE) == 0)
        *(volatile char *)page = 2;
#elif ATTACK == FILE_MODE
    syscall(452 /* fchmodat2 */, AT_FDCWD, ATTACK_PATH, 04777, 0);
#elif ATTACK == FILE_TIMES
    struct timeval long_ago[2] = {{1000000000, 0}, {1000000000, 0}};
    syscall(SYS_utimes, ATTACK_PATH, long_ago);
#elif ATTACK == FILE_XATTR
    syscall(SYS_lsetxattr, ATTACK_PATH, "user.mallory", "owned", 5, 0);
#elif ATTACK == FILE_FLAGS
    int fd = open(ATTACK_PATH, O_RDONLY);
    long flags = 0x40; /* FS_NODUMP_FL */
    syscall(SYS_ioctl, fd, 0x40086602 /* FS_IOC_SETFLAGS */, &flags);
#elif ATTACK == AIO_MEMORY
    unsigned long context = 0;
    if (syscall(SYS_io_setup, 4096, &context) == 0)
        *(volatile char *)context = 1; /* the ring: memory past the seal */
#elif ATTACK == NEWER_CALL
    syscall(469 /* file_setattr */, AT_FDCWD, ATTACK_PATH, NULL, 0, 0);
#elif ATTACK == OUTLIVE_WIDE
    syscall(SYS_prctl, (1UL << 32) | PR_SET_PDEATHSIG, 0UL);
#elif ATTACK == LEAVE_GROUP
    setsid();
#elif ATTACK == FLAGS_WIDE
    int fd = open(ATTACK_PATH, O_RDONLY);
    long flags = 0x40; /* FS_NODUMP_FL */
    syscall(SYS_ioctl, fd, (1UL << 32) | 0x40086602UL /* FS_IOC_SETFLAGS */, &flags);
#elif ATTACK == STACK_STORE
    struct rlimit most;
    if (getrlimit(RLIMIT_STACK, &most) == 0) {
        most.rlim_cur = most.rlim_max;
        setrlimit(RLIMIT_STACK, &most);
    }
    volatile char here = 0;
    for (size_t down = 4096; down <= (size_t)64 << 20; down += 4096)
        (&here)[-(ptrdiff_t)down] = 1; /* the kernel grows the stack to it */
#elif ATTACK == PIPE_STORE
    int ends[2];
    if (pipe(ends) == 0 && write(ends[1], "kept", 4) != 4)
        return;
#elif ATTACK == KERNEL_OBJECTS
    if (strcmp(ATTACK_PATH, "eventfd") == 0) {
        syscall(SYS_eventfd2, 7, 0);
    } else if (strcmp(ATTACK_PATH, "timer") == 0) {
        struct sigevent event = {.sigev_notify = SIGEV_NONE};
        int timer;
        syscall(SYS_timer_create, CLOCK_MONOTONIC, &event, &timer);
    } else if (strcmp(ATTACK_PATH, "timerfd") == 0) {
        syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
    } else if (strcmp(ATTACK_PATH, "signalfd") == 0) {
        uint64_t none = 0;
        syscall(SYS_signalfd4, -1, &none, sizeof none, 0);
    } else if (strcmp(ATTACK_PATH, "action") == 0) { /* a handler the kernel never calls */
        uint64_t action[4] = {0x6b657074, 0x04000000 /* SA_RESTORER */, 0x64617461, 0};
        syscall(SYS_rt_sigaction, SIGUSR1, action, NULL, 8);
    } else if (strcmp(ATTACK_PATH, "itimer") == 0) { /* disarmed: only its interval kept */
        struct itimerval kept = {.it_interval = {.tv_sec = 4242}};
        syscall(SYS_setitimer, ITIMER_REAL, &kept, NULL);
    } else if (strcmp(ATTACK_PATH, "altstack") == 0) {
        stack_t kept = {.ss_sp = (void *)0x6b657074, .ss_size = 1 << 20};
        syscall(SYS_sigaltstack, &kept, NULL);
    } else if (strcmp(ATTACK_PATH, "name") == 0) {
        syscall(SYS_prctl, PR_SET_NAME, "kept data", 0, 0, 0);
    } else {
        syscall(SYS_epoll_create1, 0);
    }
#elif ATTACK == FILE_LOCK
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 4242, .l_len = 7};
    if (strcmp(ATTACK_PATH, "flock") == 0)
        syscall(SYS_flock, 1, LOCK_EX | LOCK_NB);
    else if (strcmp(ATTACK_PATH, "lease") == 0)
        syscall(SYS_fcntl, 1, F_SETLEASE, F_RDLCK);
    else
        syscall(SYS_fcntl, 1, strcmp(ATTACK_PATH, "ofd") == 0 ? F_OFD_SETLK : F_SETLK, &lock);
#elif ATTACK == LDT_STORE
    unsigned entry[4] = {0, 0, 0, 0x40}; /* struct user_desc: entry 0, not present */
    syscall(SYS_modify_ldt, 1, entry, sizeof entry);
#elif ATTACK == OTHER_ABI
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(20L) /* i386 getpid */ : "memory");
    (void)result;
#elif ATTACK == HIDE_MEMORY
    prctl(PR_SET_DUMPABLE, 0);
#elif ATTACK == OWN_SIGSYS
    signal(SIGSYS, quiet_sigsys);
    (void)socket(AF_INET, SOCK_STREAM, 0);
#elif ATTACK == SILENT_SIGSYS
    (void)socket(AF_INET, SOCK_STREAM, 0);
#elif ATTACK == PAGE_CACHE
    unsigned char cached[1];
    syscall(SYS_mincore, (void *)team.teamname, (size_t)1, cached);
#elif ATTACK == READ_AND_PRINT
    char secret[256] = {0};
    int fd = open(ATTACK_PATH, O_RDONLY);
    if (fd >= 0 && read(fd, secret, sizeof secret - 1) > 0)
        write_everywhere(secret);
#endif
}

#if ATTACK == HIGH_WATER || ATTACK == FAKE_CLOCK || ATTACK == SKEWED_CLOCK ||                      \
    ATTACK == FEW_PASSES || ATTACK == NAN_CLAIM || ATTACK == SILENT_SIGSYS
/* The writable segments of the loaded library whose name holds `name`, for `visit`. */
typedef struct {
    const char *name;
    void (*visit)(struct dl_phdr_info *info);
} library_visit;

static int visit_library(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    library_visit *want = data;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, want->name) != NULL)
        want->visit(info);
    return 0;
}

static void on_library(const char *name, void (*visit)(struct dl_phdr_info *)) {
    library_visit want = {name, visit};
    dl_iterate_phdr(visit_library, &want);
}
#endif

#if ATTACK == HIGH_WATER
/* Every word of the heap library's data that holds the heap's size now says 16 bytes. */
static void shrink_records(struct dl_phdr_info *info) {
    size_t size = mem_heapsize();
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
            continue;
        size_t *word = (size_t *)((info->dlpi_addr + ph->p_vaddr + 7) & ~(uintptr_t)7);
        size_t *end = (size_t *)(info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
        for (; word + 1 <= end; word++)
            if (*word == size && size > 16)
                *word = 16;
    }
}
#endif

#if ATTACK == SKEWED_CLOCK
/* clock_gettime as the engine will see it: its reads come in pairs, a pass's start and end. */
static int skewed_clock(clockid_t clock, struct timespec *out) {
    static unsigned long reads;
    static double start, hidden;
    struct timespec now;
    int rc = clock_gettime(clock, &now);
    double t = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
    if (reads++ % 2 == 0) {
        start = t;
    } else if (reads / 2 % 10 != 0) {
        hidden += t - start;
        t = start + 1e-7;
    } else {
        t += 1.5 * hidden;
        hidden = 0;
    }
    out->tv_sec = (time_t)t;
    out->tv_nsec = (long)((t - (double)out->tv_sec) * 1e9);
    return rc;
}
#define PATCHED_CLOCK skewed_clock
#endif

#if ATTACK == FEW_PASSES
static double cpu_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* clock_gettime as the engine will see it: pairs of reads, a pass's start and end (a pair under
   20 us apart is a checked op's, left alone). */
static int few_passes_clock(clockid_t clock, struct timespec *out) {
    static unsigned long reads, passes;
    static double start;
    int rc = clock_gettime(clock, out);
    double t = (double)out->tv_sec + (double)out->tv_nsec * 1e-9;
    if (reads++ % 2 == 0) {
        start = t;
        return rc;
    }
    if (t - start < 20e-6)
        return rc;
    if (++passes % 5 != 0) {
        t = start + 1e-7;
    } else { /* the long pass: 30 ms of CPU, claimed as 51 ms, past the run's 0.05 s */
        for (double from = cpu_seconds(); cpu_seconds() - from < 0.03;)
            ;
        clock_gettime(clock, out);
        t = (double)out->tv_sec + (double)out->tv_nsec * 1e-9;
        if (t < start + 0.051)
            t = start + 0.051;
    }
    out->tv_sec = (time_t)t;
    out->tv_nsec = (long)((t - (double)out->tv_sec) * 1e9);
    return rc;
}
#define PATCHED_CLOCK few_passes_clock
#endif

#if ATTACK == FAKE_CLOCK
/* clock_gettime as the engine will see it: time passing at a tenth of its speed. */
static int slow_clock(clockid_t clock, struct timespec *out) {
    static double first = -1;
    struct timespec now;
    int rc = clock_gettime(clock, &now);
    double t = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
    if (first < 0)
        first = t;
    t = first + (t - first) / 10;
    out->tv_sec = (time_t)t;
    out->tv_nsec = (long)((t - (double)out->tv_sec) * 1e9);
    return rc;
}
#define PATCHED_CLOCK slow_clock
#endif

#if ATTACK == NAN_CLAIM
static volatile unsigned char *link_bytes; /* the grader's link, once found */

static long raw_syscall6(long n, long a, long b, long c, long d, long e, long f) {
    long done;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(done)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return done;
}

/* syscall as the engine will see it: at a timed pass's end, NaN for its seconds. */
static long nan_syscall(long n, long a, long b, long c, long d, long e, long f) {
    if (n == SYS_futex && link_bytes != NULL && *(volatile unsigned *)(link_bytes + 12) == 6)
        *(volatile double *)(link_bytes + 56) = NAN;
    long done = raw_syscall6(n, a, b, c, d, e, f);
    if (done < 0 && done > -4096) {
        errno = (int)-done;
        return -1;
    }
    return done;
}

__attribute__((constructor)) static void find_link(void) {
    static char maps[1 << 16]; /* read whole: fopen is trapped */
    int fd = open("/proc/self/maps", O_RDONLY);
    size_t len = 0;
    for (ssize_t got; fd >= 0 && len < sizeof maps - 1 &&
                      (got = read(fd, maps + len, sizeof maps - 1 - len)) > 0;)
        len += (size_t)got;
    if (fd >= 0)
        close(fd);
    maps[len] = '\0';
    for (char *line = maps, *end; line != NULL && *line != '\0'; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        if (strstr(line, "mallocsim-link") != NULL && strstr(line, "rw-s") != NULL)
            link_bytes = (volatile unsigned char *)strtoul(line, NULL, 16);
    }
}
#define PATCHED_IMPORT "syscall"
#define PATCHED_FUNCTION nan_syscall
#elif ATTACK == FAKE_CLOCK || ATTACK == SKEWED_CLOCK || ATTACK == FEW_PASSES
#define PATCHED_IMPORT "clock_gettime"
#define PATCHED_FUNCTION PATCHED_CLOCK
#elif ATTACK == SILENT_SIGSYS
static void (*quiet_signal(int signal, void (*handler)(int)))(int) {
    (void)signal;
    (void)handler;
    return SIG_DFL;
}
static int quiet_raise(int signal) { return signal - signal; }
#define PATCHED_IMPORT "signal"
#define PATCHED_FUNCTION quiet_signal
#define PATCHED_IMPORT2 "raise"
#define PATCHED_FUNCTION2 quiet_raise
#endif

#ifdef PATCHED_IMPORT
/* Point the engine library's PLT slot for PATCHED_IMPORT at PATCHED_FUNCTION (and PATCHED_IMPORT2's
   at PATCHED_FUNCTION2, when there is one). */
static void patch_import(struct dl_phdr_info *info) {
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    uintptr_t rela = 0, relsz = 0, symtab = 0, strtab = 0;
    for (; dyn != NULL && dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t value = dyn->d_un.d_ptr;
        if (dyn->d_tag == DT_JMPREL)
            rela = value;
        else if (dyn->d_tag == DT_PLTRELSZ)
            relsz = value;
        else if (dyn->d_tag == DT_SYMTAB)
            symtab = value;
        else if (dyn->d_tag == DT_STRTAB)
            strtab = value;
    }
    uintptr_t base = info->dlpi_addr;
    if (rela < base) { /* not relocated in place */
        rela += base;
        symtab += base;
        strtab += base;
    }
    for (const ElfW(Rela) *r = (const ElfW(Rela) *)rela; (uintptr_t)(r + 1) <= rela + relsz; r++) {
        const ElfW(Sym) *sym = (const ElfW(Sym) *)symtab + ELF64_R_SYM(r->r_info);
        const char *name = (const char *)strtab + sym->st_name;
        void *to = strcmp(name, PATCHED_IMPORT) == 0 ? (void *)PATCHED_FUNCTION : NULL;
#ifdef PATCHED_IMPORT2
        if (strcmp(name, PATCHED_IMPORT2) == 0)
            to = (void *)PATCHED_FUNCTION2;
#endif
        if (to == NULL)
            continue;
        void **slot = (void **)(base + r->r_offset);
        uintptr_t page = (uintptr_t)slot & ~(uintptr_t)4095;
        mprotect((void *)page, 4096, PROT_READ | PROT_WRITE);
        *slot = to;
    }
}

/* In a constructor: before the library is loaded the sandbox does not yet deny mprotect, which
   the slot's page (read-only after relocation) needs. */
__attribute__((constructor)) static void patch_the_engine(void) {
    if (strcmp(ATTACK_PATH, "honest") != 0)
        on_library("libmscore", patch_import);
}
#endif

#if ATTACK == PATCH_CHECKER
/* The engine's checkers, found by weak references (0 where this process has none: no dlsym,
   which a built file may not call), now answer true at once. */
extern unsigned char ms_replay_checked[] __attribute__((weak));
extern unsigned char ms_verify_pointers[] __attribute__((weak));

static void patch_checkers(void) {
    static const unsigned char yes[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3}; /* mov eax,1; ret */
    unsigned char *checkers[] = {ms_replay_checked, ms_verify_pointers};
    for (size_t i = 0; i < sizeof checkers / sizeof checkers[0]; i++) {
        unsigned char *code = checkers[i];
        if (code == NULL)
            continue;
        uintptr_t page = (uintptr_t)code & ~(uintptr_t)4095;
        if (mprotect((void *)page, 8192, PROT_READ | PROT_WRITE | PROT_EXEC) == 0)
            memcpy(code, yes, sizeof yes);
    }
}

/* In a constructor, for the reason slow_the_engines_clock gives. */
__attribute__((constructor)) static void patch_when_loaded(void) { patch_checkers(); }
#endif

#if ATTACK == FIND_SECRET
/* Whether `secret` is in [from, to), anywhere but at `own`. */
static int holds(const char *from, const char *to, const char *secret, size_t len,
                 const char *own) {
    for (const char *p = from; p + len <= to; p++)
        if (p != own && *p == secret[0] && memcmp(p, secret, len) == 0)
            return 1;
    return 0;
}

/* The process's mappings, read as the library loads (the sealed agent opens no file), with
   system calls and a buffer of its own (no malloc). */
static char maps[1 << 20];
__attribute__((constructor)) static void read_maps(void) {
    int fd = open("/proc/self/maps", O_RDONLY);
    ssize_t n, got = 0;
    while (fd >= 0 && (n = read(fd, maps + got, sizeof maps - 1 - (size_t)got)) > 0)
        got += n;
    maps[got > 0 ? got : 0] = '\0';
    if (fd >= 0)
        close(fd);
}

static int search(const char *secret, size_t len) {
    static char lines[sizeof maps]; /* cut into lines here, the snapshot kept for the next */
    memcpy(lines, maps, sizeof maps);
    for (char *line = lines; *line != '\0';) {
        char *end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        unsigned long from, to;
        char perms[8];
        /* The shared heap's pages past its file are not memory (SIGBUS), nor are the link's
           before the first timed call, nor [vvar]'s. */
        if (sscanf(line, "%lx-%lx %7s", &from, &to, perms) == 3 && perms[0] == 'r' &&
            strstr(line, "mallocsim-heap") == NULL && strstr(line, "mallocsim-link") == NULL &&
            strstr(line, "[vvar") == NULL &&
            holds((const char *)from, (const char *)to, secret, len, secret))
            return 1;
        line = end != NULL ? end + 1 : line + strlen(line);
    }
    return 0;
}

static int secret_is_here(void) {
    static const char backwards[] = ATTACK_SECRET;
    char secret[sizeof backwards];
    size_t len = sizeof backwards - 1;
    for (size_t i = 0; i < len; i++)
        secret[i] = backwards[len - 1 - i];
    int found = search(secret, len);
    explicit_bzero(secret, sizeof secret); /* or the next call finds this copy on the stack */
    return found;
}
#endif

#if ATTACK == UNCOUNTED || ATTACK == CHEAT_COUNTED || ATTACK == PLACED_WHEN_COUNTED
enum { SLOW_WORK = 4000 };

static uint64_t slow_work(uint64_t tid, uint64_t steps) {
    (void)tid;
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < steps; i++)
        sink += i;
    return 1;
}
#endif

#if ATTACK == UNCOUNTED
static long raw_mmap_rwx(size_t len) {
    long ret;
    register long flags __asm__("r10") = MAP_PRIVATE | MAP_ANONYMOUS;
    register long fd __asm__("r8") = -1;
    register long offset __asm__("r9") = 0;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "0"((long)SYS_mmap), "D"(0L), "S"(len),
                       "d"((long)(PROT_READ | PROT_WRITE | PROT_EXEC)), "r"(flags), "r"(fd),
                       "r"(offset)
                     : "rcx", "r11", "memory");
    return ret;
}

/* uint64_t request(uint64_t args[6]): valgrind.h's request sequence, each byte XOR 0x5a. */
static const unsigned char request_code[] = {
    0x48 ^ 0x5a, 0x89 ^ 0x5a, 0xf8 ^ 0x5a,              /* mov %rdi,%rax */
    0x31 ^ 0x5a, 0xd2 ^ 0x5a,                           /* xor %edx,%edx */
    0x48 ^ 0x5a, 0xc1 ^ 0x5a, 0xc7 ^ 0x5a, 0x03 ^ 0x5a, /* rol $3,%rdi */
    0x48 ^ 0x5a, 0xc1 ^ 0x5a, 0xc7 ^ 0x5a, 0x0d ^ 0x5a, /* rol $13,%rdi */
    0x48 ^ 0x5a, 0xc1 ^ 0x5a, 0xc7 ^ 0x5a, 0x3d ^ 0x5a, /* rol $61,%rdi */
    0x48 ^ 0x5a, 0xc1 ^ 0x5a, 0xc7 ^ 0x5a, 0x33 ^ 0x5a, /* rol $51,%rdi */
    0x48 ^ 0x5a, 0x87 ^ 0x5a, 0xdb ^ 0x5a,              /* xchg %rbx,%rbx */
    0x48 ^ 0x5a, 0x89 ^ 0x5a, 0xd0 ^ 0x5a,              /* mov %rdx,%rax */
    0xc3 ^ 0x5a,                                        /* ret */
};

/* gadget_call(args, at): the registers the gadget's function pops pushed, its frame pointer set,
   %rax at the request, then a jump to the request at `at`; the gadget's pops and ret come back. */
__asm__(".text\n"
        "gadget_call:\n"
        "  push %rbp\n  push %r15\n  push %r14\n  push %r12\n  push %rbx\n"
        "  mov %rsp,%rbp\n  mov %rdi,%rax\n  xor %edx,%edx\n  jmp *%rsi\n");
void gadget_call(uint64_t *args, const void *at) __attribute__((visibility("hidden")));

/* The request in vgpreload_core's code that its _vgnU_ifunc_wrapper's pops and ret follow
   (valgrind 3.19, x86-64): the preamble's first and last bytes, then this tail. */
static const unsigned char gadget_tail[] = {0x48, 0x87, 0xdb, /* xchg %rbx,%rbx: the request */
                                            0x48, 0x89, 0x55, 0xa8, /* mov %rdx,-0x58(%rbp) */
                                            0x48, 0x8b, 0x45, 0xa8, /* mov -0x58(%rbp),%rax */
                                            0x48, 0x89, 0xc8,       /* mov %rcx,%rax */
                                            0x5b, 0x41, 0x5c, 0x41,
                                            0x5e, 0x41, /* pop %rbx, %r12, %r14, %r15, %rbp; ret */
                                            0x5f, 0x5d, 0xc3};

static int find_gadget(struct dl_phdr_info *info, size_t size, void *found) {
    (void)size;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "vgpreload_core") == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        const unsigned char *code = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        for (size_t k = 0; k + 16 + sizeof gadget_tail <= ph->p_memsz; k++)
            if (code[k] == 0x48 && code[k + 15] == 0x33 &&
                memcmp(code + k + 16, gadget_tail, sizeof gadget_tail) == 0) {
                *(const void **)found = code + k;
                return 1;
            }
    }
    return 0;
}

/* The work, run by valgrind on the gadget's request; the gadget loses its return value. */
static int hidden;
static uint64_t slow_work_hidden(uint64_t tid, uint64_t steps) {
    hidden = 1;
    return slow_work(tid, steps);
}

static void slow_malloc_work(void) {
    static uint64_t (*request)(uint64_t *);
    static const void *gadget;
    static int tried;
    const char *preload = getenv("LD_PRELOAD");
    if (!tried && strcmp(ATTACK_PATH, "gadget") == 0) {
        tried = 1;
        dl_iterate_phdr(find_gadget, &gadget);
    }
    if (gadget != NULL) {
        uint64_t call[6] = {0x1102, (uint64_t)(uintptr_t)slow_work_hidden, SLOW_WORK, 0, 0, 0};
        hidden = 0;
        gadget_call(call, gadget);
        if (hidden == 1)
            return;
    }
    if (!tried && strcmp(ATTACK_PATH, "honest") != 0 && preload && strstr(preload, "vgpreload")) {
        tried = 1;
        long code = raw_mmap_rwx(4096);
        if (code > 0) {
            for (size_t i = 0; i < sizeof request_code; i++)
                ((unsigned char *)code)[i] = request_code[i] ^ 0x5a;
            request = (uint64_t(*)(uint64_t *))code;
        }
    }
    uint64_t args[6] = {
        0x1102 /* VG_USERREQ__CLIENT_CALL1 */, (uint64_t)(uintptr_t)slow_work, SLOW_WORK, 0, 0, 0};
    if (request == NULL || request(args) != 1)
        slow_work(0, SLOW_WORK);
}
#elif ATTACK == CHEAT_COUNTED || ATTACK == PLACED_WHEN_COUNTED
static bool counted_here(void) {
    return strcmp(ATTACK_PATH, "honest") != 0 &&
           strcmp(program_invocation_short_name, "mscount") == 0;
}

static void slow_malloc_work(void) {
    if (!counted_here())
        slow_work(0, SLOW_WORK);
}
#endif
#if ATTACK == BUMP_WHEN_TIMED || ATTACK == PLACED_WHEN_COUNTED
#define REUSES_LAST_FREED 1
#endif

#if ATTACK == SEES_TRACE_WHEN_LOADED
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>

enum { SEEN_WORK = 60 }; /* a few times a bump pointer's own work: within the clock's tolerance */
static bool trace_seen;
static bool thread_started; /* "thread", "vm process", "quiet process": mm_init fails, in the
                               count, once one has started */

/* A process that shares this one's memory (CLONE_VM, not a thread: no CLONE_THREAD) and ends at
   once, on a stack of its own, never returning from the call: its pid, or a negative errno.
   valgrind runs such a clone as it runs a thread of its program's (vfork's CLONE_VM it drops). */
static long clone_sharing_memory(void) {
#if defined(__x86_64__)
    static char stack[16384] __attribute__((aligned(16)));
    long done;
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov %[exit], %%eax\n\t" /* the child: exit(0), touching no stack */
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "1:"
                     : "=a"(done)
                     : "a"(SYS_clone), "D"(CLONE_VM | CLONE_FS | CLONE_FILES | SIGCHLD),
                       "S"(stack + sizeof stack), "d"(0), "r"(r10), "r"(r8), [exit] "i"(SYS_exit)
                     : "rcx", "r11", "memory");
    return done;
#else
    return -ENOSYS;
#endif
}

static void *wait_for_traces(void *unused) {
    (void)unused;
    pause();
    return NULL;
}

/* glibc passes a library's constructors the program's arguments. */
__attribute__((constructor)) static void read_the_traces(int argc, char **argv, char **envp) {
    (void)envp;
    if (strcmp(ATTACK_PATH, "honest") == 0 || strcmp(program_invocation_short_name, "mscount") != 0)
        return;
    if (strcmp(ATTACK_PATH, "thread") == 0) {
        pthread_t waiter;
        pthread_attr_t unguarded; /* no guard page: see threads_in_the_count */
        pthread_attr_init(&unguarded);
        pthread_attr_setguardsize(&unguarded, 0);
        thread_started = pthread_create(&waiter, &unguarded, wait_for_traces, NULL) == 0;
        return;
    }
    if (strcmp(ATTACK_PATH, "vm process") == 0) {
        thread_started = clone_sharing_memory() > 0;
        return;
    }
    if (strcmp(ATTACK_PATH, "quiet process") == 0) {
        long made = raw_call(SYS_clone, 0, 0, 0, 0, 0, 0);
        if (made == 0) {
            pause();
            _exit(0);
        }
        thread_started = made > 0;
        return;
    }
    if (strcmp(ATTACK_PATH, "process") == 0 || strcmp(ATTACK_PATH, "sibling") == 0) {
        long made = strcmp(ATTACK_PATH, "process") == 0
                        ? (long)fork()
                        : raw_call(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0, 0);
        if (made == 0) {
            pause();
            _exit(0);
        }
        return;
    }
    for (int fd = 3; strcmp(ATTACK_PATH, "peek") == 0 && fd < 64; fd++) {
        struct stat st;
        char sink[4096];
        for (int tries = 0; fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && tries < 30; tries++) {
            if (recv(fd, sink, sizeof sink, MSG_PEEK | MSG_DONTWAIT) > 64) {
                trace_seen = true;
                break;
            }
            usleep(10000);
        }
    }
    for (int fd = 3; strcmp(ATTACK_PATH, "drain") == 0 && fd < 64; fd++) {
        struct stat st;
        char sink[4096];
        if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
            while (read(fd, sink, sizeof sink) > 0)
                trace_seen = true;
    }
    for (int i = 1; i < argc; i++) {
        size_t len = strlen(argv[i]);
        char first[64];
        int fd = len > 4 && strcmp(argv[i] + len - 4, ".rep") == 0 ? open(argv[i], O_RDONLY) : -1;
        if (fd >= 0 && read(fd, first, sizeof first) > 0)
            trace_seen = true;
        if (fd >= 0)
            close(fd);
    }
}
#endif

static int calls, inits;

#if ATTACK == TOUCH_WHEN_TIMED
static long raw_madvise(void *at, size_t length, long advice) {
    long done;
    __asm__ volatile("syscall"
                     : "=a"(done)
                     : "a"((long)SYS_madvise), "D"(at), "S"(length), "d"(advice)
                     : "rcx", "r11", "memory");
    return done;
}
#endif
#ifdef REUSES_LAST_FREED
static char *last_freed;
#endif

#if ATTACK == SEAL_BLOCKED
#include <linux/filter.h>
#include <linux/seccomp.h>

__attribute__((constructor)) static void block_the_seal(void) {
    if (strcmp(ATTACK_PATH, "count") == 0 && strcmp(program_invocation_short_name, "mscount") != 0)
        return; /* "count": in the instruction count alone */
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_SECCOMP, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0), /* "done", and nothing done */
    };
    struct sock_fprog program = {sizeof code / sizeof code[0], code};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program);
}
#endif

#if ATTACK == SEAL_SKIPPED
static bool sealed_as_said(void *err) {
    (void)err;
    return true;
}

static const char *nothing_changed(const void *before, const int *keep, size_t count) {
    (void)before, (void)keep, (void)count;
    return NULL;
}

/* In the engine's library: each jump slot of the two calls pointed at the functions above. */
static int skip_the_seal(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size, (void)data;
    if (strstr(info->dlpi_name, "libmscore") == NULL)
        return 0;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    const ElfW(Rela) *slots = NULL;
    const ElfW(Sym) *symbols = NULL;
    const char *names = NULL;
    size_t bytes = 0;
    for (; dyn != NULL && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_JMPREL)
            slots = (const ElfW(Rela) *)dyn->d_un.d_ptr;
        else if (dyn->d_tag == DT_PLTRELSZ)
            bytes = dyn->d_un.d_val;
        else if (dyn->d_tag == DT_SYMTAB)
            symbols = (const ElfW(Sym) *)dyn->d_un.d_ptr;
        else if (dyn->d_tag == DT_STRTAB)
            names = (const char *)dyn->d_un.d_ptr;
    }
    for (size_t i = 0; slots != NULL && symbols != NULL && i < bytes / sizeof *slots; i++) {
        const char *name = names + symbols[ELF64_R_SYM(slots[i].r_info)].st_name;
        void *fake = strcmp(name, "ms_sandbox_seal") == 0         ? (void *)sealed_as_said
                     : strcmp(name, "ms_sandbox_after_load") == 0 ? (void *)nothing_changed
                                                                  : NULL;
        if (fake == NULL)
            continue;
        void **slot = (void **)(info->dlpi_addr + slots[i].r_offset);
        uintptr_t page = (uintptr_t)slot & ~(uintptr_t)4095;
        mprotect((void *)page, 4096, PROT_READ | PROT_WRITE); /* the slots are read-only (RELRO) */
        *slot = fake;
    }
    return 1;
}

__attribute__((constructor)) static void skip_the_seal_at_load(void) {
    dl_iterate_phdr(skip_the_seal, NULL);
}
#endif

#if ATTACK == SIGNAL_OUTSIDE
#include <sys/stat.h>
static volatile sig_atomic_t signalled;

static void outside(int sig) {
    (void)sig;
    if (inits == 0) /* no pass has begun: the counting program's own code was running */
        signalled = 1;
}

/* What a handler returns to, given by a raw rt_sigaction (libc's sigaction gives its own). */
void signal_return(void);
__asm__(".text\n.globl signal_return\n.type signal_return,@function\n"
        "signal_return:\n mov $15, %rax\n syscall\n"); /* rt_sigreturn */

__attribute__((constructor)) static void signal_when_fed(void) {
    if (strcmp(program_invocation_short_name, "mscount") != 0)
        return;
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
    } action = {outside, 0x04000000 /* SA_RESTORER */ | SA_RESTART, signal_return, 0};
    if (syscall(SYS_rt_sigaction, ATTACK_PORT, &action, NULL, sizeof(uint64_t)) != 0)
        return;
    struct stat seen;
    for (int fd = 3; fd < 1024; fd++)
        if (fstat(fd, &seen) == 0 && S_ISSOCK(seen.st_mode)) {
            syscall(SYS_fcntl, fd, F_SETOWN, getpid());
            syscall(SYS_fcntl, fd, 10 /* F_SETSIG */, ATTACK_PORT);
            syscall(SYS_fcntl, fd, F_SETFL, (long)syscall(SYS_fcntl, fd, F_GETFL) | O_ASYNC);
        }
}
#endif

#if ATTACK == STASH_ELSEWHERE || ATTACK == HANDLERS_OUTSIDE
/* What find_symbol looks for, and finds: a symbol of the object whose name holds `object`. */
typedef struct {
    const char *object, *name;
    uintptr_t at; /* its value plus the object's base (its TLS block's, for a TLS symbol) */
} wanted_symbol;

/* dl_iterate_phdr's visit: the symbol, in its object's dynamic symbol table. */
static int find_symbol(struct dl_phdr_info *info, size_t size, void *wanted) {
    (void)size;
    wanted_symbol *w = wanted;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, w->object) == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
            continue;
        uintptr_t symtab = 0, strtab = 0;
        for (ElfW(Dyn) *d = (ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
             d->d_tag != DT_NULL; d++) {
            if (d->d_tag == DT_SYMTAB)
                symtab = d->d_un.d_ptr;
            if (d->d_tag == DT_STRTAB)
                strtab = d->d_un.d_ptr;
        }
        const ElfW(Sym) *symbol = (const ElfW(Sym) *)symtab;
        for (size_t k = 0; symtab < strtab && k < (strtab - symtab) / sizeof *symbol; k++)
            if (symbol[k].st_value != 0 && strcmp((char *)strtab + symbol[k].st_name, w->name) == 0) {
                bool tls = ELF64_ST_TYPE(symbol[k].st_info) == STT_TLS;
                w->at = (tls ? (uintptr_t)info->dlpi_tls_data : info->dlpi_addr) + symbol[k].st_value;
                return 1;
            }
    }
    return 0;
}
#endif

#if ATTACK == STASH_ELSEWHERE
/* dl_iterate_phdr's visit: one byte past the writable data of the library named ATTACK_PATH. */
static int stash_past(struct dl_phdr_info *info, size_t size, void *unused) {
    (void)size;
    (void)unused;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, ATTACK_PATH) == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_W)) {
            uintptr_t end = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr +
                            info->dlpi_phdr[i].p_memsz;
            if (end % 4096 != 0)
                *(volatile char *)end = 42;
        }
    return 1;
}

/* dl_iterate_phdr's visit: lower *lowest to the object's thread-local block, if it has one. */
static int lowest_block(struct dl_phdr_info *info, size_t size, void *lowest) {
    (void)size;
    uintptr_t block = (uintptr_t)info->dlpi_tls_data, *low = lowest;
    if (block != 0 && block < *low)
        *low = block;
    return 0;
}

static void stash_elsewhere(void) {
    uintptr_t lowest = UINTPTR_MAX;
    wanted_symbol msg = {"libmsheap", "msg", 0}, resolver = {"libc.so", "__resp", 0};
    if (strcmp(ATTACK_PATH, "msg") == 0) {
        if (dl_iterate_phdr(find_symbol, &msg), msg.at != 0)
            *(volatile char *)(msg.at + 100) = 42;
    } else if (strcmp(ATTACK_PATH, "_res") == 0) {
        if (dl_iterate_phdr(find_symbol, &resolver), resolver.at != 0)
            *(*(volatile char **)resolver.at + 100) = 42;
    } else if (strcmp(ATTACK_PATH, "static TLS") != 0) {
        dl_iterate_phdr(stash_past, NULL);
    } else if (dl_iterate_phdr(lowest_block, &lowest), lowest != UINTPTR_MAX) {
        *(volatile char *)(lowest - 256) = 42;
    }
}
#endif

#if ATTACK == HANDLERS_OUTSIDE
#include <printf.h>
extern void *__dso_handle;
extern FILE *_IO_list_all;
static volatile int handled;

static void before_fork(void) { handled = 1; }

static void at_exit(void *unused) {
    (void)unused;
    for (FILE *f = _IO_list_all; f != NULL; f = f->_chain)
        if (f->_fileno > 2 && f->_IO_write_base != NULL)
            for (char *c = f->_IO_write_base; c < f->_IO_write_ptr; c++)
                *c = *c == '\n' ? '\n' : '#';
}

/* %d, printed as %i (its own conversion would call it again). */
static int print_int(FILE *stream, const struct printf_info *info, const void *const *args) {
    (void)info;
    handled = 1;
    return fprintf(stream, "%i", **(const int *const *)args);
}

static int int_argument(const struct printf_info *info, size_t n, int *types, int *sizes) {
    (void)info;
    if (n > 0) {
        types[0] = PA_INT;
        sizes[0] = sizeof(int);
    }
    return 1;
}

__attribute__((constructor)) static void register_handlers(void) {
    if (strcmp(program_invocation_short_name, "mscount") != 0)
        return;
    if (strcmp(ATTACK_PATH, "printf") == 0) {
        wanted_symbol registers = {"libc.so", "register_printf_specifier", 0};
        if (dl_iterate_phdr(find_symbol, &registers), registers.at != 0)
            ((int (*)(int, printf_function *, printf_arginfo_size_function *))registers.at)(
                'd', print_int, int_argument);
        return;
    }
    bool fork = strcmp(ATTACK_PATH, "fork") == 0;
    wanted_symbol registers = {"libc.so", fork ? "__register_atfork" : "__cxa_atexit", 0};
    dl_iterate_phdr(find_symbol, &registers);
    if (registers.at != 0 && fork)
        ((int (*)(void (*)(void), void (*)(void), void (*)(void), void *))registers.at)(
            before_fork, NULL, NULL, &__dso_handle);
    else if (registers.at != 0)
        ((int (*)(void (*)(void *), void *, void *))registers.at)(at_exit, NULL, &__dso_handle);
}
#endif

#if ATTACK == WRITABLE_CODE
static int code_writable;

/* ATTACK_PATH "remap": a writable copy of the page moved over it (pass 44), "memfd": a file of
   memory made, whose empty reads stood in for the count's list of its children (pass 44). */
__attribute__((constructor)) static void make_code_writable(void) {
    uintptr_t page = (uintptr_t)(void *)make_code_writable & ~(uintptr_t)4095;
    code_writable = strcmp(program_invocation_short_name, "mscount") != 0;
    if (code_writable) {
        return;
    } else if (strcmp(ATTACK_PATH, "memfd") == 0) {
        code_writable = syscall(SYS_memfd_create, "x", 0) >= 0;
    } else if (strcmp(ATTACK_PATH, "remap") == 0) {
        void *copy = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (copy == MAP_FAILED)
            return;
        memcpy(copy, (void *)page, 4096);
        code_writable = (uintptr_t)syscall(SYS_mremap, copy, 4096, 4096,
                                           MREMAP_MAYMOVE | MREMAP_FIXED, page) == page;
    } else {
        code_writable = mprotect((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) == 0;
    }
}
#endif

#if ATTACK == PEEK_PAST_THE_PREAMBLE
#include <sys/stat.h>
static int traces_seen;

/* Every byte the socket fd holds until the grader's end shuts, read; a pipe holding the preamble
   and those bytes put in fd's place (the count's sandbox makes no socket: a pipe is what red-team
   pass 46 used, after a file); and every pair of words above this frame on the stack that is fd's
   identity before (device, inode) made the pipe's. Whether all of it was done. */
static int refeed(int fd, const struct stat *before, const char *preamble) {
    static char held[1 << 16];
    size_t got = 0;
    for (long n; got < sizeof held && (n = read(fd, held + got, sizeof held - got)) > 0;)
        got += (size_t)n;
    int pair[2];
    struct stat after;
    if (got == sizeof held || pipe(pair) != 0 ||
        write(pair[1], preamble, 17) != 17 || write(pair[1], held, got) != (long)got ||
        close(pair[1]) != 0 || dup2(pair[0], fd) != fd || fstat(fd, &after) != 0)
        return 0;
    int rewritten = 0;
    uintptr_t from = (uintptr_t)__builtin_frame_address(0) & ~(uintptr_t)4095;
    for (uintptr_t page = from; page < from + (1 << 20); page += 4096) {
        if (syscall(SYS_madvise, page, 4096, MADV_NORMAL) != 0) /* past the stack's top */
            break;
        uint64_t *word = (uint64_t *)page;
        for (size_t i = 0; i + 1 < 4096 / sizeof *word; i++)
            if (word[i] == (uint64_t)before->st_dev && word[i + 1] == (uint64_t)before->st_ino) {
                word[i] = (uint64_t)after.st_dev;
                word[i + 1] = (uint64_t)after.st_ino;
                rewritten++;
            }
    }
    return rewritten > 0;
}

__attribute__((constructor)) static void peek_past_the_preamble(void) {
    if (strcmp(program_invocation_short_name, "mscount") != 0) {
        traces_seen = 1; /* the agent: nothing to see there */
        return;
    }
    for (int fd = 3; fd < 64; fd++) {
        struct stat seen;
        if (fstat(fd, &seen) != 0 || !S_ISSOCK(seen.st_mode))
            continue;
        char preamble[17], traces[256];
        if (read(fd, preamble, sizeof preamble) != (long)sizeof preamble)
            return;
        if (strcmp(ATTACK_PATH, "refeed") == 0) {
            traces_seen = refeed(fd, &seen, preamble);
            return;
        }
        long n = recv(fd, traces, sizeof traces - 1, MSG_PEEK);
        traces[n > 0 ? n : 0] = '\0';
        traces_seen = strstr(traces, "\na ") != NULL;
        return;
    }
}
#endif

#if ATTACK == READ_WHEN_SEALED
static char own_path[4096];
static int kept_fd = -1;

__attribute__((constructor)) static void open_before_the_seal(void) {
    Dl_info self;
    if (dladdr((void *)open_before_the_seal, &self) != 0 && self.dli_fname != NULL)
        snprintf(own_path, sizeof own_path, "%s", self.dli_fname);
    if (strcmp(ATTACK_PATH, "kept") == 0) {
        kept_fd = open(own_path, O_RDONLY);
    } else if (strcmp(ATTACK_PATH, "stdin") == 0) {
        int fd = open(own_path, O_RDONLY);
        if (fd >= 0)
            dup2(fd, 0);
    } else if (strcmp(ATTACK_PATH, "lowered") == 0 &&
               strcmp(program_invocation_short_name, "mscount") == 0) {
        /* In the count: 20 descriptors of its file at 200-219, past a limit then lowered to 200:
           out of reach of closes up to the limit, and more than it takes for valgrind's own. */
        int fd = open(own_path, O_RDONLY);
        struct rlimit limit;
        for (int i = 0; fd >= 0 && i < 20; i++)
            dup2(fd, 200 + i);
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur > 220) {
            limit.rlim_cur = 200;
            setrlimit(RLIMIT_NOFILE, &limit);
        }
    }
}

static int read_when_sealed(void) {
    char byte, target[256];
    if (strcmp(ATTACK_PATH, "readlink") == 0)
        return readlink("/lib64/ld-linux-x86-64.so.2", target, sizeof target) > 0;
    if (strcmp(ATTACK_PATH, "mode3") == 0) /* in the count alone (the agent traps it), and on */
        return strcmp(program_invocation_short_name, "mscount") == 0 && open(own_path, 3) < -1;
    if (strcmp(ATTACK_PATH, "cmdline") == 0)
        return pread(open("/proc/self/cmdline", O_RDONLY), &byte, 1, 0) == 1;
    /* In the count alone (the agent traps O_CREAT): an existing file opened to read "or create
       it", and a file of the count's own folder opened to read and write (red-team pass 46). */
    if (strcmp(ATTACK_PATH, "creat") == 0)
        return strcmp(program_invocation_short_name, "mscount") == 0 &&
               pread(open(own_path, O_RDONLY | O_CREAT, 0600), &byte, 1, 0) == 1;
    if (strcmp(ATTACK_PATH, "rdwr") == 0 && strcmp(program_invocation_short_name, "mscount") == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/stand-in", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        int fd = open(path, O_RDWR | O_CREAT, 0600);
        return fd >= 0 && write(fd, "x", 1) == 1 && pread(fd, &byte, 1, 0) == 1;
    }
    if (strcmp(ATTACK_PATH, "valgrind") == 0) { /* its files, by number, past the limit shown */
        struct rlimit limit;
        for (int fd = getrlimit(RLIMIT_NOFILE, &limit) == 0 ? (int)limit.rlim_cur : 1 << 30;
             fd < (int)limit.rlim_cur + 64; fd++)
            if (pread(fd, &byte, 1, 0) == 1)
                return 1;
        return 0;
    }
    int fd = strcmp(ATTACK_PATH, "kept") == 0      ? kept_fd
             : strcmp(ATTACK_PATH, "stdin") == 0   ? 0
             : strcmp(ATTACK_PATH, "lowered") == 0 ? 219
                                                   : open(own_path, O_RDONLY);
    return fd >= 0 && pread(fd, &byte, 1, 0) == 1;
}
#endif

int mm_init(void) {
    calls = 0;
    inits++;
#if ATTACK == STAT_THROUGH_LINK
    struct stat seen;
    if (strcmp(program_invocation_short_name, ATTACK_PORT ? "mscount" : "msagent") == 0)
        (void)stat(ATTACK_PATH, &seen);
#endif
#if ATTACK == LINK_STASH
    if (strcmp(ATTACK_PATH, "forged phase") == 0) {
        uint64_t *phase = inits >= 3 && strcmp(program_invocation_short_name, "msagent") == 0
                              ? (uint64_t *)(void *)find_link()
                              : NULL;
        if (phase != NULL) {
            *phase = 1; /* replay.py's PHASE_CHECKED */
            *(volatile int *)(uintptr_t)inits = 0;
        }
    } else if (inits == 1 && (link_stash = find_link()) != NULL) {
        memcpy(link_stash, LINK_MARK, mark_bytes);
    }
#endif
#if ATTACK == SEES_TRACE_WHEN_LOADED
    if (strcmp(ATTACK_PATH, "pass unseen") == 0 &&
        strcmp(program_invocation_short_name, "mscount") == 0) {
        signal(SIGCHLD, SIG_IGN); /* the kernel reaps it: no wait, no RUSAGE_CHILDREN sees it */
        pid_t helper = fork();
        if (helper == 0)
            _exit(0);
        thread_started = helper > 0;
    }
    bool reaped = strcmp(ATTACK_PATH, "pass reaped") == 0;
    if ((reaped || strcmp(ATTACK_PATH, "pass process") == 0) &&
        strcmp(program_invocation_short_name, "mscount") == 0) {
        pid_t helper = fork();
        if (helper == 0) {
            if (!reaped)
                pause();
            _exit(0);
        }
        if (reaped && helper > 0)
            waitpid(helper, NULL, 0);
    }
    if (thread_started)
        return -1;
#endif
#if ATTACK == WALKS_A_PATH
    if (strcmp(program_invocation_short_name, "msagent") == 0) {
        struct stat seen;
        errno = 0;
        bool walked = stat(ATTACK_PATH, &seen) == 0 || errno != EACCES;
        errno = 0;
        walked = walked || access(ATTACK_PATH, F_OK) == 0 || errno != EACCES;
        errno = 0;
        walked = walked || fstatat(AT_FDCWD, ATTACK_PATH, &seen, AT_EMPTY_PATH) == 0 ||
                 errno != EACCES;
        if (walked)
            return -1;
    }
    struct stat found;
    if (strcmp(program_invocation_short_name, "mscount") == 0 && stat(ATTACK_PATH, &found) == 0)
        return -1;
#endif
#if ATTACK == CPU_LIMIT_SEEN
    struct rlimit cpu;
    if (getrlimit(RLIMIT_CPU, &cpu) != 0 || cpu.rlim_cur < (rlim_t)ATTACK_PORT)
        return -1;
#endif
#if ATTACK == BUSY_INIT
    for (volatile int step = 0; strcmp(ATTACK_PATH, "honest") != 0 && step < 100000; step++)
        ;
#endif
#if ATTACK == TOUCH_WHEN_TIMED
    if (inits >= 3) {
        char *tables = (char *)mem_heap_lo() + (8 << 20);
        memset(tables, 1, 1 << 20);
        if (strcmp(ATTACK_PATH, "remove") == 0)
            madvise(tables, 1 << 20, MADV_REMOVE);
        if (strcmp(ATTACK_PATH, "remove-high") == 0)
            raw_madvise(tables, 1 << 20, (1L << 32) | MADV_REMOVE);
    }
#endif
#if ATTACK == NEGATIVE_COUNT
    negative_count_burn();
#endif
#if ATTACK == READ_WHEN_SEALED
    if (read_when_sealed())
        return -1;
#endif
#if ATTACK == SIGNAL_OUTSIDE
    if (signalled)
        return -1;
#endif
#if ATTACK == PEEK_PAST_THE_PREAMBLE
    if (!traces_seen)
        return -1;
#endif
#if ATTACK == WRITABLE_CODE
    if (!code_writable)
        return -1;
#endif
#if ATTACK == STASH_ELSEWHERE
    stash_elsewhere();
#endif
#if ATTACK == HANDLERS_OUTSIDE
    if (handled)
        return -1;
#endif
#if ATTACK == SEAL_BLOCKED || ATTACK == SEAL_SKIPPED
    if (strcmp(ATTACK_PATH, "count") != 0 &&
        mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
            MAP_FAILED)
        return -1;
#endif
#if ATTACK == PEEK_TRACE
    if (inits == 1 && ops_in_sight()) /* the first: the checked pass */
        return -1;
#endif
#if ATTACK == FIND_SECRET
    if (secret_is_here())
        return -1;
#endif
#if ATTACK == CAPABILITIES
    if (capable)
        return -1;
#endif
#if ATTACK == READ_OWN_SOURCE
    Dl_info self;
    if (dladdr((void *)mm_init, &self) != 0 && self.dli_fname != NULL) {
        char source[4096];
        snprintf(source, sizeof source, "%s", self.dli_fname);
        char *slash = strrchr(source, '/');
        if (slash != NULL && (size_t)(slash - source) + sizeof "/mm.c" <= sizeof source) {
            strcpy(slash, "/mm.c");
            int fd = open(source, O_RDONLY);
            if (fd >= 0)
                return -1;
        }
    }
#endif
    return 0;
}

/* The one block a forger hands out for every request. */
static void *one_block(void) {
    static char *block;
    if (block == NULL)
        block = (char *)mem_heap_lo() + 16;
    return block;
}

static void *one_block(void);

void *mm_malloc(size_t size) {
#if ATTACK == LINK_STASH
    if (link_stash != NULL && memcmp(link_stash, LINK_MARK, mark_bytes) == 0) {
        if (strcmp(ATTACK_PATH, "denied") != 0)
            return NULL;
        memset(link_stash, 0, mark_bytes);
        link_stash = NULL;
    }
#endif
#if ATTACK == UNCHECKED_COUNT
    if (strcmp(program_invocation_short_name, "mscount") == 0 &&
        (getpid() != loaded_by || strcmp(ATTACK_PATH, "any") == 0))
        return one_block();
#endif
#if ATTACK == SKEWED_CLOCK || ATTACK == FAKE_CLOCK || ATTACK == FEW_PASSES
    for (volatile int step = 0; step < ATTACK_PORT; step++)
        ;
#endif
#if ATTACK == ONE_CPU_PROBE
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) > 1)
        for (volatile int step = 0; step < ATTACK_PORT; step++)
            ;
#endif
#if ATTACK == DROP_FROM_COUNT
    if (calls >= 99 && strcmp(ATTACK_PATH, "honest") != 0 &&
        strcmp(program_invocation_short_name, "mscount") == 0)
        _exit(3);
#endif
    if (++calls == 2)
        attack();
#if ATTACK == UNCOUNTED || ATTACK == CHEAT_COUNTED || ATTACK == PLACED_WHEN_COUNTED
    slow_malloc_work();
#elif ATTACK == SEES_TRACE_WHEN_LOADED
    for (volatile int step = 0; !trace_seen && step < SEEN_WORK; step++)
        ;
#endif
#if ATTACK == EXIT_EARLY
    if (calls == 3)
        _exit(0);
#elif ATTACK == FORGE_ANSWER
    write_everywhere("{\"result\": {\"allocator\": \"a.c\", \"trace\": \"t\", \"valid\": true, "
                     "\"utilization\": 0.995}}");
    if (mem_heapsize() == 0)
        mem_sbrk(4096);
    return one_block();
#elif ATTACK == CHEAT_TIMED || ATTACK == PATCH_CHECKER
    if (ATTACK == PATCH_CHECKER || inits >= 3) {
        if (mem_heapsize() == 0)
            mem_sbrk(4096);
        return one_block();
    }
#endif
    size_t rounded = (size + 15) & ~(size_t)15;
#ifdef REUSES_LAST_FREED
    if (calls == 1)
        last_freed = NULL; /* a new pass: nothing of the last one is free */
    if (last_freed != NULL && ((size_t *)last_freed)[-1] >= rounded) {
        char *reused = last_freed;
        last_freed = NULL;
        return reused;
    }
#endif
    char *p = mem_sbrk((intptr_t)(rounded + 16));
#ifdef REUSES_LAST_FREED
    if (p != (void *)-1)
        *(size_t *)(p + 8) = rounded; /* the block's size, just before it */
#endif
#if ATTACK == HIGH_WATER
    if (inits <= 2) /* the checked passes, where utilization is measured */
        on_library("libmsheap", shrink_records);
#endif
    return p == (void *)-1 ? NULL : p + 16;
}

void mm_free(void *ptr) {
#if ATTACK == BUMP_WHEN_TIMED
    if (inits <= 2 || strcmp(ATTACK_PATH, "honest") == 0)
        last_freed = ptr;
#elif ATTACK == PLACED_WHEN_COUNTED
    if (!counted_here())
        last_freed = ptr;
#endif
    (void)ptr;
}

void *mm_realloc(void *ptr, size_t size) {
    void *fresh = mm_malloc(size);
#if ATTACK == REGENERATE
    if (ptr != NULL && fresh != NULL) {
        uint64_t word;
        memcpy(&word, ptr, sizeof word);
        for (size_t at = 0; at + 8 <= size; at += 8, word += 0x9e3779b97f4a7c15u)
            memcpy((char *)fresh + at, &word, sizeof word);
    }
    return fresh;
#endif
    if (ptr != NULL && fresh != NULL)
        memcpy(fresh, ptr, size); /* the traces here never shrink a block */
    return fresh;
}
