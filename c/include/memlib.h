/*
 * memlib.h - the heap an allocator grows: an sbrk-style program break.
 *
 * Allocators get memory only through mem_sbrk; they may not call the system
 * malloc family, sbrk, brk or mmap. Two backends implement this header:
 *   memlib.c       the simulated heap: one region reserved up front (address
 *                  space only; pages are committed when first touched), with a
 *                  configurable limit, failure injection and a reset between runs;
 *   memlib_sbrk.c  the drop-in build's heap: a range of its own, grown sbrk-style.
 *
 * Guarantees of the simulated heap:
 *   - the heap is [mem_heap_lo(), mem_heap_hi()], contiguous, its start aligned
 *     to 4096 bytes; memory it hands out was zero when first handed out, or,
 *     with mem_set_poison(true), held the poison pattern (below);
 *   - mem_sbrk(incr) returns the old break, or (void *)-1 with errno = ENOMEM
 *     when the break would pass the limit or an injected failure is due; a
 *     negative incr gives memory back (never below the heap's start), or,
 *     with mem_set_shrink(false), fails with ENOMEM as the labs' memlib does;
 *   - mem_reset() puts the break back to the start, returns the pages to the
 *     system (so the next run sees zeroed memory) and clears the high-water
 *     mark; limits and failure injection are kept;
 *   - mem_rewind() does the same but keeps the pages: the next run finds them
 *     already mapped, holding whatever the last run left. Timed passes use it,
 *     so that they measure the allocator, not the kernel's page faults (a
 *     production allocator in a running process reuses warm pages too);
 *   - with mem_set_poison(true), every byte mem_sbrk exposes above the run's
 *     high-water mark holds MEM_POISON_BYTE until the allocator writes it, the
 *     same on every run; a growth above 64 MiB in one call is poisoned at its
 *     first and last MiB only, so that tens of GiB stay uncommitted.
 * The drop-in backend implements the lab's names and the extensions its
 * policies call; the driver-only settings are the simulated heap's alone.
 */
#ifndef MALLOCSIM_MEMLIB_H
#define MALLOCSIM_MEMLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The poison byte of mem_set_poison. 0xA5 repeated makes an uninitialised read
 * fail visibly whatever its width and offset: a size word is huge (a 4-byte one
 * 0xA5A5A5A5, over 2 GiB; an 8-byte one over 2^63, negative as a signed size)
 * and odd (bit 0, the usual "allocated" flag, set), and an 8-byte pointer is
 * non-canonical on x86-64 and AArch64, so following it faults at once instead
 * of wandering through valid memory.
 */
#define MEM_POISON_BYTE 0xA5

/* The CS:APP names. */
void mem_init(void);   /* reserve the region; idempotent */
void mem_deinit(void); /* release the region */
void *mem_sbrk(intptr_t incr);
void mem_reset_brk(void); /* the labs' name: mem_rewind() (memlib.c says why) */
void *mem_heap_lo(void);  /* first byte of the heap */
void *mem_heap_hi(void);  /* last byte of the heap (lo - 1 when empty) */
size_t mem_heapsize(void);
size_t mem_pagesize(void);

/* CMU handout helpers: plain memset/memcpy that a checker may rely on. */
void *mem_memset(void *ptr, int value, size_t n);
void *mem_memcpy(void *dst, const void *src, size_t n);
/* The CMU handouts' heap access (their dense mode): len bytes at addr, 0 to 8
   (more counts as 8), little-endian, zero-extended; a plain load or store. */
uint64_t mem_read(const void *addr, size_t len);
void mem_write(void *addr, uint64_t val, size_t len);
#ifdef __SIZEOF_INT128__
__int128 mem_read128(const void *addr);
void mem_write128(void *addr, __int128 val);
#endif
/* One past the last byte the heap may ever reach: its start plus its limit. */
void *mem_get_max_addr(void);
/* A debugging aid: the count bytes at ptr + offset, in hex, to stderr. */
void hprobe(void *ptr, int offset, size_t count);
/* The CS:APP handout's mem_sbrk(int incr): its labs/csapp/memlib.h maps the
   name here, as an int cannot be passed safely as an intptr_t; a negative
   incr fails with ENOMEM, as the handout's memlib does. */
