/* outqueue.c -- see outqueue.h. The ring starts small and doubles up to
 * its maximum, so ten thousand idle connections cost a few pointers each. */

#include "outqueue.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define OUTQUEUE_INITIAL_CAP 16

void outqueue_init(struct outqueue *q, size_t max_count, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->max_count = max_count ? max_count : 1;
    q->max_bytes = max_bytes;
}

static size_t slot(const struct outqueue *q, size_t i)
{
    return (q->head + i) % q->cap;
}

struct outmsg *outqueue_peek(const struct outqueue *q, size_t i)
{
    return i < q->count ? q->ring[slot(q, i)] : NULL;
}

struct outmsg *outqueue_pop(struct outqueue *q)
{
    struct outmsg *m;

    if (q->count == 0)
        return NULL;
    m = q->ring[q->head];
    q->ring[q->head] = NULL;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->bytes -= m->len;
    return m;
}

static void grow(struct outqueue *q)
{
    size_t ncap = q->cap ? q->cap * 2 : OUTQUEUE_INITIAL_CAP, i;
    struct outmsg **ring;

    if (ncap > q->max_count)
        ncap = q->max_count;
    ring = ifmon_xcalloc(ncap, sizeof(*ring));
    for (i = 0; i < q->count; i++)
        ring[i] = q->ring[slot(q, i)];
    free(q->ring);
    q->ring = ring;
    q->cap = ncap;
    q->head = 0;
}

static int full(const struct outqueue *q, const struct outmsg *m)
{
    if (q->count == 0)
        return 0;
    return q->count >= q->max_count || q->bytes + m->len > q->max_bytes;
}

/* Replace the newest queued DATA message of m's channel; 1 if done. */
static int replace_same_channel(struct outqueue *q, struct outmsg *m)
{
    size_t i = q->count, s;

    if (m->kind != OUTMSG_DATA || m->channel == NULL)
        return 0;
    while (i-- > 0) {
        struct outmsg *old = q->ring[slot(q, i)];

        if (old->kind == OUTMSG_DATA && old->channel && strcmp(old->channel, m->channel) == 0) {
            s = slot(q, i);
            q->bytes = q->bytes - old->len + m->len;
            q->ring[s] = outmsg_ref(m);
            outmsg_unref(old);
            return 1;
        }
    }
    return 0;
}

/* Drop the oldest message; returns how many it held (a batch, several). */
static size_t drop_oldest(struct outqueue *q)
{
    struct outmsg *m = outqueue_pop(q);
    size_t n = m->count;

    outmsg_unref(m);
    return n;
}

size_t outqueue_push(struct outqueue *q, struct outmsg *m)
{
    size_t dropped = 0;

    if (full(q, m)) {
        if (replace_same_channel(q, m)) {
            dropped = 1;
            /* A bigger replacement may still leave the byte cap exceeded. */
            while (q->count > 1 && q->bytes > q->max_bytes)
                dropped += drop_oldest(q);
            return dropped;
        }
        while (full(q, m))
            dropped += drop_oldest(q);
    }
    if (q->count == q->cap)
        grow(q);
    q->ring[slot(q, q->count)] = outmsg_ref(m);
    q->count++;
    q->bytes += m->len;
    return dropped;
}

void outqueue_clear(struct outqueue *q)
{
    while (q->count)
        outmsg_unref(outqueue_pop(q));
    free(q->ring);
    q->ring = NULL;
    q->cap = 0;
    q->head = 0;
}
