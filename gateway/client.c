/* client.c -- see client.h: a connection's requests and replies, its
 * opening and closing, and the set's reload; the outgoing side (queue,
 * frames, writes) is client_write.c.
 *
 * Replies. A subscribe is acknowledged only once Redis has confirmed each
 * of its channels and patterns (fanout.h), and replies go out in the order
 * of the requests (client_reply.c; a list replies on its own, as soon as
 * the inventory's copy can answer it, inventory.h).
 *
 * Cost. Whatever a request asks, what the gateway does for it is bounded
 * before it starts: a subscribe or unsubscribe of more entries than
 * max_channels is refused after its JSON parse, one that would hold more
 * than max_channels, or take the gateway past max_subscriptions or its
 * client's address past max_subscriptions_per_address (addrlimit.h),
 * before anything is looked up or subscribed; the rest is linear in the
 * request (hash sets, and a waiting subscribe's confirmations checked
 * from where the last check stopped). History is bounded per request and
 * per connection (history.h). A message left unfinished, and a
 * connection that holds nothing, are closed after a while. What all the
 * connections' requests, and the release of a closed one's subscriptions,
 * cost one loop iteration is bounded too (client_pace.c). */

#include "client.h"
#include "client_private.h"
#include "sendbatch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "access.h"
#include "addrlimit.h"
#include "client_request.h"
#include "eventlist.h"
#include "fanout.h"
#include "history.h"
#include "inventory.h"
#include "json_text.h"
#include "log.h"
#include "outmsg.h"
#include "outqueue.h"
#include "ratelimit.h"
#include "util.h"

/* The grant of a connection whose token a reload revoked, while it is
 * being closed: no channel but the inventory's. */
static const struct config_token revoked = {0};

/* fanout_deliver_fn */
static void deliver(void *ctx, struct outmsg *m)
{
    client_enqueue(ctx, m);
}

/* Keep what c holds counted against its client's address: after each
 * change of its subscriptions (do_subscribe() checked the limit before). */
static void count_address(struct client *c)
{
    struct addrlimit *addrs = c->cs->gw->addrs;
    size_t held = fanout_peer_count(c->peer);

    if (held > c->addr_held)
        addrlimit_subscribe(addrs, &c->addr, held - c->addr_held, SIZE_MAX);
    else
        addrlimit_unsubscribe(addrs, &c->addr, c->addr_held - held);
    c->addr_held = held;
}

/* fanout_confirmed_fn */
static void on_confirmed(void *ctx)
{
    client_send_waiting(ctx);
}

/* The first waiting subscribe has waited CLIENT_SUBSCRIBE_WAIT_MS: Redis
 * is away. Every subscribe waiting on this connection is refused and
 * undone, the subscriptions it made (not those held before it) removed (a
 * later one may count on a channel an earlier one made), and the replies
 * go out in order. */
static void refuse_waiting(struct client *c)
{
    char err[CLIENT_REQUEST_ERROR_MAX];
    struct reply_wait *w;
    size_t i;

    snprintf(err, sizeof(err),
             "redis unavailable: the subscription was not confirmed within %d s; nothing of "
             "this request is subscribed",
             CLIENT_SUBSCRIBE_WAIT_MS / 1000);
    log_info("refusing %zu subscribe request(s) of a client: redis has not confirmed them in %d ms",
             c->subscribes_waiting, CLIENT_SUBSCRIBE_WAIT_MS);
    client_group_leave(c, 1);
    for (w = c->waiting; w; w = w->next) {
        if (w->channels == NULL)
            continue;
        for (i = 0; i < w->nchannels; i++)
            if (fanout_peer_held_by(c->peer, w->channels[i], w->request))
                fanout_peer_unsubscribe(c->peer, w->channels[i]);
        client_wait_free_channels(w);
        outmsg_unref(w->reply);
        w->reply = client_error_message(err, w->id);
    }
    c->subscribes_waiting = 0;
    count_address(c);
    if (fanout_peer_count(c->peer) == 0 && c->idle_since == 0)
        c->idle_since = client_now_ms(c->cs);
    client_send_waiting(c);
}

