/*
 * data_tail.c - the bytes past the end of the loaded objects' writable data, watched (see
 * data_tail.h for why). One set per process: the agent's.
 */
#include "data_tail.h"

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Not zero: a file that writes zeros past its array (clearing entries it does not have) is the
   common case. */
enum { TAIL_PATTERN = 0xa5, MOST_OBJECTS = 64 };

typedef struct {
    unsigned char *at;
    size_t bytes;
    const char *name; /* the object's path; NULL for the library's own */
} tail;

static struct {
    tail of[MOST_OBJECTS];
    size_t count;
    ElfW(Addr) library; /* where the library is loaded */
} watched;

/* dl_iterate_phdr's visit: the rest of the last page of each object's writable PT_LOAD segment.
   The dynamic loader's own is left alone: its allocator of the start keeps what it hands out
   there. */
static int note_rest(struct dl_phdr_info *info, size_t size, void *unused) {
    (void)size;
    (void)unused;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "/ld-linux") != NULL)
        return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (ElfW(Half) i = 0; i < info->dlpi_phnum && watched.count < MOST_OBJECTS; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || !(segment->p_flags & PF_W))
            continue;
        uintptr_t end = (uintptr_t)info->dlpi_addr + segment->p_vaddr + segment->p_memsz;
        uintptr_t page_end = (end + page - 1) / page * page;
        if (page_end == end)
            continue;
        const char *name = info->dlpi_addr == watched.library ? NULL : info->dlpi_name;
        watched.of[watched.count++] = (tail){(unsigned char *)end, page_end - end, name};
    }
    return 0;
}

bool data_tail_guard(void *handle) {
    struct link_map *map = NULL;
    if (handle == NULL || dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == NULL)
        return false;
    watched.library = map->l_addr;
    dl_iterate_phdr(note_rest, NULL);
    for (size_t i = 0; i < watched.count; i++)
        memset(watched.of[i].at, TAIL_PATTERN, watched.of[i].bytes);
    return watched.count > 0;
}

data_tail_state data_tail_check(void) {
    static unsigned char intact[4096];
    if (intact[0] != TAIL_PATTERN)
        memset(intact, TAIL_PATTERN, sizeof intact);
    for (size_t t = 0; t < watched.count; t++) {
        const tail *rest = &watched.of[t];
        if (rest->bytes <= sizeof intact && memcmp(rest->at, intact, rest->bytes) == 0)
            continue; /* the common case, at every op of a checked pass */
        data_tail_state state = {rest->bytes, 0, 0, rest->name};
        for (size_t i = rest->bytes; i-- > 0;)
            if (rest->at[i] != TAIL_PATTERN) {
                state.changed++;
                state.first = i;
            }
        if (state.changed > 0)
            return state;
    }
    return (data_tail_state){0, 0, 0, NULL};
}
