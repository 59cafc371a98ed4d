/*
 * test_memlib.c - the simulated heap keeps the contract memlib.h states.
 *
 * Growth from a page-aligned start, the limit (ENOMEM and (void *)-1, heap unchanged), giving
 * memory back or refusing to (mem_set_shrink), injected failures, and a reset that zeroes memory
 * and clears the high-water mark while keeping the limit. The labs' API: mem_sbrk_int (no
 * negative incr), mem_read and mem_write (0 to 8 bytes, little-endian, zero-extended), their
 * 128-bit forms, mem_get_max_addr and hprobe's output. Poisoning: new memory holds the pattern,
 * the same every run, only above the high-water mark, only at the edges of a growth above 64 MiB
 * (so a 4 GiB growth commits about 2 MiB), never after it is turned off. The growth count: the
 * calls that grew the heap and those whose break reached a new page, only while it is on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "memlib.h"

#define SBRK_FAILED ((void *)-1)

static char *lo(void) { return mem_heap_lo(); }
static char *hi(void) { return mem_heap_hi(); }

static void test_growth(void) {
    mem_reset();
    CHECK((uintptr_t)lo() % 4096 == 0, "heap start %p is not page aligned", (void *)lo());
    CHECK(mem_heapsize() == 0, "a reset heap holds %zu bytes", mem_heapsize());
    CHECK(hi() == lo() - 1, "an empty heap's hi is not lo - 1");
    char *first = mem_sbrk(48);
    CHECK(first == lo(), "first sbrk returned %p, not the heap start %p", (void *)first,
          (void *)lo());
    char *second = mem_sbrk(4096);
    CHECK(second == lo() + 48, "second sbrk returned %p, not the old break", (void *)second);
    CHECK(mem_heapsize() == 48 + 4096, "heap size %zu after 48 + 4096", mem_heapsize());
    CHECK(hi() == lo() + 48 + 4096 - 1, "hi is not the last byte of the heap");
    CHECK(mem_sbrk(0) == lo() + 48 + 4096, "sbrk(0) does not return the break");
    CHECK(mem_sbrk_calls() == 3, "%llu sbrk calls counted, 3 made",
          (unsigned long long)mem_sbrk_calls());
    memset(lo(), 0xab, mem_heapsize()); /* all of it is writable */
    CHECK(mem_pagesize() >= 4096 && (mem_pagesize() & (mem_pagesize() - 1)) == 0,
          "odd page size %zu", mem_pagesize());
}

/* What a memlib that calls the real sbrk would make system calls of: growths, not sbrk(0), a
   shrink or a refused call; a new page where the break, rounded up to a page, moves. */
static void test_growth_count(void) {
    mem_reset();
    mem_set_limit(3 * 4096);
    mem_sbrk(100); /* not counted: the count is off */
    mem_count_growth(true);
    mem_sbrk(100);  /* 200: within the first page */
    mem_sbrk(0);    /* no system call in any memlib */
    mem_sbrk(4000); /* 4,200: a new page */
    mem_sbrk(-100); /* a shrink: the labs' memlibs refuse it before sbrk */
    mem_sbrk(3892); /* 7,992: in the second page */
    mem_sbrk(4200); /* 12,192: a new page */
    mem_sbrk(4096); /* past the limit: refused, no call */
    mem_growth_count count = mem_growth();
    CHECK(count.calls == 4 && count.new_pages == 2,
          "%" PRIu64 " growths, %" PRIu64 " new pages counted: 4 and 2 were made", count.calls,
          count.new_pages);
    mem_count_growth(false);
    mem_sbrk(1);
    count = mem_growth();
    CHECK(count.calls == 0 && count.new_pages == 0, "counted with the count off");
    mem_set_limit(0);
    mem_reset();
}

