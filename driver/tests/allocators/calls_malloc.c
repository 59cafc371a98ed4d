/*
 * calls_malloc.c - keeps its bookkeeping in the system malloc
 * (test fixture, classic dialect).
 *
 * What is wrong: the allocator itself works (a bump allocator over
 * mem_sbrk), but mm_init asks the system malloc for a table of size-class
 * heads and mm_free releases nothing of it: memory the heap never sees, which
 * the lab rules forbid.
 * Which check must catch it: the forbidden-call check on the built library,
 * before any trace runs ("calls free, malloc: an allocator may get memory
 * only from mem_sbrk ...").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

team_t team = {"libc", "Short Cut", "shortcut", "", ""};

#define ALIGNMENT 16
#define HEADER 16 /* holds the payload's capacity */
#define CLASSES 16

static void **class_heads; /* BUG: from the system malloc */

static size_t align(size_t size) { return (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

int mm_init(void) {
    free(class_heads);
    class_heads = malloc(CLASSES * sizeof *class_heads);
    return class_heads == NULL ? -1 : 0;
}

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size_t cap = align(size);
    char *block = mem_sbrk((intptr_t)(HEADER + cap));
    if (block == (void *)-1)
        return NULL;
    memcpy(block, &cap, sizeof cap);
    return block + HEADER;
}

void mm_free(void *ptr) { (void)ptr; }

void *mm_realloc(void *ptr, size_t size) {
    if (ptr == NULL)
        return mm_malloc(size);
    if (size == 0)
        return NULL;
    void *newptr = mm_malloc(size);
    if (newptr == NULL)
        return NULL;
    size_t old;
    memcpy(&old, (char *)ptr - HEADER, sizeof old);
    memcpy(newptr, ptr, old < size ? old : size);
    return newptr;
}
