/*
 * mm.h - the allocator interface every mallocsim allocator exports.
 *
 * These are the CS:APP malloc-lab names. A student's mm.c, a built-in policy
 * and anything else the driver loads is a shared library exporting them; the
 * driver treats every allocator alike.
 *
 * Two lab dialects exist and differ only in mm_init's type and meaning:
 *   classic (CS:APP handout)   int  mm_init(void)   a negative value is failure (the drivers
 *                                                    test mm_init() < 0)
 *   cmu     (CMU 15-213 64-bit) bool mm_init(void)  true on success
 * The dialect is chosen explicitly at build time by defining MM_DIALECT_CMU
 * (the CMU one) or nothing (the classic one), and the driver is told the
 * same dialect when it loads the library. It is never guessed.
 *
 * mm_checkheap returns true (non-zero) when the heap is consistent, in both
 * dialects: that is the handout's mm_check contract and the CMU one's.
 *
 * mm_calloc and mm_checkheap are optional for a library. The mallocsim
 * extensions below are optional too: mm_configure takes run-time options such
 * as "best" for best fit, mm_checkheap_message says which invariant the last
 * failed mm_checkheap found broken and where, and mm_usable_size serves the
 * drop-in build's malloc_usable_size.
 */
#ifndef MALLOCSIM_MM_H
#define MALLOCSIM_MM_H

#include <stdbool.h>
#include <stddef.h>

#ifdef MM_DIALECT_CMU
bool mm_init(void);
bool mm_checkheap(int lineno);
#else
int mm_init(void);
int mm_checkheap(int verbose);

/* The classic handout's team record, kept so an unchanged mm.c compiles. */
typedef struct {
    char *teamname; /* ID1+ID2 or ID1 */
    char *name1;    /* full name of first member */
    char *id1;      /* login ID of first member */
    char *name2;    /* full name of second member (if any) */
    char *id2;      /* login ID of second member */
} team_t;
extern team_t team;
#endif

void *mm_malloc(size_t size);
void mm_free(void *ptr);
void *mm_realloc(void *ptr, size_t size);
void *mm_calloc(size_t nmemb, size_t size);

/*
 * mm_configure - apply run-time options before mm_init (mallocsim extension).
 * `options` is the text after the colon of an allocator name ("implicit:best"
 * passes "best"). Returns NULL when the options were applied, or a static
 * one-line message saying what was wrong and what is accepted.
 */
const char *mm_configure(const char *options);

/*
 * mm_checkheap_message - why the last mm_checkheap call returned false: one
 * line naming the broken invariant and the block's address, e.g.
 * "block 0x7f..10: header size 48 != footer size 32". "" when it passed.
 */
const char *mm_checkheap_message(void);

/* mm_usable_size - bytes usable at ptr, a live block of this allocator. */
size_t mm_usable_size(void *ptr);

/*
 * mm_malloc_usable, mm_free_usable - mm_malloc that also says the block's mm_usable_size, and
 * mm_free that says what it was (ptr not NULL) (mallocsim extension, optional; the drop-in's arenas
 * count their live bytes by them, no lab does). A policy finds the size where it finds the block;
 * asked afterwards, segfit looked its small blocks up again in its run map: 11% of a program's
 * instructions where the caches were too small for its rounds of malloc and free.
 */
void *mm_malloc_usable(size_t size, size_t *usable);
size_t mm_free_usable(void *ptr);

/*
 * mm_memalign - a block of at least `size` bytes whose payload is a multiple of `alignment` (a
 * power of two above 16), an ordinary block in every other way: freed, measured and resized as
 * any. NULL when the heap cannot hold it. (mallocsim extension, optional; the drop-in's aligned
 * allocations use it, so that the bytes before the aligned payload go back to the heap instead
 * of lying unused in the block; no lab does.)
 */
void *mm_memalign(size_t alignment, size_t size);

/*
 * mm_free_top, mm_trim - the heap's top (mallocsim extension, optional; the drop-in's arenas call
 * them, no lab does). mm_free_top: the bytes of the free block that ends the heap, 0 when the
 * last block is allocated. mm_trim: when there is one, shrink it to about `pad` bytes (or remove
 * it) and the heap with it, by a negative mem_sbrk; returns the bytes given back, 0 when none.
 */
size_t mm_free_top(void);
size_t mm_trim(size_t pad);

/*
 * mm_free_space - what the heap holds free (mallocsim extension, optional; the drop-in's mallinfo
 * and malloc_stats report it, no lab does): the bytes of its free blocks and how many there are,
 * and the same of the free slots in runs of small objects (0 for a policy without runs). Bytes
 * are whole blocks' and slots', headers included, as glibc counts its free chunks.
 */
typedef struct {
    size_t block_bytes, blocks; /* free blocks: their bytes, their number */
    size_t slot_bytes, slots;   /* free slots of runs: their bytes, their number */
} mm_free_space_t;
mm_free_space_t mm_free_space(void);

/*
 * mm_free_spans - the free memory whose bytes the policy does not read (mallocsim extension,
 * optional; the drop-in's malloc_trim and purges give its whole pages back to the system, no lab
 * does): each(lo, len, ctx) once for every free block whose span is `least` bytes or more, with
 * the bytes between what the block keeps while it is free (its tags, its list links); shorter
 * spans may be passed too, and a policy that keeps its free blocks by size passes over them
 * unread. The bytes may read zero afterwards.
 */
typedef void mm_span_fn(void *lo, size_t len, void *ctx);
void mm_free_spans(size_t least, mm_span_fn *each, void *ctx);

#endif /* MALLOCSIM_MM_H */
