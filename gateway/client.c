/* client.c -- see client.h.
 *
 * Writes. Messages for a client are queued as they come (from Redis, or as
 * replies); at the end of the loop iteration (a uv_check handle, after all
 * I/O callbacks) each client with something queued is written at once, its
 * samples batched into one frame, without first asking libwebsockets for
 * writability. That round trip (lws_callback_on_writable, then the
 * WRITEABLE callback) costs libuv four epoll_ctl per delivery, as
 * uv_poll_start re-registers the descriptor each time: a third of the
 * gateway's CPU at 100,000 deliveries/s (docs/BENCHMARKS.md).
 *
 * Writing outside the WRITEABLE callback is safe for what this gateway
 * serves, HTTP/1.1 WebSocket without extensions or TLS, when lws holds no
 * unsent bytes for the connection (lws_partial_buffered() is 0): lws_write()
 * then frames the message and sends it; what the socket does not take lws
 * keeps and sends first, and asks for writability itself. Whenever lws holds
 * bytes, or the peer has started closing, we fall back to the lws rule:
 * request writability and write one frame per WRITEABLE callback, so lws
 * never has to append behind a partial frame (which 4.1 would mis-frame). */

#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "access.h"
#include "client_request.h"
#include "fanout.h"
#include "inventory.h"
#include "json_text.h"
#include "log.h"
#include "outmsg.h"
#include "outqueue.h"
#include "ratelimit.h"
#include "util.h"

#define STALL_CHECK_MS 1000
/* The receive buffer is kept between messages up to this size. */
#define RX_KEEP 4096

_Static_assert(LWS_PRE <= OUTMSG_HEADROOM, "OUTMSG_HEADROOM must cover LWS_PRE");

struct client {
    struct client_set *cs;
    struct lws *wsi;
    struct client *prev, *next;
    struct fanout_peer *peer;
    struct outqueue queue;
    uint64_t waiting_since; /* ms: data queued and nothing written since */
    int killed;
    /* The message being received (lws hands it over in pieces). */
    char *rx;
    size_t rx_len, rx_cap;
    int rx_started, rx_binary, rx_too_big;
    struct ratelimit rate;
    struct inventory_requests lists;  /* "list" requests in flight */
    const struct config_token *grant; /* what this connection may see */
    int closing;                      /* the peer sent a close frame */
    int flush_pending;                /* on cs->flush_head */
    int want_writable;                /* lws_callback_on_writable() asked */
    struct client *flush_prev, *flush_next;
};

struct client_set {
    struct gateway *gw;
    struct client *head;
    size_t count;
    struct client_stats st;
    uv_timer_t stall_timer;
    uv_check_t flush_check;    /* writes queued messages after each loop iteration */
    struct client *flush_head; /* clients with something queued to write */
    unsigned char *batch;      /* LWS_PRE + CLIENT_BATCH_MAX_BYTES, for array frames */
};

static uint64_t now_ms(const struct client_set *cs)
{
    return uv_now(cs->gw->loop);
}

/* -------------------------------------------------------------- output */

static void flush_clients(uv_check_t *h);

static void request_writable(struct client *c)
{
    c->want_writable = 1;
    lws_callback_on_writable(c->wsi);
}

/* Queue m; it is written when this loop iteration's I/O is done
 * (flush_clients), or in the WRITEABLE callback already asked for. */
static void enqueue(struct client *c, struct outmsg *m)
{
    struct client_set *cs = c->cs;

    if (c->killed)
        return;
    cs->st.dropped += outqueue_push(&c->queue, m);
    if (c->waiting_since == 0)
        c->waiting_since = now_ms(cs);
    if (c->want_writable || c->flush_pending)
        return;
    if (c->closing) {
        request_writable(c);
        return;
    }
    c->flush_pending = 1;
    c->flush_prev = NULL;
    c->flush_next = cs->flush_head;
    if (cs->flush_head)
        cs->flush_head->flush_prev = c;
    else
        uv_check_start(&cs->flush_check, flush_clients);
    cs->flush_head = c;
}

/* fanout_deliver_fn */
static void deliver(void *ctx, struct outmsg *m)
{
    enqueue(ctx, m);
}

static void enqueue_text(struct client *c, const char *text, size_t len)
{
    struct outmsg *m = outmsg_from_text(text, len);

    enqueue(c, m);
    outmsg_unref(m);
}

/* Send obj (a reply object; stolen) with the request's id, if any. */
static void send_reply(struct client *c, json_t *obj, json_t *id)
{
    char *text;

    if (obj == NULL)
        return;
    if (id)
        json_object_set(obj, "id", id);
    text = json_dumps(obj, JSON_COMPACT);
    if (text)
        enqueue_text(c, text, strlen(text));
    free(text);
    json_decref(obj);
}

