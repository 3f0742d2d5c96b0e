/* client_reply.c -- a connection's replies in the order of its requests
 * (docs/PROTOCOL.md, part 2): a subscribe's acknowledgement waits until
 * Redis has confirmed each of its channels and patterns (fanout.h), an
 * events reply until the gateway's copy of the events can answer
 * (eventlist.h), and every reply after one of them waits behind it in
 * `waiting`. An events request asks the copy only once it is first in
 * line: so its copy is read after every subscribe before it was
 * confirmed, and a client that subscribed to events channels misses no
 * event. The requests themselves are client.c's; the writes
 * client_write.c's. */

#include "client_private.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "eventlist.h"
#include "fanout.h"
#include "history.h"
#include "json_text.h"
#include "outmsg.h"
#include "util.h"

/* A reply message for obj (stolen) with the request's id, if any; NULL
 * when obj is NULL. */
static struct outmsg *reply_message(json_t *obj, json_t *id)
{
    struct outmsg *m = NULL;
    char *text;

    if (obj == NULL)
        return NULL;
    if (id)
        json_object_set(obj, "id", id);
    text = json_dumps(obj, JSON_COMPACT);
    if (text)
        m = outmsg_from_text(text, strlen(text));
    free(text);
    json_decref(obj);
    return m;
}

struct reply_wait *client_wait_append(struct client *c, struct outmsg *reply)
{
    struct reply_wait *w = ifmon_xcalloc(1, sizeof(*w));

    w->reply = reply;
    w->since_ms = client_now_ms(c->cs);
    if (c->waiting_tail)
        c->waiting_tail->next = w;
    else
        c->waiting = w;
    c->waiting_tail = w;
    return w;
}

void client_wait_free_channels(struct reply_wait *w)
{
    size_t i;

    for (i = 0; i < w->nchannels; i++)
        free(w->channels[i]);
    free(w->channels);
    w->channels = NULL;
    w->nchannels = 0;
}

void client_wait_free(struct reply_wait *w)
{
    eventlist_cancel(w->events_wait);
    outmsg_unref(w->reply);
    client_wait_free_channels(w);
    json_decref(w->id);
    free(w);
}

/* Queue a reply now, or behind the replies still waiting (m is stolen). */
void client_reply_in_turn(struct client *c, struct outmsg *m)
{
    if (m == NULL)
        return;
    if (c->waiting) {
        client_wait_append(c, m);
        return;
    }
    client_enqueue(c, m);
    outmsg_unref(m);
}

/* {"op":"error","error":what}: the connection stays open (docs/PROTOCOL.md, part 2). */
struct outmsg *client_error_message(const char *what, json_t *id)
{
    /* A truncated channel name may have cut a UTF-8 sequence: keep what
     * comes before it, which jansson accepts. */
    json_t *s = json_stringn(what, ifmon_utf8_valid_prefix(what, strlen(what)));

    return reply_message(json_pack("{s:s,s:o}", "op", "error", "error", s), id);
}

void client_send_error(struct client *c, const char *what, json_t *id)
{
    client_reply_in_turn(c, client_error_message(what, id));
}

/* {"op":op,"channels":[...],"id":...} for req. */
struct outmsg *client_ack_message(const char *op, const struct client_request *req)
{
    json_t *list = json_array();
    size_t i;

    for (i = 0; i < req->nchannels; i++)
        json_array_append_new(list, json_string(req->channels[i]));
    return reply_message(json_pack("{s:s,s:o}", "op", op, "channels", list), req->id);
}

/* ------------------------------------------------- replies in request order */

static int channel_waits(const struct client *c, const char *channel)
{
    return fanout_peer_has(c->peer, channel) && !fanout_peer_confirmed(c->peer, channel);
}

/* 1 when Redis has confirmed every channel of the waiting subscribe w that
 * the connection still holds (one unsubscribed since needs nothing).
 * Each confirmation of the request's n channels calls this: it goes on
 * from the first channel not yet seen confirmed, and checks all of them
 * again only when it gets to the end (a reconnection to Redis may have
 * taken back a confirmation), so that a request costs O(n), not O(n^2). */
static int subscribe_confirmed(const struct client *c, struct reply_wait *w)
{
    size_t i;

    for (; w->checked < w->nchannels; w->checked++)
        if (channel_waits(c, w->channels[w->checked]))
            return 0;
    for (i = 0; i < w->nchannels; i++)
        if (channel_waits(c, w->channels[i])) {
            w->checked = i;
            return 0;
        }
    return 1;
}

static int events_ready(struct client *c, struct reply_wait *w);

/* Send the waiting replies whose turn has come: from the first, as long as
 * each is ready. A subscribe's acknowledgement is queued before anything
 * of its channels, which it then releases (history first, fanout.h). */
void client_send_waiting(struct client *c)
{
    struct reply_wait *w;
    size_t i;

    while ((w = c->waiting) != NULL) {
        if (w->channels && !subscribe_confirmed(c, w))
            return;
        if (w->events && !events_ready(c, w))
            return;
        c->waiting = w->next;
        if (c->waiting == NULL)
            c->waiting_tail = NULL;
        if (w->reply)
            client_enqueue(c, w->reply);
        if (w->channels) {
            struct history_budget *budget;

            history_bucket_refill(c->history, client_now_ms(c->cs));
            /* No budget: "history": false, live data only. */
            budget = w->history ? history_budget_new(HISTORY_REQUEST_MAX_SAMPLES,
                                                     HISTORY_REQUEST_MAX_BYTES, c->history)
                                : NULL;
            for (i = 0; i < w->nchannels; i++)
                fanout_peer_release(c->peer, w->channels[i], w->request, budget);
            history_budget_unref(budget);
            c->subscribes_waiting--;
        }
        client_wait_free(w);
    }
}

/* eventlist_ready_fn: the read the first waiting reply, an events
 * request, waited for is back. */
static void on_events_read(void *ctx, int available)
{
    struct client *c = ctx;
    struct reply_wait *w = c->waiting;

    IFMON_ASSERT(w != NULL && w->events && w->events_wait != NULL);
    w->events_wait = NULL;
    w->reply = available ? eventlist_reply(c->cs->gw->eventlist, c->lists.grant, w->id)
                         : client_error_message("redis unavailable", w->id);
    client_send_waiting(c);
}

/* The events request w has come to the head of the replies: 1 when its
 * reply is built (from the copy, or an error), 0 while it waits for a
 * read (on_events_read() then sends it). */
static int events_ready(struct client *c, struct reply_wait *w)
{
    struct eventlist *el = c->cs->gw->eventlist;

    if (w->reply)
        return 1;
    if (w->events_wait)
        return 0;
    if (eventlist_current(el)) {
        w->reply = eventlist_reply(el, c->lists.grant, w->id);
        return 1;
    }
    w->events_wait = eventlist_await(el, on_events_read, c);
    if (w->events_wait)
        return 0;
    w->reply = client_error_message("redis unavailable", w->id);
    return 1;
}
