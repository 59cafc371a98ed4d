/*
 * contracts.h - the older CMU handouts' contracts (about F13-S15), which students' mm.c include.
 *
 * ASSERT, REQUIRES and ENSURES check their condition with assert() in the debug build (-DDEBUG,
 * what heap checks build) and are nothing otherwise: the condition is not evaluated. Like the
 * handout's, this header may be included more than once, with DEBUG defined or not; the last
 * inclusion decides. Written for mallocsim from the handout's interface.
 */
#include <assert.h>

#undef ASSERT
#undef REQUIRES
#undef ENSURES

#ifdef DEBUG
#define ASSERT(COND) assert(COND)
#define REQUIRES(COND) assert(COND)
#define ENSURES(COND) assert(COND)
#else
#define ASSERT(COND) ((void)0)
#define REQUIRES(COND) ((void)0)
#define ENSURES(COND) ((void)0)
#endif
