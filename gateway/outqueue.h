/* outqueue.h -- the bounded queue of one WebSocket connection's outgoing
 * messages (docs/PROTOCOL.md, part 2, "Slow clients").
 *
 * The queue holds references to shared messages (outmsg.h); when it is
 * full it replaces or drops instead of growing, so a slow client costs a
 * bounded amount of memory and sees jumps in `seq`, never a growing delay.
 * Not here: when the queue is written (client.c). Pure logic, no sockets
 * (tests/unit/test_gateway_outqueue.c). */

#ifndef IFMON_GATEWAY_OUTQUEUE_H
#define IFMON_GATEWAY_OUTQUEUE_H

#include <stddef.h>

#include "outmsg.h"

/* A ring of message references, at most `max_count` messages and about
 * `max_bytes` of text (one message larger than max_bytes is still
 * accepted into an empty queue). */
struct outqueue {
    struct outmsg **ring;
    size_t cap;  /* allocated slots (grows up to max_count) */
    size_t head; /* index of the oldest */
    size_t count;
    size_t bytes; /* text bytes queued */
    size_t max_count;
    size_t max_bytes;
};

/* An empty queue; nothing is allocated before the first push. */
void outqueue_init(struct outqueue *q, size_t max_count, size_t max_bytes);

/* Queue a new reference to `m` (the caller keeps its own). When the queue
 * is full, a DATA message replaces the newest queued DATA message of the
 * same channel in place (a graph wants the newest value and the channel's
 * order is kept); otherwise the oldest messages are dropped until `m`
 * fits. Returns the number of messages replaced or dropped (a batch,
 * outmsg.h, counts those it holds). */
size_t outqueue_push(struct outqueue *q, struct outmsg *m);

/* The i-th oldest message (borrowed), or NULL past the end. */
struct outmsg *outqueue_peek(const struct outqueue *q, size_t i);

/* Remove the oldest message; the caller owns the returned reference.
 * NULL when the queue is empty. */
struct outmsg *outqueue_pop(struct outqueue *q);

/* Drop everything and free the ring; the queue may be pushed to again. */
void outqueue_clear(struct outqueue *q);

#endif
