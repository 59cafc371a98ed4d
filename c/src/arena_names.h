/*
 * arena_names.h - the names of one arena's copy of a policy and of its heap (see arena.h).
 *
 * The Makefile compiles a policy (segfit.c...) and memlib_sbrk.c once per arena for the drop-in,
 * with ARENA_ID set and this header included first (cc -include): each copy's mm_* and mem_* then
 * become arena<ID>_mm_*, arena<ID>_mem_*, its static state is its own, and the copies link side by
 * side in one library. Names the policy does not define or call are renamed all the same.
 */
#ifndef MALLOCSIM_ARENA_NAMES_H
#define MALLOCSIM_ARENA_NAMES_H

#ifndef ARENA_ID
#error "arena_names.h: compile with -DARENA_ID=<an id of ARENA_LIST (arena.h)>"
#endif

#define ARENA_GLUE(id, name) arena##id##_##name
#define ARENA_NAME(id, name) ARENA_GLUE(id, name)

/* mm.h */
#define mm_init ARENA_NAME(ARENA_ID, mm_init)
#define mm_malloc ARENA_NAME(ARENA_ID, mm_malloc)
#define mm_free ARENA_NAME(ARENA_ID, mm_free)
#define mm_realloc ARENA_NAME(ARENA_ID, mm_realloc)
#define mm_calloc ARENA_NAME(ARENA_ID, mm_calloc)
#define mm_checkheap ARENA_NAME(ARENA_ID, mm_checkheap)
#define mm_configure ARENA_NAME(ARENA_ID, mm_configure)
#define mm_checkheap_message ARENA_NAME(ARENA_ID, mm_checkheap_message)
#define mm_usable_size ARENA_NAME(ARENA_ID, mm_usable_size)
#define mm_free_top ARENA_NAME(ARENA_ID, mm_free_top)
#define mm_trim ARENA_NAME(ARENA_ID, mm_trim)
#define mm_free_space ARENA_NAME(ARENA_ID, mm_free_space)
#define mm_free_spans ARENA_NAME(ARENA_ID, mm_free_spans)
#define mm_memalign ARENA_NAME(ARENA_ID, mm_memalign)

/* memlib.h: what memlib_sbrk.c defines per heap (the page size and the copies are shared,
   defined once in arena.c) */
#define mem_init ARENA_NAME(ARENA_ID, mem_init)
#define mem_deinit ARENA_NAME(ARENA_ID, mem_deinit)
#define mem_sbrk ARENA_NAME(ARENA_ID, mem_sbrk)
#define mem_reset ARENA_NAME(ARENA_ID, mem_reset)
#define mem_reset_brk ARENA_NAME(ARENA_ID, mem_reset_brk)
#define mem_heap_lo ARENA_NAME(ARENA_ID, mem_heap_lo)
#define mem_heap_hi ARENA_NAME(ARENA_ID, mem_heap_hi)
#define mem_heapsize ARENA_NAME(ARENA_ID, mem_heapsize)
#define mem_clean_from ARENA_NAME(ARENA_ID, mem_clean_from)

#endif /* MALLOCSIM_ARENA_NAMES_H */
