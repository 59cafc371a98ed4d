/*
 * test_memlib.c - the simulated heap keeps the contract memlib.h states.
 *
 * Growth from a page-aligned start, the limit (ENOMEM and (void *)-1, heap unchanged), giving
 * memory back, injected failures, and a reset that zeroes memory and clears the high-water mark
 * while keeping the limit.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

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
    mem_reset_brk();
    CHECK(mem_heapsize() == 0 && mem_high_water() == 0, "mem_reset_brk is not a reset");
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
}

int main(void) {
    mem_init();
    mem_init(); /* idempotent */
    test_growth();
    test_limit();
    test_shrink();
    test_fail_after();
    test_reset();
    test_rewind();
    mem_deinit();
    return CHECK_DONE();
}
