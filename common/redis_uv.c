/* redis_uv.c -- see redis_uv.h. */

#include "redis_uv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "redis_reply.h"
#include "util.h"

#if HIREDIS_MAJOR == 0
/* Exported by hiredis 0.14 (redisAsyncHandleRead's second half), declared
 * in async.h from 1.0 on. */
void redisProcessCallbacks(redisAsyncContext *ac);
#endif

/* Bytes read from the socket at a time (hiredis' own read size), and
 * bytes handed to hiredis' reader at a time. hiredis moves what is left of
 * its buffer to the front after each reply once 1 KiB of the buffer is
 * parsed, so what it copies grows with the square of what it is given at
 * once. Given a whole 16 KiB read of the gateway's ~350-byte messages, it
 * moves the unparsed rest every third message: about 15 moves of 8 KiB on
 * average, 7 to 8 times the bytes read; given 2 KiB at a time, one or two
 * moves of under 1 KiB. */
#define READ_SIZE (16 * 1024)
#define FEED_SIZE 2048

struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis let go of us */
    uv_poll_t poll;
    uv_timer_t flush; /* writes what was queued, after flush_ms */
    uint64_t flush_ms;
    unsigned reads; /* reads (16 KiB each) per readable event, >= 1 */
    int events;       /* UV_READABLE | UV_WRITABLE currently watched */
    int flushing;     /* inside the flush's redisAsyncHandleWrite() */
    int open_handles; /* freed when both handles are closed */
    redisReader *tap_reader; /* ifmon_redis_uv_set_tap()'s; NULL without */
    int (*tap)(void *ctx, const redisReply *reply);
    void *tap_ctx;
};

/* ------------------------------------------------------------------ tap */

/* The RESP of reply (as hiredis' reader builds it again) into out, when
 * out is not NULL; returns its length. */
static size_t resp_encode(const redisReply *r, char *out)
{
    char head[32];
    size_t n = 0, i;
    int k;

    switch (r->type) {
    case REDIS_REPLY_STRING:
        k = snprintf(head, sizeof(head), "$%zu\r\n", r->len);
        break;
    case REDIS_REPLY_ARRAY:
        k = snprintf(head, sizeof(head), "*%zu\r\n", r->elements);
        break;
    case REDIS_REPLY_INTEGER:
        k = snprintf(head, sizeof(head), ":%lld\r\n", r->integer);
        break;
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        k = snprintf(head, sizeof(head), "%c", r->type == REDIS_REPLY_STATUS ? '+' : '-');
        break;
    default: /* NIL */
        k = snprintf(head, sizeof(head), "$-1\r\n");
        break;
    }
    if (out)
        memcpy(out, head, (size_t)k);
    n = (size_t)k;
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        if (out) {
            memcpy(out + n, r->str, r->len);
            memcpy(out + n + r->len, "\r\n", 2);
        }
        n += r->len + 2;
        break;
    case REDIS_REPLY_ARRAY:
        for (i = 0; i < r->elements; i++)
            n += resp_encode(r->element[i], out ? out + n : NULL);
        break;
    default:
        break;
    }
    return n;
}

/* Give hiredis one reply the tap did not take, and let it run its
 * callback. Returns 0, or -1 when the context is gone. */
static int tap_pass(struct redis_uv *r, const redisReply *reply)
{
    char small[1024], *buf = small;
    size_t n = resp_encode(reply, NULL);

    if (n > sizeof(small))
        buf = ifmon_xmalloc(n); /* an acknowledgement of a long name */
    resp_encode(reply, buf);
    redisReaderFeed(r->ac->c.reader, buf, n);
    if (buf != small)
        free(buf);
    redisProcessCallbacks(r->ac);
    return r->ac ? 0 : -1;
}

/* Offer a message to the tap as hiredis runs a callback. Returns 1 when
 * taken, 0 when not, -1 when the tap freed the context. */
static int tap_offer(struct redis_uv *r, const redisReply *reply)
{
    redisAsyncContext *ac = r->ac;
    int taken;

    if (ac->replies.head != NULL || (ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)))
        return 0;
    ac->c.flags |= REDIS_IN_CALLBACK;
    taken = r->tap(r->tap_ctx, reply);
    ac->c.flags &= ~REDIS_IN_CALLBACK;
    if (ac->c.flags & REDIS_FREEING) {
        redisAsyncFree(ac); /* asked for from the tap: done now, as hiredis does */
        return -1;
    }
    return taken;
}

/* The bytes just read, through the tap. Returns 0, or -1 when the
 * context is gone. */
static int tap_feed(struct redis_uv *r, const char *p, size_t len)
{
    void *reply;
    int rc;

    redisReaderFeed(r->tap_reader, p, len);
    for (;;) {
        if (redisReaderGetReply(r->tap_reader, &reply) != REDIS_OK) {
            /* A protocol error: hiredis' reader takes it and hiredis
             * disconnects, as if it had found it itself. */
            redisReader *hr = r->ac->c.reader;

            hr->err = r->tap_reader->err;
            memcpy(hr->errstr, r->tap_reader->errstr, sizeof(hr->errstr));
            redisProcessCallbacks(r->ac);
            return -1;
        }
        if (reply == NULL)
            break;
        rc = tap_offer(r, reply);
        if (rc == 0)
            rc = tap_pass(r, reply) < 0 ? -1 : 0;
        ifmon_redis_reply_functions.freeObject(reply);
        if (rc < 0)
            return -1;
    }
    /* A disconnection asked for from the tap completes when hiredis sees
     * that nothing is left to read, as it would have. */
    if (r->ac->c.flags & REDIS_DISCONNECTING)
        redisProcessCallbacks(r->ac);
    return r->ac ? 0 : -1;
}

