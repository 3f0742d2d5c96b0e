/* redis_uv.c -- see redis_uv.h. */

#include "redis_uv.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include <hiredis/hiredis.h>

struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis let go of us */
    uv_poll_t poll;
    uv_timer_t flush; /* writes what was queued, after flush_ms */
    uint64_t flush_ms;
    unsigned reads; /* hiredis reads (16 KiB each) per readable event, >= 1 */
    int events;       /* UV_READABLE | UV_WRITABLE currently watched */
    int flushing;     /* inside the flush's redisAsyncHandleWrite() */
    int open_handles; /* freed when both handles are closed */
};

static void on_poll(uv_poll_t *handle, int status, int events)
{
    struct redis_uv *r = handle->data;

    /* On a poll error let hiredis find the socket error itself. */
    if (status < 0)
        events = r->events;
    if (r->ac && (events & UV_READABLE)) {
        int reads = 0, pending = 0;

        /* hiredis reads 16 KiB at a time; read on while the socket has
         * more, up to r->reads times (redis_uv.h says why). */
        do
            redisAsyncHandleRead(r->ac);
        while (r->ac && (unsigned)++reads < r->reads &&
               ioctl(r->ac->c.fd, FIONREAD, &pending) == 0 && pending > 0);
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

    if (--r->open_handles == 0)
        free(r);
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
    return REDIS_OK;
}
