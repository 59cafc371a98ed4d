/*
 * cxx_new.c - the drop-in's C++ operator new and delete, every form, over its malloc and free.
 *
 * A preloaded malloc that leaves them to the C++ runtime is one a library can split in two: a
 * program linked with libjemalloc had jemalloc's operator new (its own heap) and, through the
 * free symbol its operator delete calls, this library's free, which aborted on the first string
 * freed ("free(): invalid pointer"; nghttp2's h2load and nghttpd, drop-in pass 24). Exported
 * from here they come first in the process's search order, as tcmalloc's and mimalloc's do: a
 * C++ program's every new and delete is this library's, whatever else it links.
 *
 * Guarantees:
 *   - the throwing forms return a block or, as the C++ runtime's do, call the new-handler and
 *     try again while there is one, and throw std::bad_alloc when there is none (through the
 *     C++ runtime's own __throw_bad_alloc: a program that calls operator new has it loaded;
 *     without it, the process aborts with a message);
 *   - the nothrow forms return a block or NULL; they try once and call no new-handler (one that
 *     throws could not be caught here);
 *   - the aligned forms return blocks aligned to their std::align_val_t (memalign's rounding up
 *     to a power of two for any other value, which the standard leaves undefined);
 *   - every operator delete frees its block with free, whatever size or alignment it is told.
 */
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <malloc.h>

/* The C++ names, mangled: size_t is "m", unsigned long, on x86-64 and AArch64. */
_Static_assert(sizeof(size_t) == sizeof(unsigned long), "the names below spell size_t as m");

#define MS_EXPORT __attribute__((visibility("default")))

typedef void (*new_handler_fn)(void);
/* The C++ runtime's (libstdc++), weak: absent in a program that never loaded it. */
__attribute__((weak)) new_handler_fn cxx_get_new_handler(void) __asm__("_ZSt15get_new_handlerv");
__attribute__((weak, noreturn)) void cxx_throw_bad_alloc(void) __asm__("_ZSt17__throw_bad_allocv");

/* No block for a throwing new, and no new-handler left: std::bad_alloc. */
static _Noreturn void out_of_memory(void) {
    if (cxx_throw_bad_alloc != NULL)
        cxx_throw_bad_alloc();
    static const char said[] = "libmallocsim: operator new: out of memory, and no C++ runtime "
                               "to throw std::bad_alloc\n";
    (void)!write(STDERR_FILENO, said, sizeof said - 1);
    abort();
}

/* A block of `size` bytes, aligned to `alignment` when it is not 0; NULL when there is none. */
static void *new_block_nothrow(size_t size, size_t alignment) {
    return alignment != 0 ? memalign(alignment, size) : malloc(size);
}

/* The same, from the first try after which there is no new-handler to call. */
static void *new_block(size_t size, size_t alignment) {
    for (;;) {
        void *p = new_block_nothrow(size, alignment);
        if (p != NULL)
            return p;
        new_handler_fn handler = cxx_get_new_handler != NULL ? cxx_get_new_handler() : NULL;
        if (handler == NULL)
            out_of_memory();
        handler(); /* frees memory, throws, or ends the program */
    }
}

/* std::nothrow_t and std::align_val_t as they are passed: a reference, and a size_t. */
typedef struct nothrow_tag nothrow_tag;

MS_EXPORT void *cxx_new(size_t size) __asm__("_Znwm");
MS_EXPORT void *cxx_new_array(size_t size) __asm__("_Znam");
MS_EXPORT void *cxx_new_nothrow(size_t size, const nothrow_tag *tag) __asm__("_ZnwmRKSt9nothrow_t");
MS_EXPORT void *cxx_new_array_nothrow(size_t size,
                                      const nothrow_tag *tag) __asm__("_ZnamRKSt9nothrow_t");
MS_EXPORT void *cxx_new_aligned(size_t size, size_t alignment) __asm__("_ZnwmSt11align_val_t");
MS_EXPORT void *cxx_new_array_aligned(size_t size,
                                      size_t alignment) __asm__("_ZnamSt11align_val_t");
MS_EXPORT void *
cxx_new_aligned_nothrow(size_t size, size_t alignment,
                        const nothrow_tag *tag) __asm__("_ZnwmSt11align_val_tRKSt9nothrow_t");
MS_EXPORT void *
cxx_new_array_aligned_nothrow(size_t size, size_t alignment,
                              const nothrow_tag *tag) __asm__("_ZnamSt11align_val_tRKSt9nothrow_t");

void *cxx_new(size_t size) { return new_block(size, 0); }
void *cxx_new_array(size_t size) { return new_block(size, 0); }
void *cxx_new_nothrow(size_t size, const nothrow_tag *tag) {
    (void)tag;
    return new_block_nothrow(size, 0);
}
void *cxx_new_array_nothrow(size_t size, const nothrow_tag *tag) {
    (void)tag;
    return new_block_nothrow(size, 0);
}
void *cxx_new_aligned(size_t size, size_t alignment) { return new_block(size, alignment); }
void *cxx_new_array_aligned(size_t size, size_t alignment) { return new_block(size, alignment); }
void *cxx_new_aligned_nothrow(size_t size, size_t alignment, const nothrow_tag *tag) {
    (void)tag;
    return new_block_nothrow(size, alignment);
}
void *cxx_new_array_aligned_nothrow(size_t size, size_t alignment, const nothrow_tag *tag) {
    (void)tag;
    return new_block_nothrow(size, alignment);
}

/* Every delete: the block goes to free, whatever else it is told (its size and alignment, which
   free knows, unused). */
#define DELETE(name, mangled, ...)                                                                 \
    MS_EXPORT void name(void *p, ##__VA_ARGS__) __asm__(mangled);                                  \
    void name(void *p, ##__VA_ARGS__) { free(p); }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"

DELETE(cxx_delete, "_ZdlPv")
DELETE(cxx_delete_array, "_ZdaPv")
DELETE(cxx_delete_sized, "_ZdlPvm", size_t size)
DELETE(cxx_delete_array_sized, "_ZdaPvm", size_t size)
DELETE(cxx_delete_nothrow, "_ZdlPvRKSt9nothrow_t", const nothrow_tag *tag)
DELETE(cxx_delete_array_nothrow, "_ZdaPvRKSt9nothrow_t", const nothrow_tag *tag)
DELETE(cxx_delete_aligned, "_ZdlPvSt11align_val_t", size_t alignment)
DELETE(cxx_delete_array_aligned, "_ZdaPvSt11align_val_t", size_t alignment)
DELETE(cxx_delete_sized_aligned, "_ZdlPvmSt11align_val_t", size_t size, size_t alignment)
DELETE(cxx_delete_array_sized_aligned, "_ZdaPvmSt11align_val_t", size_t size, size_t alignment)
DELETE(cxx_delete_aligned_nothrow, "_ZdlPvSt11align_val_tRKSt9nothrow_t", size_t alignment,
       const nothrow_tag *tag)
DELETE(cxx_delete_array_aligned_nothrow, "_ZdaPvSt11align_val_tRKSt9nothrow_t", size_t alignment,
       const nothrow_tag *tag)
#pragma GCC diagnostic pop