static void test_limit(void) {
    mem_reset();
    mem_set_limit(8192);
    CHECK(mem_limit() == 8192, "limit reads back as %zu", mem_limit());
    CHECK(mem_sbrk(8000) == lo(), "growth below the limit failed");
    errno = 0;
    CHECK(mem_sbrk(200) == SBRK_FAILED, "growth past the limit succeeded");
    CHECK(errno == ENOMEM, "errno %d past the limit, not ENOMEM", errno);
    CHECK(mem_heapsize() == 8000, "a failed sbrk changed the heap size to %zu", mem_heapsize());
    CHECK(mem_sbrk(192) == lo() + 8000, "growth exactly to the limit failed");
    CHECK(mem_sbrk(1) == SBRK_FAILED, "growth one byte past the limit succeeded");
    errno = 0;
    CHECK(mem_sbrk(INTPTR_MAX) == SBRK_FAILED && errno == ENOMEM, "a huge increment succeeded");

    /* The reset keeps the limit. */
    mem_reset();
    CHECK(mem_limit() == 8192, "the reset dropped the limit");
    CHECK(mem_sbrk(8193) == SBRK_FAILED, "the limit is not enforced after a reset");
    mem_set_limit(0);
    CHECK(mem_limit() > 8192, "limit 0 does not mean the whole reservation");
    CHECK(mem_sbrk(8193) == lo(), "growth failed after lifting the limit");
}

static void test_shrink(void) {
    mem_reset();
    mem_sbrk(8192);
    char *old = mem_sbrk(-4096);
    CHECK(old == lo() + 8192, "a negative sbrk returned %p, not the old break", (void *)old);
    CHECK(mem_heapsize() == 4096, "heap size %zu after giving 4096 back", mem_heapsize());
    CHECK(mem_high_water() == 8192, "shrinking lowered the high-water mark to %zu",
          mem_high_water());
    CHECK(mem_sbrk(-8192) == SBRK_FAILED, "shrinking below the heap start succeeded");
    CHECK(mem_heapsize() == 4096, "a failed shrink changed the heap size to %zu", mem_heapsize());
    CHECK(mem_sbrk(-4096) == lo() + 4096 && mem_heapsize() == 0, "shrinking to empty failed");
}

static void test_fail_after(void) {
    mem_reset();
    mem_fail_after(2);
    CHECK(mem_sbrk(16) != SBRK_FAILED, "call 1 of 2 allowed failed");
    CHECK(mem_sbrk(16) != SBRK_FAILED, "call 2 of 2 allowed failed");
    errno = 0;
    CHECK(mem_sbrk(16) == SBRK_FAILED && errno == ENOMEM, "call 3 succeeded after fail_after(2)");
    CHECK(mem_sbrk(16) == SBRK_FAILED, "injected failures stop after the first");
    CHECK(mem_heapsize() == 32, "failed calls changed the heap size to %zu", mem_heapsize());
    mem_reset();
    CHECK(mem_sbrk(16) == SBRK_FAILED, "the reset dropped failure injection");
    mem_fail_after(-1);
    CHECK(mem_sbrk(16) != SBRK_FAILED, "fail_after(-1) does not turn injection off");
}

static void test_reset(void) {
    mem_reset();
    mem_sbrk(3 * 4096);
    memset(lo(), 0x5a, 3 * 4096);
    mem_reset();
    CHECK(mem_heapsize() == 0 && mem_high_water() == 0 && mem_sbrk_calls() == 0,
          "reset left size %zu, high water %zu, calls %llu", mem_heapsize(), mem_high_water(),
          (unsigned long long)mem_sbrk_calls());
    char *p = mem_sbrk(3 * 4096);
    size_t nonzero = 0;
    for (size_t i = 0; i < 3 * 4096; i++)
        nonzero += p[i] != 0;
    CHECK(nonzero == 0, "%zu bytes still set after a reset", nonzero);
    CHECK(mem_high_water() == 3 * 4096, "high water %zu after growing to 12288", mem_high_water());
}

static size_t not_byte(const char *p, size_t n, unsigned char byte);

/* After a rewind (`how`): an empty heap, whose first four pages, grown again, start at `start`
   and hold `byte` everywhere. */
static void check_rewound(const char *how, char *start, unsigned char byte) {
    CHECK(mem_heapsize() == 0 && mem_high_water() == 0, "%s left size %zu", how, mem_heapsize());
    char *q = mem_sbrk(4 * 4096);
    size_t other = not_byte(q, 4 * 4096, byte);
    CHECK(q == start && other == 0, "%s left %zu bytes not %#x", how, other, (unsigned)byte);
}