void *mem_sbrk_int(int incr);
/* The same handouts' mem_deinit, as a student's mm.c calls it (its lab's memlib.h maps the name
   here): the heap is the driver's and stays mapped, for the student's mem_init to find again. */
void mem_deinit_lab(void);

/* mallocsim extensions. mem_reset: the break back to the start, every page given back (they
   read zero again); mem_rewind: the break back to the start, the bytes kept (the drivers' later
   passes); mem_rewind_zeroed: the same, every byte of every page the heap reached since the last
   reset set to 0 (the F22+ CMU drivers map their heap afresh before every pass), in a process that
   can only write its heap (a sandboxed agent's copy of a shared heap, which madvise does not
   clear). */
void mem_reset(void);
void mem_rewind(void);
void mem_rewind_zeroed(void);
size_t mem_high_water(void);      /* largest heap size since the last reset */
void mem_set_limit(size_t bytes); /* largest heap size allowed (ENOMEM past it) */
size_t mem_limit(void);
void mem_fail_after(int64_t calls); /* after `calls` more successful calls every
                                       mem_sbrk fails; -1 = never (the default) */
uint64_t mem_sbrk_calls(void);      /* calls since the last reset */
void mem_set_shrink(bool allowed);  /* whether a negative mem_sbrk gives memory back
                                       (true, the default) or fails (the labs) */
void mem_set_poison(bool on);       /* new heap memory holds MEM_POISON_BYTE, not zeros;
                                       the engine's checked pass with dirty_heap */
/* The calls that grew the heap since mem_count_growth(true) (which starts the count at 0; false
   stops it, and the common call is a few instructions again): a memlib that passes each growth to
   the real sbrk (the F20 and 2013-era CMU handouts') makes a brk system call for each, and the
   kernel maps for those whose break reaches a page the last break did not. For a shared heap, the
   owner counts its followers' calls. */
typedef struct {
    uint64_t calls;     /* mem_sbrk calls with incr > 0 that succeeded */
    uint64_t new_pages; /* those of them whose break, rounded up to a page, moved */
} mem_growth_count;
void mem_count_growth(bool on);
mem_growth_count mem_growth(void);
/* A heap shared with another process (the grader's and its agent's, remote.c): mem_share makes
   this process its owner, on a memfd (mem_share_fd) mapped at a fixed address, below 4 GiB when
   `narrow` (for a 32-bit agent; asked again with the other placement, it moves the heap to a new
   file), false when the system refuses; mem_share_grant(bytes) makes the file cover that much heap,
   for a follower that moves its own break; mem_share_granted says how much it covers. The other
   process maps the file at the same address, mem_heap_lo(), for mem_reserved() bytes (mem_join:
   false when that address is taken there). A follower asks the owner for every mem_sbrk
   (mem_follow), or moves its break within what was granted (mem_follow_within); mem_follow_brk sets
   its copy of the break to the owner's. */
bool mem_share(bool narrow);
/* Where the next heap made (by mem_init, or mem_share) should start, when the system lets it:
   0x800000000 for the CMU labs, whose memlibs map their heap there and whose students' code may
   rely on it; 0 (the default) for memlib's own choice. A 64-bit heap only. */
void mem_place(uintptr_t at);
bool mem_share_grant(size_t bytes);
size_t mem_share_granted(void);
/* The owner's: the end (bytes above mem_heap_lo) of the last page of the shared heap's file that
   holds a byte other than zero past `covered` bytes of heap and the spare page after them, or 0
   when none does. A page keeps what a process wrote there until the owner resets the heap: how far
   an agent's passes used the heap, blocks or not (a page only read holds zeros). */
size_t mem_share_used_past(size_t covered);
int mem_share_fd(void);
size_t mem_reserved(void);
bool mem_join(int fd, void *start, size_t bytes);
void mem_follow(void *(*ask)(intptr_t incr));
void mem_follow_within(size_t granted);
void mem_follow_brk(size_t brk);

#endif /* MALLOCSIM_MEMLIB_H */
