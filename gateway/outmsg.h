/* outmsg.h -- an outgoing message: the final JSON text of one WebSocket
 * frame, built once and shared by reference count between every
 * connection that gets it, with room before the text for the frame
 * header that lws_write() writes in place.
 *
 * Not here: how a connection queues messages (outqueue.h) and how they
 * are written (client.c). Pure logic, no libwebsockets
 * (tests/unit/test_gateway_outqueue.c). */

#ifndef IFMON_GATEWAY_OUTMSG_H
#define IFMON_GATEWAY_OUTMSG_H

#include <stddef.h>

/* Bytes reserved before each text for the WebSocket frame header that
 * lws_write() writes in place; at least libwebsockets' LWS_PRE (16):
 * client.c asserts it at compile time. */
#define OUTMSG_HEADROOM 32

enum outmsg_kind {
    OUTMSG_DATA,    /* {"channel":...,"data":...}: may be replaced by a newer one */
    OUTMSG_HISTORY, /* {"channel":...,"history":[...]} */
    OUTMSG_REPLY,   /* a reply to a request (ack, list, error) */
    OUTMSG_BATCH,   /* [DATA,DATA,...]: a group's frame (client_group.c), `count` of them */
};

struct outmsg {
    unsigned refs;
    enum outmsg_kind kind;
    unsigned count;      /* messages in the text: 1, or a BATCH's */
    int has_ts;          /* DATA, HISTORY: ts below is set */
    double ts;           /* DATA: the collector's `ts`; HISTORY: the newest `ts` of the list */
    char *channel;       /* DATA, HISTORY: the channel (in buf); NULL for replies */
    size_t len;          /* bytes of text, without the terminating NUL */
    /* OUTMSG_HEADROOM bytes, then the text and a NUL, then the channel
     * and a NUL. */
    unsigned char buf[];
};

/* A new message with one reference and room for `len` bytes of text
 * (outmsg_text(), zeroed; the writer may set len lower afterwards).
 * `channel` is copied, into the same block (one allocation); it may be
 * NULL. Never NULL: running out of memory aborts (util.h). */
struct outmsg *outmsg_new(enum outmsg_kind kind, const char *channel, size_t len);

/* The same with the channel given by its length (clen bytes, no NUL). */
struct outmsg *outmsg_new_channel(enum outmsg_kind kind, const char *channel, size_t clen,
                                  size_t len);

/* A REPLY message holding a copy of `text` (len bytes). */
struct outmsg *outmsg_from_text(const char *text, size_t len);

static inline char *outmsg_text(struct outmsg *m)
{
    return (char *)m->buf + OUTMSG_HEADROOM;
}

/* Take another reference; returns m. */
struct outmsg *outmsg_ref(struct outmsg *m);

/* Drop a reference; the last one frees m. m may be NULL. */
void outmsg_unref(struct outmsg *m);

#endif