/* mem_rewind keeps the pages (and what they hold) but is a reset otherwise. */
static void test_rewind(void) {
    mem_reset();
    char *p = mem_sbrk(4096);
    memset(p, 0x5a, 4096);
    mem_rewind();
    CHECK(mem_heapsize() == 0 && mem_high_water() == 0 && mem_sbrk_calls() == 0,
          "rewind left size %zu, high water %zu", mem_heapsize(), mem_high_water());
    char *q = mem_sbrk(4096);
    CHECK(q == p, "rewind moved the heap's start");
    CHECK(q[0] == 0x5a && q[4095] == 0x5a, "rewind gave the pages back");
    /* mem_rewind_zeroed: the same, with every byte of the pages reached since the last reset 0
       again, those past the break in its page too */
    mem_sbrk(8192 + 100);
    memset(q, 0x5a, 4 * 4096);
    mem_rewind_zeroed();
    check_rewound("a zeroed rewind", p, 0);
    /* The handouts' mem_reset_brk, which a student's mm_init may call, moves the break back and
       keeps the pages, as their memlibs do: a rewind. As a reset it gave them back, and every
       timed pass of such a file paid a page fault for each page it reached again. */
    memset(p, 0x3c, 4 * 4096);
    mem_reset_brk();
    check_rewound("mem_reset_brk", p, 0x3c);
}

/* Resident memory of this process, in KiB. */
static long resident_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* How many of the n bytes at p are not `byte`. */
static size_t not_byte(const char *p, size_t n, unsigned char byte) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += (unsigned char)p[i] != byte;
    return count;
}

static void test_no_shrink(void) {
    mem_reset();
    mem_set_shrink(false);
    mem_sbrk(8192);
    errno = 0;
    CHECK(mem_sbrk(-4096) == SBRK_FAILED && errno == ENOMEM, "a negative sbrk succeeded");
    CHECK(mem_heapsize() == 8192, "a refused shrink changed the heap size to %zu", mem_heapsize());
    CHECK(mem_sbrk(0) == lo() + 8192, "sbrk(0) refused when shrinking is off");
    mem_reset();
    CHECK(mem_sbrk(16) == lo() && mem_sbrk(-16) == SBRK_FAILED, "the reset turned shrinking on");
    mem_set_shrink(true);
    CHECK(mem_sbrk(-16) == lo() + 16 && mem_heapsize() == 0, "shrinking is not back on");
}

/* The CS:APP handout's mem_sbrk(int): growth, never a negative incr, the limit. */
static void test_sbrk_int(void) {
    mem_reset();
    CHECK(mem_sbrk_int(4096) == lo() && mem_heapsize() == 4096, "mem_sbrk_int(4096) did not grow");
    errno = 0;
    CHECK(mem_sbrk_int(-16) == SBRK_FAILED && errno == ENOMEM, "mem_sbrk_int(-16) succeeded");
    CHECK(mem_heapsize() == 4096, "a refused mem_sbrk_int changed the heap to %zu", mem_heapsize());
    mem_set_limit(8192);
    CHECK(mem_sbrk_int(8192) == SBRK_FAILED, "mem_sbrk_int ignores the limit");
    CHECK(mem_sbrk_int(4096) == lo() + 4096, "mem_sbrk_int to the limit failed");
    mem_set_limit(0);
    CHECK(mem_sbrk_calls() == 2, "%llu successful calls counted",
          (unsigned long long)mem_sbrk_calls());
}

