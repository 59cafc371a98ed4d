/*
 * labs/cmu/memlib.h - the CMU 15-213 malloc lab's heap (the F20 handout), for a student's
 * unchanged mm.c.
 *
 * Written for mallocsim (not copied from the handout) to declare what that handout's memlib.h
 * declares for the student, with the same types, over mallocsim's simulated heap (the project's
 * memlib.h has the contract). mem_read and mem_write are the handout's dense-mode accessors, plain
 * loads and stores of 0 to 8 bytes, little-endian, zero-extended; mem_memcpy and mem_memset are
 * memcpy and memset; hprobe prints heap bytes to stderr. The handout's mem_init(bool sparse) and
 * mem_deinit are the driver's, not the student's: they are left out.
 */
#ifndef MALLOCSIM_LABS_CMU_MEMLIB_H
#define MALLOCSIM_LABS_CMU_MEMLIB_H

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

void *mem_sbrk(intptr_t incr);
void mem_reset_brk(void);
void *mem_heap_lo(void); /* the heap's first byte */
void *mem_heap_hi(void); /* the heap's last byte */
size_t mem_heapsize(void);
size_t mem_pagesize(void);

uint64_t mem_read(const void *addr, size_t len);
void mem_write(void *addr, uint64_t val, size_t len);
#ifdef __SIZEOF_INT128__
__int128 mem_read128(const void *addr);
void mem_write128(void *addr, __int128 val);
#endif
void *mem_memcpy(void *dst, const void *src, size_t n);
void *mem_memset(void *dst, int c, size_t n);
void *mem_get_max_addr(void); /* one past the last byte the heap may ever reach */
void hprobe(void *ptr, int offset, size_t count);

#endif /* MALLOCSIM_LABS_CMU_MEMLIB_H */
