/* util.c -- see util.h. */

#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static void out_of_memory(size_t size) __attribute__((noreturn));
static void out_of_memory(size_t size)
{
    ifmon_log_msg(LOG_LEVEL_ERR, "out of memory (allocating %zu bytes)", size);
    abort();
}

void *ifmon_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        out_of_memory(size);
    return p;
}

void *ifmon_xcalloc(size_t n, size_t size)
{
    void *p;

    if (n == 0)
        n = 1;
    if (size && n > SIZE_MAX / size)
        out_of_memory(SIZE_MAX);
    p = calloc(n, size ? size : 1);
    if (p == NULL)
        out_of_memory(n * size);
    return p;
}

void *ifmon_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);

    if (q == NULL)
        out_of_memory(size);
    return q;
}

char *ifmon_xstrndup(const char *s, size_t n)
{
    char *d = ifmon_xmalloc(n + 1);

    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ifmon_xstrdup(const char *s)
{
    return ifmon_xstrndup(s, strlen(s));
}

double ifmon_wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ifmon_assert_failed(const char *expr, const char *file, int line)
{
    ifmon_log_msg(LOG_LEVEL_ERR, "assertion failed: %s (%s:%d)", expr, file, line);
    abort();
}