static void close_for_policy(struct client *c, const char *reason);

int client_check_deadlines(struct client *c, uint64_t now_ms)
{
    char reason[64];

    if (c->killed)
        return 0;
    if (c->waiting && now_ms - c->waiting->since_ms >= CLIENT_SUBSCRIBE_WAIT_MS)
        refuse_waiting(c);
    if (c->rx_started && now_ms - c->rx_since >= CLIENT_MESSAGE_MS) {
        snprintf(reason, sizeof(reason), "message not finished within %d s",
                 CLIENT_MESSAGE_MS / 1000);
        close_for_policy(c, reason);
        return -1;
    }
    if (fanout_peer_count(c->peer) > 0) {
        c->idle_since = 0;
    } else if (c->idle_since == 0) {
        c->idle_since = now_ms;
    } else if (now_ms - c->idle_since >= CLIENT_IDLE_MS) {
        snprintf(reason, sizeof(reason), "no subscription for %d s", CLIENT_IDLE_MS / 1000);
        close_for_policy(c, reason);
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- "list" */

/* inventory_reply_fn */
static void on_list_reply(void *ctx, struct outmsg *reply, json_t *id)
{
    struct client *c = ctx;
    struct outmsg *m;

    /* A list is answered when the inventory can answer it, not in turn. */
    if (reply) {
        client_enqueue(c, reply);
        return;
    }
    m = client_error_message("redis unavailable", id);
    client_enqueue(c, m);
    outmsg_unref(m);
}

static void do_list(struct client *c, const struct client_request *req)
{
    inventory_list(c->cs->gw->inventory, &c->lists, req->id, on_list_reply, c);
}

/* ------------------------------------------------------------ "events" */

/* Answered in turn, from the copy of the events (client_reply.c). */
static void do_events(struct client *c, const struct client_request *req)
{
    struct reply_wait *w = client_wait_append(c, NULL);

    w->events = 1;
    w->id = json_incref(req->id);
    client_send_waiting(c);
}

/* ------------------------------------------------------------ requests */

static void do_subscribe(struct client *c, const struct client_request *req)
{
    struct gateway *gw = c->cs->gw;
    const struct config_gateway *g = &gw->cfg->gateway;
    int max = g->max_channels;
    size_t i, fresh = 0;
    char err[CLIENT_REQUEST_ERROR_MAX];
    struct reply_wait *w;

    /* The limits first: a request that cannot be granted costs one
     * lookup per entry. */
    for (i = 0; i < req->nchannels; i++)
        fresh += !fanout_peer_has(c->peer, req->channels[i]);
    if (fanout_peer_count(c->peer) + fresh > (size_t)max) {
        snprintf(err, sizeof(err),
                 "too many channels: a connection may hold at most %d channels and patterns "
                 "(it holds %zu)",
                 max, fanout_peer_count(c->peer));
        client_send_error(c, err, req->id);
        return;
    }
    if (fanout_subscriptions(gw->fanout) + fresh > (size_t)g->max_subscriptions) {
        snprintf(err, sizeof(err),
                 "too many subscriptions: the gateway holds at most %d (connection, channel) "
                 "pairs; try again later",
                 g->max_subscriptions);
        client_send_error(c, err, req->id);
        return;
    }
    if (addrlimit_subscriptions(gw->addrs, &c->addr) + fresh >
        (size_t)g->max_subscriptions_per_address) {
        snprintf(err, sizeof(err),
                 "too many subscriptions from this address: at most %d (connection, channel) "
                 "pairs over its connections (it holds %zu)",
                 g->max_subscriptions_per_address, addrlimit_subscriptions(gw->addrs, &c->addr));
        client_send_error(c, err, req->id);
        return;
    }
    for (i = 0; i < req->nchannels; i++) {
        if (!access_channel_permitted(c->lists.grant, req->channels[i], gw->cfg->redis.prefix)) {
            snprintf(err, sizeof(err), "not permitted for this token: %s", req->channels[i]);
            client_send_error(c, err, req->id);
            return;
        }
    }
    if (c->subscribes_waiting >= CLIENT_SUBSCRIBES_WAITING_MAX) {
        snprintf(err, sizeof(err),
                 "too many subscribe requests waiting for redis: at most %d per connection",
                 CLIENT_SUBSCRIBES_WAITING_MAX);
        client_send_error(c, err, req->id);
        return;
    }
    /* Subscribed at once but held (fanout.h); the acknowledgement waits for
     * Redis to confirm every entry, then goes first: history and data
     * follow it in the queue. */
    w = client_wait_append(c, client_ack_message("subscribed", req));
    w->request = ++c->requests;
    w->channels = ifmon_xcalloc(req->nchannels ? req->nchannels : 1, sizeof(*w->channels));
    w->nchannels = req->nchannels;
    w->id = json_incref(req->id);
    w->history = req->history;
    /* Its set changes: out of its group first (client_group.c). */
    client_group_leave(c, 1);
    for (i = 0; i < req->nchannels; i++) {
        w->channels[i] = ifmon_xstrdup(req->channels[i]);
        fanout_peer_subscribe(c->peer, req->channels[i], w->request);
    }
    count_address(c);
    if (req->nchannels)
        c->idle_since = 0;
    c->subscribes_waiting++;
    client_send_waiting(c);
}

static void do_unsubscribe(struct client *c, const struct client_request *req)
{
    size_t i;

    client_group_leave(c, 1);
    for (i = 0; i < req->nchannels; i++)
        fanout_peer_unsubscribe(c->peer, req->channels[i]);
    count_address(c);
    if (fanout_peer_count(c->peer) == 0 && c->idle_since == 0)
        c->idle_since = client_now_ms(c->cs);
    /* Queued after every message of these channels: nothing of them
     * follows the ack. */
    client_reply_in_turn(c, client_ack_message("unsubscribed", req));
}

/* A whole message arrived. 0, or -1 to close the connection. */
static int handle_message(struct client *c)
{
    struct gateway *gw = c->cs->gw;
    struct client_request req;
    char err[CLIENT_REQUEST_ERROR_MAX];

    if (ratelimit_take(&c->rate, client_now_ms(c->cs), CLIENT_RATE, CLIENT_BURST) < 0) {
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
        client_send_error(c, err, NULL);
        return 0;
    }
    if (c->rx_binary) {
        client_send_error(c, "binary frames are not accepted: send JSON in text frames", NULL);
        return 0;
    }
    if (c->rx_too_big) {
        snprintf(err, sizeof(err), "message larger than max_frame (%d bytes)",
                 gw->cfg->gateway.max_frame);
        client_send_error(c, err, NULL);
        return 0;
    }
    if (client_request_parse_max(c->rx ? c->rx : "", c->rx_len, gw->cfg->redis.prefix,
                                 (size_t)gw->cfg->gateway.max_channels, &req, err,
                                 sizeof(err)) < 0) {
        client_send_error(c, err, req.id);
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
    case CLIENT_REQUEST_EVENTS:
        do_events(c, &req);
        break;
    }
    client_request_free(&req);
    return 0;
}

int client_receive(struct client *c, const void *in, size_t len)
{
    size_t max = (size_t)c->cs->gw->cfg->gateway.max_frame;

    if (c->deferred && client_pace_now(c) < 0)
        return -1;
    if (!c->rx_started) {
        c->rx_started = 1;
        c->rx_since = client_now_ms(c->cs);
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
    return client_pace_message(c);
}

int client_handle_rx(struct client *c)
{
    int rc = handle_message(c);

    c->rx_started = 0;
    c->rx_len = 0;
    /* Not kept for the next message: a connection sends a few (its
     * subscriptions) and then mostly listens, and thousands of idle
     * ones would each hold a buffer (1 KiB of the 8.6 per connection). */
    free(c->rx);
    c->rx = NULL;
    c->rx_cap = 0;
    return rc;
}

/* ---------------------------------------------------------- connection */

struct client *client_open(struct client_set *cs, struct lws *wsi, const char *token,
                           const struct config_token *grant, const struct throttle_key *addr)
{
    struct client *c = ifmon_xcalloc(1, sizeof(*c));

    c->cs = cs;
    c->addr = *addr;
    c->wsi = wsi;
    c->fd = lws_get_socket_fd(wsi);
    c->token = token ? ifmon_xstrdup(token) : NULL;
    c->lists.grant = grant;
    c->idle_since = client_now_ms(cs);
    c->history = history_bucket_new();
    c->peer = fanout_peer_new(cs->gw->fanout, deliver, on_confirmed, c);
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
    /* Its subscriptions stay parked: they are released over time
     * (client_pace.c), never delivered again. */
    client_group_leave(c, 0);
    client_unlink_flush(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cs->count--;
    cs->st.connections = cs->count;
    inventory_requests_cancel(&c->lists);
    while (c->waiting) {
        struct reply_wait *w = c->waiting;

        c->waiting = w->next;
        client_wait_free(w);
    }
    client_pace_forget(c);
    addrlimit_unsubscribe(cs->gw->addrs, &c->addr, c->addr_held);
    c->addr_held = 0;
    history_bucket_unref(c->history);
    c->history = NULL;
    outqueue_clear(&c->queue);
    outmsg_unref(c->sending); /* NULL: a batch is submitted within its turn */
    c->sending = NULL;
    free(c->token);
    c->token = NULL;
    free(c->rx);
    c->rx = NULL;
    /* What is queued for it from now on is dropped (client_enqueue). */
    c->killed = 1;
    c->wsi = NULL;
    client_pace_release(c);
}

void client_free_released(struct client *c)
{
    fanout_peer_free(c->peer);
    free(c);
}

struct client_set *client_set_create(struct gateway *gw)
{
    struct client_set *cs = ifmon_xcalloc(1, sizeof(*cs));

    cs->gw = gw;
    client_write_init(cs);
    client_pace_init(cs);
    client_group_init(cs);
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
    client_write_close(cs);
    client_pace_close(cs);
    client_group_close(cs);
}

void client_set_free(struct client_set *cs)
{
    if (cs == NULL)
        return;
    IFMON_ASSERT(cs->head == NULL && cs->count == 0);
    client_pace_free(cs);
    client_write_free(cs);
    free(cs);
}

/* Close c with 1008 (RFC 6455 7.4.1, policy violation) and reason: lws
 * sends the close frame and waits for the answer, as at shutdown (an
 * ASYNC kill would drop the TCP connection without the frame). Nothing
 * more is queued for it meanwhile. c may be freed before this returns. */
static void close_for_policy(struct client *c, const char *reason)
{
    log_info("closing a client: %s", reason);
    c->killed = 1;
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)reason,
                     strlen(reason));
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

size_t client_set_reload(struct client_set *cs)
{
    const struct config *cfg = cs->gw->cfg;
    struct client *c, *next;
    size_t closed = 0;

    /* The views of the inventory cut for the old tokens go with them. */
    inventory_grants_changed(cs->gw->inventory);
    eventlist_grants_changed(cs->gw->eventlist);
    for (c = cs->head; c; c = next) {
        const struct config_token *grant;
        const char *ch;
        size_t i;

        next = c->next; /* close_for_policy() may free c */
        /* Every connection's grant moves to the new configuration: the
         * old one is freed after this. */
        grant = access_token_find(c->token, &cfg->gateway);
        c->lists.grant = grant ? grant : &revoked;
        if (c->killed)
            continue;
        if (grant == NULL) {
            close_for_policy(c, "token no longer valid");
            closed++;
            continue;
        }
        for (i = 0; (ch = fanout_peer_channel(c->peer, i)) != NULL; i++)
            if (!access_channel_permitted(grant, ch, cfg->redis.prefix))
                break;
        if (ch) {
            close_for_policy(c, "token no longer permits a channel it holds");
            closed++;
        }
    }
    if (closed && cs->gw->lws)
        lws_cancel_service(cs->gw->lws);
    return closed;
}

void client_set_stats(const struct client_set *cs, struct client_stats *out)
{
    *out = cs->st;
    out->io_uring = sendbatch_usable(cs->sends);
}

size_t client_set_count(const struct client_set *cs)
{
    return cs->count;
}
