/*
 * calloc_no_zero.c - calloc trusts the heap to be zero
 * (test fixture, CMU dialect: build with -DMM_DIALECT_CMU).
 *
 * What is wrong: mm_calloc skips the memset because "sbrk memory is zero".
 * That holds for fresh heap memory, but mm_malloc reuses freed blocks (a LIFO
 * free list, first fit), and those still hold their old contents.
 * Which check must catch it: the calloc check. For "a 0 32, f 0, c 1 4 8"
 * the calloc (op 2) gets block 0's old bytes ("calloc memory is not zero").
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "memlib.h"
#include "mm.h"

#define ALIGNMENT 16

typedef struct header {
    size_t size;         /* payload capacity */
    struct header *next; /* next free block, when free */
} header;

static header *free_list;

static size_t align(size_t size) { return (size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT; }

bool mm_init(void) {
    free_list = NULL;
    return true;
}

void *mm_malloc(size_t size) {
    if (size == 0 || size > SIZE_MAX / 2)
        return NULL;
    size = align(size);
    for (header **link = &free_list; *link != NULL; link = &(*link)->next) {
        header *h = *link;
        if (h->size >= size) {
            *link = h->next;
            return h + 1;
        }
    }
    header *h = mem_sbrk((intptr_t)(sizeof(header) + size));
    if (h == (void *)-1)
        return NULL;
    h->size = size;
    return h + 1;
}

void mm_free(void *ptr) {
    if (ptr == NULL)
        return;
    header *h = (header *)ptr - 1;
    h->next = free_list;
    free_list = h;
}

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
    size_t old = ((header *)ptr - 1)->size;
    memcpy(newptr, ptr, old < size ? old : size);
    mm_free(ptr);
    return newptr;
}

void *mm_calloc(size_t nmemb, size_t size) {
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    return mm_malloc(nmemb * size); /* BUG: a reused block is not zero */
}

bool mm_checkheap(int lineno) {
    (void)lineno;
    for (header *h = free_list; h != NULL; h = h->next)
        if ((char *)h < (char *)mem_heap_lo() || (char *)(h + 1) > (char *)mem_heap_hi() + 1)
            return false;
    return true;
}