static void test_read_write(void) {
    mem_reset();
    unsigned char *p = mem_sbrk(64);
    for (int i = 0; i < 16; i++)
        p[i] = (unsigned char)(0xf1 + i); /* f1 f2 f3 ... */
    CHECK(mem_read(p, 8) == 0xf8f7f6f5f4f3f2f1u, "8 bytes: 0x%llx",
          (unsigned long long)mem_read(p, 8));
    CHECK(mem_read(p, 4) == 0xf4f3f2f1u, "4 bytes: 0x%llx", (unsigned long long)mem_read(p, 4));
    CHECK(mem_read(p + 1, 2) == 0xf3f2u, "2 unaligned bytes: 0x%llx",
          (unsigned long long)mem_read(p + 1, 2));
    CHECK(mem_read(p, 1) == 0xf1u, "1 byte: 0x%llx", (unsigned long long)mem_read(p, 1));
    CHECK(mem_read(p, 3) == 0xf3f2f1u, "3 bytes: 0x%llx", (unsigned long long)mem_read(p, 3));
    CHECK(mem_read(p, 0) == 0, "0 bytes: 0x%llx", (unsigned long long)mem_read(p, 0));
    CHECK(mem_read(p, 16) == mem_read(p, 8), "more than 8 bytes is not 8");

    memset(p + 16, 0xee, 16);
    mem_write(p + 16, 0x1122334455667788u, 3); /* only the low 3 bytes, at p + 16.. */
    CHECK(p[16] == 0x88 && p[17] == 0x77 && p[18] == 0x66 && p[19] == 0xee,
          "a 3-byte write wrote %02x %02x %02x %02x", p[16], p[17], p[18], p[19]);
    mem_write(p + 20, 0xabcdu, 2);
    CHECK(p[20] == 0xcd && p[21] == 0xab && p[22] == 0xee, "a 2-byte write");
    mem_write(p + 24, 0x0102030405060708u, 8);
    CHECK(mem_read(p + 24, 8) == 0x0102030405060708u && p[24] == 0x08, "an 8-byte write");
    mem_write(p + 16, 0x99, 1);
    CHECK(p[16] == 0x99 && p[17] == 0x77, "a 1-byte write");
    mem_write(p + 20, 0xffffffffu, 4);
    CHECK(mem_read(p + 20, 4) == 0xffffffffu && p[24] == 0x08, "a 4-byte write");
    mem_write(p + 40, 0x5555555555555555u, 12); /* more than 8 writes 8 */
    CHECK(p[47] == 0x55 && p[48] == 0x00, "a 12-byte write wrote past 8 bytes");
#ifdef __SIZEOF_INT128__
    __int128 big = (__int128)(((unsigned __int128)0x0123456789abcdefu << 64) | 0xfedcba9876543210u);
    mem_write128(p + 32, big);
    CHECK(mem_read128(p + 32) == big, "128 bits do not read back");
    CHECK(mem_read(p + 32, 8) == 0xfedcba9876543210u && mem_read(p + 40, 8) == 0x0123456789abcdefu,
          "128 bits: the low word is not first");
#endif
    mem_set_limit(1 << 20);
    CHECK(mem_get_max_addr() == lo() + (1 << 20), "max addr %p, heap start %p", mem_get_max_addr(),
          (void *)lo());
    mem_set_limit(0);
    CHECK(mem_get_max_addr() == lo() + mem_limit(), "max addr without a limit");
}

/* hprobe's stderr, captured in a file: highest byte first. */
static void test_hprobe(void) {
    mem_reset();
    unsigned char *p = mem_sbrk(32);
    for (int i = 0; i < 4; i++)
        p[8 + i] = (unsigned char)(i + 1);
    char out[512] = "";
    FILE *capture = tmpfile();
    int saved = dup(2);
    if (capture == NULL || saved < 0) {
        CHECK(false, "cannot capture stderr");
        return;
    }
    fflush(stderr);
    dup2(fileno(capture), 2);
    hprobe(p, 8, 4);
    hprobe(p, 30, 4); /* runs past the break */
    hprobe(p, -1, 1); /* before the heap */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(capture);
    size_t n = fread(out, 1, sizeof out - 1, capture);
    out[n] = '\0';
    fclose(capture);
    char expected[128];
    snprintf(expected, sizeof expected, "Bytes %p...%p: 0x04030201\n", (void *)(p + 11),
             (void *)(p + 8));
    CHECK(strstr(out, expected) == out, "hprobe printed: %s(expected %s)", out, expected);
    char *second = strchr(out, '\n');
    CHECK(second != NULL && strstr(second, "are not inside the heap") != NULL &&
              strstr(strstr(second, "are not inside") + 1, "are not inside the heap") != NULL,
          "probes outside the heap: %s", out);
}

