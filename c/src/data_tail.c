/*
 * data_tail.c - the writable memory no loaded object's variables own, watched (see data_tail.h
 * for why): the rest of each object's last data page, and the main thread's spare static TLS.
 * One set per process: the agent's.
 */
#include "data_tail.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Not zero: a file that writes zeros past its array (clearing entries it does not have) is the
   common case. */
enum { TAIL_PATTERN = 0xa5, MOST_OBJECTS = 64 };

typedef struct {
    unsigned char *at;
    size_t bytes;
    data_tail_owner owner;
    const char *name; /* the object's path (DATA_TAIL_LIBRARY's) */
} tail;

/* The watch's own state, on pages of its own, made read-only once set (data_tail_guard): the
   allocator shares the process, and with this table writable it set the count to 0 and kept its
   state in any page rest, or kept 4 KiB in the pattern compared with (red-team pass 44: 80.0 ->
   100.0 under CMU's rule). The agent's seal refuses making memory writable again, or giving
   the pages back. Aligned as a type, so that its size is whole pages: no other variable shares
   a page made read-only. */
static struct __attribute__((aligned(4096))) {
    unsigned char intact[4096]; /* the pattern, as every watched byte should hold it */
    tail of[MOST_OBJECTS];
    size_t count;
} watched;
_Static_assert(sizeof watched % 4096 == 0, "the watch's table shares no page");

/* One more stretch watched, while the table has room. */
static void watch(void *at, size_t bytes, data_tail_owner owner, const char *name) {
    if (watched.count < MOST_OBJECTS)
        watched.of[watched.count++] = (tail){at, bytes, owner, name};
}

/* dl_iterate_phdr's visit: the rest of the last page of each object's writable PT_LOAD segment,
   the library's own told by its base (*library). The dynamic loader's own is left alone: its
   allocator of the start keeps what it hands out there. */
static int note_rest(struct dl_phdr_info *info, size_t size, void *library) {
    (void)size;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "/ld-linux") != NULL)
        return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    bool own = library != NULL && info->dlpi_addr == *(const ElfW(Addr) *)library;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || !(segment->p_flags & PF_W))
            continue;
        uintptr_t end = (uintptr_t)info->dlpi_addr + segment->p_vaddr + segment->p_memsz;
        uintptr_t page_end = (end + page - 1) / page * page;
        if (page_end != end)
            watch((void *)end, page_end - end, own ? DATA_TAIL_OWN : DATA_TAIL_LIBRARY,
                  own ? NULL : info->dlpi_name);
    }
    return 0;
}

/* Whether `bytes` at `at` are all zero: memory no one has used yet. A stretch found by the C
   library's private figures (the spare static TLS) or by name (msg, _res) is watched only so: a
   C library laid out otherwise, whose figures point at memory in use, is not taken for an
   allocator's state, and no honest file loses a trace to it. */
static bool all_zero(const unsigned char *at, size_t bytes) {
    for (size_t i = 0; i < bytes; i++)
        if (at[i] != 0)
            return false;
    return true;
}

/* The thread-local blocks of the objects loaded, as dl_iterate_phdr reports them. */
typedef struct {
    size_t module[MOST_OBJECTS]; /* each one's TLS module id */
    uintptr_t block[MOST_OBJECTS];
    size_t count;
} tls_blocks;

static int note_block(struct dl_phdr_info *info, size_t size, void *blocks) {
    (void)size;
    tls_blocks *found = blocks;
    if (info->dlpi_tls_modid != 0 && found->count < MOST_OBJECTS) {
        found->module[found->count] = info->dlpi_tls_modid;
        found->block[found->count++] = (uintptr_t)info->dlpi_tls_data;
    }
    return 0;
}

/* The ABI's argument of __tls_get_addr (exported by ld.so, declared by no header). */
typedef struct {
    unsigned long module, offset;
} tls_index;
extern void *__tls_get_addr(tls_index *index);

