/* queue.c -- see queue.h. The ring starts small and doubles up to its
 * maximum, so ten thousand idle connections cost a few pointers each. */

#include "queue.h"

#include <stdlib.h>
#include <string.h>

#define QUEUE_INITIAL_CAP 16

static void *xalloc(size_t size)
{
    void *p = calloc(1, size);

    if (p == NULL)
        abort();
    return p;
}

/* ------------------------------------------------------------ messages */

struct message *message_new(enum message_kind kind, const char *channel, size_t len)
{
    struct message *m = xalloc(sizeof(*m) + MESSAGE_HEADROOM + len + 1);

    m->refs = 1;
    m->kind = kind;
    m->len = len;
    if (channel) {
        m->channel = strdup(channel);
        if (m->channel == NULL)
            abort();
    }
    return m;
}

struct message *message_from_text(const char *text, size_t len)
{
    struct message *m = message_new(MESSAGE_REPLY, NULL, len);

    memcpy(message_text(m), text, len);
    return m;
}

struct message *message_ref(struct message *m)
{
    m->refs++;
    return m;
}

void message_unref(struct message *m)
{
    if (m == NULL || --m->refs > 0)
        return;
    free(m->channel);
    free(m);
}

/* --------------------------------------------------------------- queue */

void queue_init(struct queue *q, size_t max_count, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->max_count = max_count ? max_count : 1;
    q->max_bytes = max_bytes;
}

static size_t slot(const struct queue *q, size_t i)
{
    return (q->head + i) % q->cap;
}

struct message *queue_peek(const struct queue *q, size_t i)
{
    return i < q->count ? q->ring[slot(q, i)] : NULL;
}

struct message *queue_pop(struct queue *q)
{
    struct message *m;

    if (q->count == 0)
        return NULL;
    m = q->ring[q->head];
    q->ring[q->head] = NULL;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->bytes -= m->len;
    return m;
}

static void grow(struct queue *q)
{
    size_t ncap = q->cap ? q->cap * 2 : QUEUE_INITIAL_CAP, i;
    struct message **ring;

    if (ncap > q->max_count)
        ncap = q->max_count;
    ring = xalloc(ncap * sizeof(*ring));
    for (i = 0; i < q->count; i++)
        ring[i] = q->ring[slot(q, i)];
    free(q->ring);
    q->ring = ring;
    q->cap = ncap;
    q->head = 0;
}

static int full(const struct queue *q, const struct message *m)
{
    if (q->count == 0)
        return 0;
    return q->count >= q->max_count || q->bytes + m->len > q->max_bytes;
}

/* Replace the newest queued DATA message of m's channel; 1 if done. */
static int replace_same_channel(struct queue *q, struct message *m)
{
    size_t i = q->count, s;

    if (m->kind != MESSAGE_DATA || m->channel == NULL)
        return 0;
    while (i-- > 0) {
        struct message *old = q->ring[slot(q, i)];

        if (old->kind == MESSAGE_DATA && old->channel && strcmp(old->channel, m->channel) == 0) {
            s = slot(q, i);
            q->bytes = q->bytes - old->len + m->len;
            q->ring[s] = message_ref(m);
            message_unref(old);
            return 1;
        }
    }
    return 0;
}

size_t queue_push(struct queue *q, struct message *m)
{
    size_t dropped = 0;

    if (full(q, m)) {
        if (replace_same_channel(q, m)) {
            dropped = 1;
            /* A bigger replacement may still leave the byte cap exceeded. */
            while (q->count > 1 && q->bytes > q->max_bytes) {
                message_unref(queue_pop(q));
                dropped++;
            }
            return dropped;
        }
        while (full(q, m)) {
            message_unref(queue_pop(q));
            dropped++;
        }
    }
    if (q->count == q->cap)
        grow(q);
    q->ring[slot(q, q->count)] = message_ref(m);
    q->count++;
    q->bytes += m->len;
    return dropped;
}

void queue_clear(struct queue *q)
{
    while (q->count)
        message_unref(queue_pop(q));
    free(q->ring);
    q->ring = NULL;
    q->cap = 0;
    q->head = 0;
}
