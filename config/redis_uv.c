/* redis_uv.c -- see redis_uv.h. */

#include "redis_uv.h"

#include <stdlib.h>

#include <hiredis/hiredis.h>

struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis let go of us */
    uv_poll_t poll;
    int events; /* UV_READABLE | UV_WRITABLE currently watched */
};

static void on_poll(uv_poll_t *handle, int status, int events)
{
    struct redis_uv *r = handle->data;

    /* On a poll error let hiredis find the socket error itself. */
    if (status < 0)
        events = r->events;
    if (r->ac && (events & UV_READABLE))
        redisAsyncHandleRead(r->ac);
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

static void add_write(void *p)
{
    struct redis_uv *r = p;

    watch(r, r->events | UV_WRITABLE);
}

static void del_write(void *p)
{
    struct redis_uv *r = p;

    watch(r, r->events & ~UV_WRITABLE);
}

static void on_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void cleanup(void *p)
{
    struct redis_uv *r = p;

    r->ac = NULL;
    uv_close((uv_handle_t *)&r->poll, on_closed);
}

int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
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
    r->ac = ac;
    r->poll.data = r;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = r;
    return REDIS_OK;
}