static void test_poison(void) {
    mem_reset();
    mem_set_poison(true);
    char *p = mem_sbrk(4096);
    CHECK(not_byte(p, 4096, MEM_POISON_BYTE) == 0, "new memory is not poisoned");
    memset(p, 0, 4096);
    mem_sbrk(-2048);
    char *q = mem_sbrk(4096); /* 2048 handed out before, zeroed by the allocator; 2048 new */
    CHECK(q == p + 2048, "regrowth moved");
    CHECK(not_byte(q, 2048, 0) == 0, "memory handed out before was poisoned again");
    CHECK(not_byte(q + 2048, 2048, MEM_POISON_BYTE) == 0, "new memory past the mark not poisoned");

    /* What the allocator wrote past its break is still there when the break grows over it, as
       in the labs' drivers' heaps (a public solution's mm_init wrote one list head past the room
       it had asked for); the bytes it never wrote past the break are poison. Past a break inside
       a page, and past a page-aligned one, in the page the shared heap keeps beyond it. */
    static const size_t breaks[] = {200, 4096};
    for (size_t k = 0; k < sizeof breaks / sizeof breaks[0]; k++) {
        mem_reset();
        p = mem_sbrk((intptr_t)breaks[k]);
        memset(p + breaks[k], 0, 8);
        q = mem_sbrk(16);
        CHECK(q == p + breaks[k] && not_byte(q, 8, 0) == 0,
              "a word written past a break of %zu bytes was poisoned", breaks[k]);
        CHECK(not_byte(q + 8, 8, MEM_POISON_BYTE) == 0,
              "bytes never written past a break of %zu bytes are not poisoned", breaks[k]);
    }

    /* A new run is poisoned again, the same way. */
    mem_reset();
    p = mem_sbrk(100);
    CHECK(not_byte(p, 100, MEM_POISON_BYTE) == 0, "a reset run is not poisoned");
    uint64_t word;
    memcpy(&word, p, 8);
    CHECK(word == 0xA5A5A5A5A5A5A5A5u && word % 2 == 1, "the poison word is 0x%llx",
          (unsigned long long)word);

    /* A growth above 64 MiB: poisoned at its edges only, so it stays mostly uncommitted. */
    long before = resident_kib();
    size_t big = (size_t)4 << 30;
    char *b = mem_sbrk((intptr_t)big);
    CHECK(b != SBRK_FAILED, "4 GiB growth failed");
    if (b != SBRK_FAILED) {
        size_t mib = (size_t)1 << 20;
        CHECK(not_byte(b, mib, MEM_POISON_BYTE) == 0, "the first MiB is not poisoned");
        CHECK(not_byte(b + big - mib, mib, MEM_POISON_BYTE) == 0, "the last MiB is not poisoned");
        CHECK(b[mib] == 0 && b[big / 2] == 0 && b[big - mib - 1] == 0,
              "the middle of a huge growth is not zero");
        long grown = resident_kib() - before;
        CHECK(grown < 16 * 1024, "a 4 GiB growth committed %ld KiB", grown);
    }
    /* 64 MiB exactly is poisoned whole. */
    char *whole = mem_sbrk((intptr_t)64 << 20);
    CHECK(whole[32 << 20] == (char)MEM_POISON_BYTE, "64 MiB is not poisoned whole");

    /* Off again: new memory is zero. */
    mem_set_poison(false);
    mem_reset();
    p = mem_sbrk(4096);
    CHECK(not_byte(p, 4096, 0) == 0, "memory poisoned with poisoning off");
    mem_set_poison(true);
    mem_fail_after(-1); /* poisoning and injection share the slow path: each keeps its rule */
    mem_fail_after(1);
    CHECK(mem_sbrk(16) != SBRK_FAILED && mem_sbrk(16) == SBRK_FAILED, "injection under poisoning");
    mem_fail_after(-1);
    CHECK(mem_sbrk(16) != SBRK_FAILED, "poisoning left alone after injection stopped");
    mem_set_poison(false);
    mem_reset();
}

/* The heap a grader shares with its agent: the file covers the break, page-rounded, and no more;
   a reset zeroes the pages but keeps the size (an allocator still pointing into the last run
   reads zeros, as on a private heap). */
static void test_shared_heap(void) {
    CHECK(mem_share(false), "mem_share failed");
    mem_reset();
    size_t page = mem_pagesize();
    char *p = mem_sbrk(100);
    CHECK(p == mem_heap_lo(), "the first block is not at the heap's start");
    CHECK(mem_share_granted() == page, "file %zu bytes for a 100-byte break", mem_share_granted());
    /* The page past the granted one is memory too (a read past the break, as the real drivers
       allow): reading it must not die of SIGBUS. */
    CHECK(((volatile char *)p)[2 * page - 1] == 0, "the page past the grant is not zeros");
    memset(p, 7, 100);
    CHECK(mem_sbrk((intptr_t)page) != (void *)-1, "growth failed");
    CHECK(mem_share_granted() == 2 * page, "file %zu bytes after a page more", mem_share_granted());
    mem_reset();
    CHECK(mem_heapsize() == 0 && mem_share_granted() == 2 * page, "reset: break %zu, file %zu",
          mem_heapsize(), mem_share_granted());
    CHECK(p[0] == 0 && p[99] == 0, "a reset left the last run's bytes");
    CHECK(mem_share_grant(10 * page) && mem_share_granted() == 10 * page, "grant: file %zu",
          mem_share_granted());
}

