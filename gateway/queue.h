/* queue.h -- outgoing messages and the bounded per-connection queue.
 *
 * A message is the final JSON text of one WebSocket frame, built once and
 * shared by reference count between every connection that gets it. The
 * queue holds references; when it is full it replaces or drops instead of
 * growing, so a slow client costs a bounded amount of memory. Pure logic:
 * no sockets, no libwebsockets (tests/unit/test_gateway_queue.c). */

#ifndef IFMON_GATEWAY_QUEUE_H
#define IFMON_GATEWAY_QUEUE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes reserved before each text for the WebSocket frame header that
 * lws_write() writes in place; at least libwebsockets' LWS_PRE (16). */
#define MESSAGE_HEADROOM 32

enum message_kind {
    MESSAGE_DATA,    /* {"channel":...,"data":...}: may be replaced by a newer one */
    MESSAGE_HISTORY, /* {"channel":...,"history":[...]} */
    MESSAGE_REPLY,   /* a reply to a request (ack, list, error) */
};

struct message {
    unsigned refs;
    enum message_kind kind;
    int has_ts;          /* DATA: the collector's `ts` was a number */
    double ts;           /* DATA: `ts`; HISTORY: the newest `ts` of the list */
    char *channel;       /* DATA, HISTORY: the channel (owned); NULL for replies */
    size_t len;          /* bytes of text, without the terminating NUL */
    unsigned char buf[]; /* MESSAGE_HEADROOM bytes, then the text, then NUL */
};

/* A new message with one reference and room for `len` bytes of text
 * (message_text(), NUL-terminated by the caller or left as allocated:
 * zeroed). `channel` is copied; it may be NULL. Aborts when out of memory,
 * like the rest of the gateway's small allocations. */
struct message *message_new(enum message_kind kind, const char *channel, size_t len);

/* A REPLY message holding a copy of `text`. */
struct message *message_from_text(const char *text, size_t len);

static inline char *message_text(struct message *m)
{
    return (char *)m->buf + MESSAGE_HEADROOM;
}

struct message *message_ref(struct message *m);
void message_unref(struct message *m);

/* A ring of message references, at most `max_count` messages and about
 * `max_bytes` of text (one message larger than max_bytes is still
 * accepted into an empty queue). */
struct queue {
    struct message **ring;
    size_t cap;  /* allocated slots (grows up to max_count) */
    size_t head; /* index of the oldest */
    size_t count;
    size_t bytes; /* text bytes queued */
    size_t max_count;
    size_t max_bytes;
};

void queue_init(struct queue *q, size_t max_count, size_t max_bytes);

/* Queue a new reference to `m` (the caller keeps its own). When the queue
 * is full, a DATA message replaces the newest queued DATA message of the
 * same channel in place (a graph wants the newest value and the channel's
 * order is kept); otherwise the oldest messages are dropped until `m`
 * fits. Returns the number of messages replaced or dropped. */
size_t queue_push(struct queue *q, struct message *m);

/* The i-th oldest message (borrowed), or NULL past the end. */
struct message *queue_peek(const struct queue *q, size_t i);

/* Remove the oldest message; the caller owns the returned reference. */
struct message *queue_pop(struct queue *q);

/* Drop everything and free the ring. */
void queue_clear(struct queue *q);

#endif