/* {"op":"error","error":what}: the connection stays open (docs/PROTOCOL.md, part 2). */
static void send_error(struct client *c, const char *what, json_t *id)
{
    /* A truncated channel name may have cut a UTF-8 sequence: keep what
     * comes before it, which jansson accepts. */
    json_t *s = json_stringn(what, ifmon_utf8_valid_prefix(what, strlen(what)));

    send_reply(c, json_pack("{s:s,s:o}", "op", "error", "error", s), id);
}

static void send_ack(struct client *c, const char *op, const struct client_request *req)
{
    json_t *list = json_array();
    size_t i;

    for (i = 0; i < req->nchannels; i++)
        json_array_append_new(list, json_string(req->channels[i]));
    send_reply(c, json_pack("{s:s,s:o}", "op", op, "channels", list), req->id);
}

/* -------------------------------------------------------------- "list" */

/* inventory_reply_fn */
static void on_list_reply(void *ctx, const char *reply, size_t len, json_t *id)
{
    struct client *c = ctx;

    if (reply == NULL)
        send_error(c, "redis unavailable", id);
    else
        enqueue_text(c, reply, len);
}

static void do_list(struct client *c, const struct client_request *req)
{
    inventory_list(c->cs->gw->inventory, &c->lists, c->grant, req->id, on_list_reply, c);
}

/* ------------------------------------------------------------ requests */

static void do_subscribe(struct client *c, const struct client_request *req)
{
    int max = c->cs->gw->cfg->gateway.max_channels;
    size_t i, fresh = 0;
    char err[CLIENT_REQUEST_ERROR_MAX];

    for (i = 0; i < req->nchannels; i++) {
        if (!access_channel_permitted(c->grant, req->channels[i], c->cs->gw->cfg->redis.prefix)) {
            snprintf(err, sizeof(err), "not permitted for this token: %s", req->channels[i]);
            send_error(c, err, req->id);
            return;
        }
        fresh += !fanout_peer_has(c->peer, req->channels[i]);
    }
    if (fanout_peer_count(c->peer) + fresh > (size_t)max) {
        snprintf(err, sizeof(err),
                 "too many channels: a connection may hold at most %d channels and patterns "
                 "(it holds %zu)",
                 max, fanout_peer_count(c->peer));
        send_error(c, err, req->id);
        return;
    }
    /* The ack goes first: history and data follow it in the queue. */
    send_ack(c, "subscribed", req);
    for (i = 0; i < req->nchannels; i++)
        fanout_peer_subscribe(c->peer, req->channels[i]);
}

static void do_unsubscribe(struct client *c, const struct client_request *req)
{
    size_t i;

    for (i = 0; i < req->nchannels; i++)
        fanout_peer_unsubscribe(c->peer, req->channels[i]);
    /* Queued after every message of these channels: nothing of them
     * follows the ack. */
    send_ack(c, "unsubscribed", req);
}

/* A whole message arrived. 0, or -1 to close the connection. */
static int handle_message(struct client *c)
{
    struct gateway *gw = c->cs->gw;
    struct client_request req;
    char err[CLIENT_REQUEST_ERROR_MAX];

    if (ratelimit_take(&c->rate, now_ms(c->cs), CLIENT_RATE, CLIENT_BURST) < 0) {
        if (c->rate.over > CLIENT_FLOOD_MAX) {
            static const char reason[] = "request flood";

            log_info("closing a client: more than %d requests over the rate limit",
                     CLIENT_FLOOD_MAX);
            /* RFC 6455 7.4.1: 1008, a message that violates its policy. */
            lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)reason,
                             sizeof(reason) - 1);
            return -1;
        }
        snprintf(err, sizeof(err), "rate limit exceeded: at most %.0f requests per second",
                 CLIENT_RATE);
        send_error(c, err, NULL);
        return 0;
    }
    if (c->rx_binary) {
        send_error(c, "binary frames are not accepted: send JSON in text frames", NULL);
        return 0;
    }
    if (c->rx_too_big) {
        snprintf(err, sizeof(err), "message larger than max_frame (%d bytes)",
                 gw->cfg->gateway.max_frame);
        send_error(c, err, NULL);
        return 0;
    }
    if (client_request_parse(c->rx ? c->rx : "", c->rx_len, gw->cfg->redis.prefix, &req, err,
                             sizeof(err)) < 0) {
        send_error(c, err, req.id);
        client_request_free(&req);
        return 0;
    }
    switch (req.op) {
    case CLIENT_REQUEST_SUBSCRIBE:
        do_subscribe(c, &req);
        break;
    case CLIENT_REQUEST_UNSUBSCRIBE:
        do_unsubscribe(c, &req);
        break;
    case CLIENT_REQUEST_LIST:
        do_list(c, &req);
        break;
    }
    client_request_free(&req);
    return 0;
}

