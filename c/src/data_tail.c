/*
 * data_tail.c - the bytes past the end of a loaded library's writable data, watched (see
 * data_tail.h for why). One library per process: the agent's.
 */
#include "data_tail.h"

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Not zero: a file that writes zeros past its array (clearing entries it does not have) is the
   common case. */
enum { TAIL_PATTERN = 0xa5 };

static struct {
    unsigned char *at;
    size_t bytes;
} watched;

/* dl_iterate_phdr's visit: the writable PT_LOAD segment of the object loaded at *base. */
static int find_end(struct dl_phdr_info *info, size_t size, void *base) {
    (void)size;
    if (info->dlpi_addr != *(ElfW(Addr) *)base)
        return 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || !(segment->p_flags & PF_W))
            continue;
        uintptr_t end = (uintptr_t)info->dlpi_addr + segment->p_vaddr + segment->p_memsz;
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        uintptr_t page_end = (end + page - 1) / page * page;
        if (page_end > end) {
            watched.at = (unsigned char *)end;
            watched.bytes = page_end - end;
        }
    }
    return 1;
}

bool data_tail_guard(void *handle) {
    struct link_map *map = NULL;
    if (handle == NULL || dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == NULL)
        return false;
    ElfW(Addr) base = map->l_addr;
    dl_iterate_phdr(find_end, &base);
    if (watched.bytes == 0)
        return false;
    memset(watched.at, TAIL_PATTERN, watched.bytes);
    return true;
}

data_tail_state data_tail_check(void) {
    static unsigned char intact[4096];
    if (intact[0] != TAIL_PATTERN)
        memset(intact, TAIL_PATTERN, sizeof intact);
    data_tail_state state = {watched.bytes, 0, 0};
    if (watched.bytes <= sizeof intact && memcmp(watched.at, intact, watched.bytes) == 0)
        return state; /* the common case, at every op of a checked pass */
    for (size_t i = watched.bytes; i-- > 0;)
        if (watched.at[i] != TAIL_PATTERN) {
            state.changed++;
            state.first = i;
        }
    return state;
}
