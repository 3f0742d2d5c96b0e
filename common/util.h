/* util.h -- the small things every file of both daemons needs: allocation
 * that cannot fail, the wall clock, and assertions of invariants.
 *
 * Both daemons treat running out of memory for their small, bounded
 * allocations as fatal (like redis' zmalloc): an abort with a message is
 * easier to diagnose than a half-applied state. Allocations whose size an
 * outsider controls are bounded by the caller before they get here. */

#ifndef IFMON_UTIL_H
#define IFMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *ifmon_xmalloc(size_t size);
/* Zeroed; n * size is checked for overflow. n == 0 allocates one element,
 * so the result is never NULL. */
void *ifmon_xcalloc(size_t n, size_t size);
void *ifmon_xrealloc(void *p, size_t size);
/* s must not be NULL. */
char *ifmon_xstrdup(const char *s);
/* The first n bytes of s (which need not be NUL-terminated), NUL added. */
char *ifmon_xstrndup(const char *s, size_t n);

/* CLOCK_REALTIME in seconds, for the `ts` fields of docs/PROTOCOL.md. */
double ifmon_wall_now(void);

/* FNV-1a, 64 bits: a hash of len bytes at p, continuing from h
 * (IFMON_FNV1A_INIT to start), for hash tables. Its bits follow the last
 * bytes closely (names that differ in their last digit fall into a few
 * residues of a small modulus): mix it (ifmon_mix64) before taking one. */
#define IFMON_FNV1A_INIT 1469598103934665603ULL
static inline uint64_t ifmon_fnv1a(uint64_t h, const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

/* The same over a NUL-terminated string. */
static inline uint64_t ifmon_fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* A final mix for a hash (MurmurHash3's fmix64): every bit of the
 * result depends on every bit of h. */
static inline uint64_t ifmon_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* Logs "assertion failed: EXPR (FILE:LINE)" and aborts. */
void ifmon_assert_failed(const char *expr, const char *file, int line) __attribute__((noreturn));

/* An invariant the code relies on (redis' serverAssert): where a comment
 * would say "callers guarantee", say it here instead. Always compiled in:
 * the checks are on cold paths or cost a compare. */
#define IFMON_ASSERT(expr) ((expr) ? (void)0 : ifmon_assert_failed(#expr, __FILE__, __LINE__))

#endif