int client_receive(struct client *c, const void *in, size_t len)
{
    size_t max = (size_t)c->cs->gw->cfg->gateway.max_frame;
    int rc;

    if (!c->rx_started) {
        c->rx_started = 1;
        c->rx_len = 0;
        c->rx_binary = lws_frame_is_binary(c->wsi);
        c->rx_too_big = 0;
    }
    /* Fragments (RFC 6455 5.4) and lws' own chunking both arrive here:
     * the limit is on the whole message, and what is over it is dropped
     * as it comes, never buffered. */
    if (!c->rx_binary && !c->rx_too_big) {
        if (c->rx_len + len > max) {
            c->rx_too_big = 1;
        } else {
            if (c->rx_len + len + 1 > c->rx_cap) {
                size_t ncap = c->rx_cap ? c->rx_cap : 1024;

                while (ncap < c->rx_len + len + 1)
                    ncap *= 2;
                c->rx = ifmon_xrealloc(c->rx, ncap);
                c->rx_cap = ncap;
            }
            memcpy(c->rx + c->rx_len, in, len);
            c->rx_len += len;
        }
    }
    if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi) > 0)
        return 0;
    rc = handle_message(c);
    c->rx_started = 0;
    c->rx_len = 0;
    if (c->rx_cap > RX_KEEP) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    return rc;
}

/* --------------------------------------------------------------- write */

static int batchable(const struct outmsg *m, size_t used)
{
    return m && m->kind == OUTMSG_DATA && used + m->len + 2 <= CLIENT_BATCH_MAX_BYTES;
}

/* Write the frame at the head of c's queue: one message, or the samples
 * that follow each other up to CLIENT_BATCH_MAX_BYTES as a JSON array.
 * Returns 0, or -1 when the socket failed. */
static int write_frame(struct client *c)
{
    struct client_set *cs = c->cs;
    struct outmsg *m = outqueue_peek(&c->queue, 0);
    unsigned char *out;
    size_t len, count = 0;
    int n;

    if (!batchable(m, 1) || !batchable(outqueue_peek(&c->queue, 1), 1 + m->len)) {
        /* One message: written from the shared buffer itself; lws_write()
         * puts the frame header in the headroom before it and copies only
         * what the socket did not take. */
        out = (unsigned char *)outmsg_text(m);
        len = m->len;
        n = lws_write(c->wsi, out, len, LWS_WRITE_TEXT);
        outmsg_unref(outqueue_pop(&c->queue));
        count = 1;
    } else {
        /* Several samples: one frame holding a JSON array of them. */
        out = cs->batch + LWS_PRE;
        len = 0;
        out[len++] = '[';
        while ((m = outqueue_peek(&c->queue, 0)) != NULL && batchable(m, len)) {
            if (count)
                out[len++] = ',';
            memcpy(out + len, outmsg_text(m), m->len);
            len += m->len;
            outmsg_unref(outqueue_pop(&c->queue));
            count++;
        }
        out[len++] = ']';
        n = lws_write(c->wsi, out, len, LWS_WRITE_TEXT);
    }
    if (n < (int)len) {
        log_debug("client: write failed (%d of %zu bytes)", n, len);
        return -1;
    }
    cs->st.messages_out += count;
    c->waiting_since = c->queue.count ? now_ms(cs) : 0;
    return 0;
}

int client_writeable(struct client *c)
{
    c->want_writable = 0;
    if (c->killed)
        return -1;
    if (c->queue.count == 0)
        return 0;
    if (write_frame(c) < 0)
        return -1;
    if (c->queue.count)
        request_writable(c);
    return 0;
}

/* uv_check: after this iteration's I/O callbacks, write what was queued
 * for each client while lws holds nothing unsent for it (see the top of
 * this file); leave the rest to the WRITEABLE callback. */
static void flush_clients(uv_check_t *h)
{
    struct client_set *cs = h->data;
    struct client *c;
    int failed = 0;

    while ((c = cs->flush_head) != NULL) {
        cs->flush_head = c->flush_next;
        if (cs->flush_head)
            cs->flush_head->flush_prev = NULL;
        c->flush_next = NULL;
        c->flush_pending = 0;
        if (c->killed || c->want_writable)
            continue;
        while (c->queue.count && !c->closing && !lws_partial_buffered(c->wsi)) {
            if (write_frame(c) < 0) {
                /* lws closes a connection only from its own callbacks:
                 * let the next one do it. */
                c->killed = 1;
                failed++;
                lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
                break;
            }
        }
        if (c->queue.count && !c->killed)
            request_writable(c);
    }
    uv_check_stop(h);
    if (failed && cs->gw->lws)
        lws_cancel_service(cs->gw->lws);
}