/* The lowest object's block in the static area [start, end), or end when none is there. A block
   placed there by a dlopen (an object of initial-exec TLS: its DF_STATIC_TLS; a TLS descriptor
   given a static block) is not reported until this thread asks for it, which places it without
   allocating: an mm.c's __thread variable, counted as its global data, was taken for state kept
   in the spare. A dynamic block is allocated by the asking (at the load, not its first use), and
   lies outside the area. */
static uintptr_t lowest_static_block(uintptr_t start, uintptr_t end) {
    tls_blocks found = {.count = 0};
    dl_iterate_phdr(note_block, &found);
    uintptr_t lowest = end;
    for (size_t i = 0; i < found.count; i++) {
        uintptr_t block = found.block[i];
        if (block == 0) /* outside dl_iterate_phdr's lock: it may take ld.so's */
            block = (uintptr_t)__tls_get_addr(&(tls_index){found.module[i], 0});
        if (block >= start && block < lowest)
            lowest = block;
    }
    return lowest;
}

/* The main thread's spare static TLS (x86-64: the TLS blocks lie below the thread descriptor,
   the spare below the lowest block). ld.so reserves about 1.5 KiB more than the objects loaded
   use, for libraries a dlopen may bring that need it: zeroed and writable, and no object's, so
   as uncounted as a page's rest (red-team pass 43: 1 KiB and the list heads kept there, 80.0 ->
   100.0 under CMU's rule). Its size is ld.so's (_dl_get_tls_static_info) less the descriptor's
   (libthread_db's figure): both private to the C library, so where either is missing (another
   libc) nothing is watched. Called once every object is loaded, in the thread that runs the
   allocator. */
static void note_spare_static_tls(void) {
    void (*static_info)(size_t *, size_t *) = NULL;
    void *found = dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
    const uint32_t *descriptor = dlvsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread", "GLIBC_PRIVATE");
    if (found == NULL || descriptor == NULL)
        return;
    memcpy(&static_info, &found, sizeof static_info); /* an object pointer to a function's */
    size_t size = 0, align = 0;
    static_info(&size, &align);
    uintptr_t tp = (uintptr_t)pthread_self();
    if (size <= *descriptor || size - *descriptor > tp)
        return;
    uintptr_t start = tp - (size - *descriptor), lowest = lowest_static_block(start, tp);
    if (lowest > start && all_zero((const unsigned char *)start, lowest - start))
        watch((void *)start, lowest - start, DATA_TAIL_STATIC_TLS, NULL);
}

/* Does the library (its link map) name `symbol` in a relocation: a variable of another object's
   that it uses? Its dynamic section's addresses are absolute once loaded (ld.so relocates them). */
static bool library_names(const struct link_map *map, const char *symbol) {
    ElfW(Addr) table = 0, names = 0, symbols = 0;
    size_t bytes = 0, entry = 0;
    for (const ElfW(Dyn) *d = map != NULL ? map->l_ld : NULL; d != NULL && d->d_tag != DT_NULL;
         d++) {
        if (d->d_tag == DT_RELA || d->d_tag == DT_REL)
            table = d->d_un.d_ptr;
        else if (d->d_tag == DT_RELASZ || d->d_tag == DT_RELSZ)
            bytes = d->d_un.d_val;
        else if (d->d_tag == DT_RELAENT || d->d_tag == DT_RELENT)
            entry = d->d_un.d_val;
        else if (d->d_tag == DT_SYMTAB)
            symbols = d->d_un.d_ptr;
        else if (d->d_tag == DT_STRTAB)
            names = d->d_un.d_ptr;
    }
    if (table == 0 || entry < sizeof(ElfW(Rel)) || symbols == 0 || names == 0)
        return false;
    for (size_t at = 0; at + entry <= bytes; at += entry) {
        const ElfW(Rel) *record = (const ElfW(Rel) *)(table + at); /* a Rela begins as a Rel */
#if __x86_64__
        size_t index = ELF64_R_SYM(record->r_info);
#else
        size_t index = ELF32_R_SYM(record->r_info);
#endif
        const ElfW(Sym) *named = (const ElfW(Sym) *)symbols + index;
        if (index != 0 && strcmp((const char *)names + named->st_name, symbol) == 0)
            return true;
    }
    return false;
}