/* A heap shared with a 32-bit agent (a -m32 build) lies wholly below 4 GiB, where that agent can
   map it; shared again for a 64-bit one, it moves to a new file at the usual place. */
static void test_narrow_shared_heap(void) {
    CHECK(mem_share(true), "mem_share(true) failed");
    uintptr_t lo = (uintptr_t)mem_heap_lo();
    CHECK(lo + mem_reserved() <= (uintptr_t)UINT32_MAX + 1, "a 32-bit agent's heap at %#jx + %zu",
          (uintmax_t)lo, mem_reserved());
    mem_reset();
    CHECK(mem_sbrk(100) == mem_heap_lo() && mem_share_granted() == mem_pagesize(),
          "the narrow heap's file %zu bytes for a 100-byte break", mem_share_granted());
    CHECK(mem_share(false) && (uintptr_t)mem_heap_lo() > UINT32_MAX, "not moved back: %p",
          mem_heap_lo());
    CHECK(mem_share_granted() == 0, "the new file holds %zu bytes", mem_share_granted());
}

/* The agent maps the owner's file at the owner's address (mem_join), in a process of its own:
   here a fork, whose inherited copy of the region mem_join gives up first. Where something else
   holds the address the join refuses rather than map elsewhere. */
static void test_join(void) {
    char *lo = mem_heap_lo();
    lo[5] = 42;
    int fd = mem_share_fd();
    size_t bytes = mem_reserved();
    CHECK(fd >= 0 && bytes > 0, "no file (%d) or size (%zu) to join", fd, bytes);
    pid_t child = fork();
    if (child == 0) {
        mem_deinit();
        void *squatter = mmap(lo, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        bool refused = squatter == lo && !mem_join(fd, lo, bytes);
        munmap(squatter, 4096);
        bool joined = refused && mem_join(fd, lo, bytes);
        _exit(joined && mem_heap_lo() == lo && lo[5] == 42 ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the join took a taken address, or saw another heap");
}

/* What a follower's mem_sbrk asks its owner (here, a stand-in with its own break). */
static size_t owner_break;
static int asked;

static void *stand_in_owner(intptr_t incr) {
    asked++;
    if (incr > 4096)
        return (void *)-1;
    char *old = (char *)mem_heap_lo() + owner_break;
    owner_break += (size_t)incr;
    return old;
}

static void test_follower(void) {
    owner_break = 64;
    mem_follow(stand_in_owner);
    mem_follow_brk(64);
    char *p = mem_sbrk(32);
    CHECK(asked == 1, "the owner was asked %d times", asked);
    CHECK(p == (char *)mem_heap_lo() + 64, "the follower's block is not the owner's break");
    CHECK(mem_heapsize() == 96, "the follower's copy of the break: %zu", mem_heapsize());
    CHECK(mem_sbrk(8192) == (void *)-1 && errno == ENOMEM, "the owner's refusal was not ENOMEM");
    CHECK(mem_heapsize() == 96, "a refused growth moved the break to %zu", mem_heapsize());
    mem_follow_within(mem_pagesize());
    CHECK(mem_sbrk(16) != (void *)-1 && asked == 2,
          "growth within the grant was asked of the owner");
    CHECK(mem_sbrk((intptr_t)mem_pagesize()) == (void *)-1, "growth past the grant succeeded");
    /* The owner moved the break for the follower: what it zeroes reaches that far */
    memset(mem_heap_lo(), 0x5a, mem_heapsize());
    size_t held = mem_heapsize();
    mem_rewind_zeroed();
    CHECK(not_byte(mem_heap_lo(), held, 0) == 0, "the follower's zeroed rewind left bytes");
}

int main(void) {
    mem_init();
    mem_init(); /* idempotent */
    test_growth();
    test_growth_count();
    test_limit();
    test_shrink();
    test_fail_after();
    test_reset();
    test_rewind();
    test_no_shrink();
    test_sbrk_int();
    test_read_write();
    test_hprobe();
    test_poison();
    test_shared_heap();
    test_join();
    test_narrow_shared_heap();
    test_follower();
    mem_deinit();
    return CHECK_DONE();
}