/* ---------------------------------------------------------- connection */

struct client *client_open(struct client_set *cs, struct lws *wsi, const struct config_token *grant)
{
    struct client *c = ifmon_xcalloc(1, sizeof(*c));

    c->cs = cs;
    c->wsi = wsi;
    c->grant = grant;
    c->peer = fanout_peer_new(cs->gw->fanout, deliver, c);
    outqueue_init(&c->queue, CLIENT_QUEUE_MAX, CLIENT_QUEUE_MAX_BYTES);
    c->next = cs->head;
    if (cs->head)
        cs->head->prev = c;
    cs->head = c;
    cs->count++;
    cs->st.connections = cs->count;
    return c;
}

void client_peer_closing(struct client *c)
{
    c->closing = 1;
}

void client_close(struct client *c)
{
    struct client_set *cs;

    if (c == NULL)
        return;
    cs = c->cs;
    if (c->flush_pending) {
        if (c->flush_prev)
            c->flush_prev->flush_next = c->flush_next;
        else
            cs->flush_head = c->flush_next;
        if (c->flush_next)
            c->flush_next->flush_prev = c->flush_prev;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cs->count--;
    cs->st.connections = cs->count;
    inventory_requests_cancel(&c->lists);
    fanout_peer_free(c->peer);
    outqueue_clear(&c->queue);
    free(c->rx);
    free(c);
}

/* A reader that stopped: its socket buffer and queue are full and lws has
 * not let us write for CLIENT_STALL_MS. Waiting longer only delays its
 * data further; close it so that it reconnects and starts afresh. */
static void on_stall_timer(uv_timer_t *t)
{
    struct client_set *cs = t->data;
    uint64_t now = now_ms(cs);
    struct client *c;
    int killed = 0;

    for (c = cs->head; c; c = c->next) {
        static const char reason[] = "not reading";

        if (c->killed || c->waiting_since == 0 || now - c->waiting_since < CLIENT_STALL_MS)
            continue;
        log_info("closing a client that has not read for %llu ms (%zu messages queued)",
                 (unsigned long long)(now - c->waiting_since), c->queue.count);
        c->killed = 1;
        killed++;
        cs->st.stalled++;
        /* RFC 6455 7.4.1: 1008 policy violation, though the close frame
         * rarely gets through a socket that is full: the TCP connection is
         * dropped at once (an lws timeout closes without flushing). */
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)reason,
                         sizeof(reason) - 1);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    /* lws runs its timers only after servicing a socket: wake it up, or an
     * otherwise idle gateway would keep the connection. */
    if (killed && cs->gw->lws)
        lws_cancel_service(cs->gw->lws);
}

struct client_set *client_set_create(struct gateway *gw)
{
    struct client_set *cs = ifmon_xcalloc(1, sizeof(*cs));

    cs->gw = gw;
    cs->batch = ifmon_xcalloc(1, LWS_PRE + CLIENT_BATCH_MAX_BYTES);
    uv_timer_init(gw->loop, &cs->stall_timer);
    cs->stall_timer.data = cs;
    uv_timer_start(&cs->stall_timer, on_stall_timer, STALL_CHECK_MS, STALL_CHECK_MS);
    uv_check_init(gw->loop, &cs->flush_check);
    cs->flush_check.data = cs;
    return cs;
}

void client_set_shutdown(struct client_set *cs)
{
    struct client *c, *next;

    for (c = cs->head; c; c = next) {
        static const char reason[] = "gateway stopping";

        next = c->next; /* the close below frees c */
        /* RFC 6455 7.4.1: 1001, the endpoint is going away. lws sends the
         * close frame and waits for the peer's before dropping TCP. */
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)reason,
                         sizeof(reason) - 1);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    }
}

void client_set_close(struct client_set *cs)
{
    uv_timer_stop(&cs->stall_timer);
    uv_close((uv_handle_t *)&cs->stall_timer, NULL);
    uv_check_stop(&cs->flush_check);
    uv_close((uv_handle_t *)&cs->flush_check, NULL);
}

void client_set_free(struct client_set *cs)
{
    if (cs == NULL)
        return;
    IFMON_ASSERT(cs->head == NULL && cs->count == 0);
    free(cs->batch);
    free(cs);
}

void client_set_stats(const struct client_set *cs, struct client_stats *out)
{
    *out = cs->st;
}

size_t client_set_count(const struct client_set *cs)
{
    return cs->count;
}
