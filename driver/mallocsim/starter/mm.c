/*
 * mm.c - the starter allocator: correct, simple, slow and wasteful.
 *
 * Every block is a 16-byte header holding the payload's size, followed by the
 * payload, rounded up to 16 bytes so that every payload is 16-byte aligned.
 * mm_malloc takes a fresh block from the top of the heap with mem_sbrk;
 * mm_free does nothing, so no memory is ever reused; mm_realloc is mm_malloc,
 * a copy and mm_free. It passes every correctness check and scores poorly on
 * utilization: replacing it with something better is the lab.
 *
 * Rules: get memory only from mem_sbrk (never the system malloc family, sbrk,
 * brk or mmap); return payloads aligned to 16 bytes; keep your data
 * structures inside the heap.
 *
 * This file is written in the classic dialect (int mm_init, 0 = success).
 */
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

/* Fill in your team: the grader prints it. */
team_t team = {
    "starter",       /* team name */
    "Your Name",     /* first member's full name */
    "your-login",    /* first member's login ID */
    "",              /* second member's full name (if any) */
    ""               /* second member's login ID */
};

#define ALIGNMENT 16
#define HEADER 16 /* holds the payload's size; 16 bytes keep the payload aligned */

/* round_up - size rounded up to a multiple of ALIGNMENT. */
static size_t round_up(size_t size) { return (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

/* payload_size - the size stored in the header in front of a payload. */
static size_t payload_size(void *ptr) {
    size_t size;
    memcpy(&size, (char *)ptr - HEADER, sizeof size);
    return size;
}

/* mm_init - start over on an empty heap: 0 on success, -1 on failure. */
int mm_init(void) { return 0; }

/* mm_malloc - a new aligned block of at least size bytes, NULL when out of memory. */
void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t payload = round_up(size);
    char *block = mem_sbrk((intptr_t)(HEADER + payload));
    if (block == (void *)-1)
        return NULL;
    memcpy(block, &payload, sizeof payload);
    return block + HEADER;
}

/* mm_free - give a block back (the starter never reuses it). */
void mm_free(void *ptr) { (void)ptr; }

/* mm_realloc - resize a block, keeping its first min(old, new) bytes. */
void *mm_realloc(void *ptr, size_t size) {
    if (ptr == NULL)
        return mm_malloc(size);
    if (size == 0) {
        mm_free(ptr);
        return NULL;
    }
    void *newptr = mm_malloc(size);
    if (newptr == NULL)
        return NULL;
    size_t old = payload_size(ptr);
    memcpy(newptr, ptr, old < size ? old : size);
    mm_free(ptr);
    return newptr;
}

/* mm_calloc - a zeroed block of nmemb * size bytes, NULL on overflow. */
void *mm_calloc(size_t nmemb, size_t size) {
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    void *ptr = mm_malloc(nmemb * size);
    if (ptr != NULL)
        memset(ptr, 0, nmemb * size);
    return ptr;
}

/* mm_checkheap - check the heap's invariants: non-zero when it is consistent.
   The starter's heap has none to break; write yours before your allocator. */
int mm_checkheap(int verbose) {
    (void)verbose;
    return 1;
}