/* Another object's variable that no count of mm.c's data sees unless mm.c names it: the drivers'
   globals the heap's library defines (driver_globals.c), counted as mm.c's where its library's
   relocations name them (elf.borrowed_data_bytes), and the C library's resolver state, `_res`.
   Found by a symbol table rather than by name, msg kept 1 KiB and the list heads (80.0 -> 100.0
   under CMU's rule), and `_res` through libc's own thread-local pointer to it, with no call of
   the trapped __res_state (red-team pass 44). Where the library does not name one, it is nobody's
   state: watched as a page's rest. */
static void note_unused(const struct link_map *map, const char *name, void *at, size_t bytes) {
    if (at != NULL && bytes > 0 && !library_names(map, name) && all_zero(at, bytes))
        watch(at, bytes, DATA_TAIL_UNUSED, name);
}

/* The variable `name` at `at` (NULL: none), its size by the symbol that defines it there. */
static void note_unused_at(const struct link_map *map, const char *name, void *at) {
    Dl_info found;
    const ElfW(Sym) *symbol = NULL;
    if (at != NULL && dladdr1(at, &found, (void **)&symbol, RTLD_DL_SYMENT) != 0 && symbol != NULL)
        note_unused(map, name, at, symbol->st_size);
}

static void note_unused_variables(const struct link_map *map) {
    note_unused_at(map, "msg", dlsym(RTLD_DEFAULT, "msg"));
    note_unused_at(map, "verbose", dlsym(RTLD_DEFAULT, "verbose"));
    /* The main thread's resolver state: where libc's thread-local pointer to it points (its
       variable, `_res`, has only a compatibility version, which dlsym does not find). */
    void **resolver = dlvsym(RTLD_DEFAULT, "__resp", "GLIBC_PRIVATE");
    note_unused_at(map, "_res", resolver != NULL ? *resolver : NULL);
}

bool data_tail_guard(void *handle) {
    struct link_map *map = NULL; /* none: every object's rest is another library's */
    if (handle == NULL || dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0)
        map = NULL;
    dl_iterate_phdr(note_rest, map != NULL ? &map->l_addr : NULL);
    note_spare_static_tls();
    note_unused_variables(map);
    for (size_t i = 0; i < watched.count; i++)
        memset(watched.of[i].at, TAIL_PATTERN, watched.of[i].bytes);
    memset(watched.intact, TAIL_PATTERN, sizeof watched.intact);
    return mprotect(&watched, sizeof watched, PROT_READ) == 0 && watched.count > 0;
}

data_tail_state data_tail_check(void) {
    /* A guarded process always watches something (libc's page rest, msg): a table that reads as
       empty, or a pattern that is not one, was given back (madvise(MADV_DONTNEED), which the seal
       allows for the engine's own heap: red-team pass 45). */
    if (watched.count == 0 || watched.intact[0] != TAIL_PATTERN)
        return (data_tail_state){sizeof watched, 1, 0, DATA_TAIL_WATCH, NULL};
    for (size_t t = 0; t < watched.count; t++) {
        const tail *rest = &watched.of[t];
        if (rest->bytes <= sizeof watched.intact &&
            memcmp(rest->at, watched.intact, rest->bytes) == 0)
            continue; /* the common case, at every op of a checked pass */
        data_tail_state state = {rest->bytes, 0, 0, rest->owner, rest->name};
        for (size_t i = rest->bytes; i-- > 0;)
            if (rest->at[i] != TAIL_PATTERN) {
                state.changed++;
                state.first = i;
            }
        if (state.changed > 0)
            return state;
    }
    return (data_tail_state){0, 0, 0, DATA_TAIL_OWN, NULL};
}