/* redisAsyncHandleRead(), with the read done here and the bytes fed to
 * the reader FEED_SIZE at a time. Returns 1 when the socket may have
 * more. An end of stream or an error is left to hiredis, which reads
 * again, finds it and disconnects as it always does. */
static int read_once(struct redis_uv *r)
{
    static char buf[READ_SIZE]; /* one loop, one thread: emptied before returning */
    redisContext *c = &r->ac->c;
    ssize_t n;
    size_t off, k;

    if (!(c->flags & REDIS_CONNECTED)) {
        redisAsyncHandleRead(r->ac);
        return 0;
    }
    do
        n = read(c->fd, buf, sizeof(buf));
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0) {
        redisAsyncHandleRead(r->ac);
        return 0;
    }
    for (off = 0; off < (size_t)n && r->ac; off += k) {
        k = (size_t)n - off < FEED_SIZE ? (size_t)n - off : FEED_SIZE;
        if (r->tap_reader) {
            if (tap_feed(r, buf + off, k) < 0)
                return 0;
            continue;
        }
        /* A reader in error refuses the bytes; redisProcessCallbacks()
         * then finds the error and disconnects. */
        redisReaderFeed(c->reader, buf + off, k);
        redisProcessCallbacks(r->ac);
    }
    return r->ac != NULL && (size_t)n == sizeof(buf);
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
    struct redis_uv *r = handle->data;

    /* On a poll error let hiredis find the socket error itself. */
    if (status < 0)
        events = r->events;
    if (r->ac && (events & UV_READABLE)) {
        unsigned reads = 0;

        /* Read on while the socket has more, up to r->reads times
         * (redis_uv.h says why). */
        while (read_once(r) && ++reads < r->reads)
            ;
    }
    /* The read may have freed the context (disconnect): r->ac says. */
    if (r->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(r->ac);
}

static void watch(struct redis_uv *r, int events)
{
    if (events == r->events)
        return;
    r->events = events;
    if (events)
        uv_poll_start(&r->poll, events, on_poll);
    else
        uv_poll_stop(&r->poll);
}

static void add_read(void *p)
{
    struct redis_uv *r = p;

    watch(r, r->events | UV_READABLE);
}

static void del_read(void *p)
{
    struct redis_uv *r = p;

    watch(r, r->events & ~UV_READABLE);
}

/* flush_ms after the first command was queued, write everything queued
 * since, at once. The socket is nearly always writable, so waiting for
 * EPOLLOUT cost an epoll_ctl pair each way (libuv changes a watch by DEL
 * + ADD) for every write; and a short delay lets the commands of several
 * responses share one write. */
static void on_flush(uv_timer_t *handle)
{
    struct redis_uv *r = handle->data;

    if (r->ac == NULL)
        return;
    r->flushing = 1;
    redisAsyncHandleWrite(r->ac);
    r->flushing = 0;
}

static void add_write(void *p)
{
    struct redis_uv *r = p;

    /* Until connected, and when a write was partial (hiredis asks again
     * from inside on_flush), wait for the socket to be writable. */
    if (r->flushing || !(r->ac->c.flags & REDIS_CONNECTED)) {
        watch(r, r->events | UV_WRITABLE);
        return;
    }
    if (!uv_is_active((uv_handle_t *)&r->flush))
        uv_timer_start(&r->flush, on_flush, r->flush_ms, 0);
}

static void del_write(void *p)
{
    struct redis_uv *r = p;

    watch(r, r->events & ~UV_WRITABLE);
}

static void on_closed(uv_handle_t *handle)
{
    struct redis_uv *r = handle->data;

    if (--r->open_handles == 0) {
        if (r->tap_reader)
            redisReaderFree(r->tap_reader);
        free(r);
    }
}

static void cleanup(void *p)
{
    struct redis_uv *r = p;

    r->ac = NULL;
    uv_close((uv_handle_t *)&r->poll, on_closed);
    uv_close((uv_handle_t *)&r->flush, on_closed);
}

int ifmon_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop, unsigned flush_ms,
                          unsigned reads)
{
    struct redis_uv *r;

    if (ac->ev.data != NULL)
        return REDIS_ERR;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return REDIS_ERR;
    if (uv_poll_init_socket(loop, &r->poll, ac->c.fd) != 0) {
        free(r);
        return REDIS_ERR;
    }
    uv_timer_init(loop, &r->flush);
    r->flush_ms = flush_ms;
    r->reads = reads ? reads : 1;
    r->open_handles = 2;
    r->ac = ac;
    r->poll.data = r;
    r->flush.data = r;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = r;
    if (ac->c.reader != NULL && ac->c.reader->reply == NULL)
        ac->c.reader->fn = &ifmon_redis_reply_functions;
    return REDIS_OK;
}

int ifmon_redis_uv_set_tap(redisAsyncContext *ac, int (*fn)(void *ctx, const redisReply *reply),
                           void *ctx)
{
    struct redis_uv *r = ac->ev.data;

    if (r == NULL || r->tap_reader != NULL)
        return REDIS_ERR;
    r->tap_reader = redisReaderCreateWithFunctions(&ifmon_redis_reply_functions);
    if (r->tap_reader == NULL)
        return REDIS_ERR;
    r->tap = fn;
    r->tap_ctx = ctx;
    return REDIS_OK;
}
