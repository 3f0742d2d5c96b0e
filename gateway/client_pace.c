/* client_pace.c -- a bound on what the connections' requests, and their
 * closing, cost one loop iteration: every other client waits for the
 * iteration to end (docs/RELIABILITY.md, "The gateway under hostile
 * clients": 1,000 connections subscribing 1,000 channels each held the
 * loop up to 350 ms at a time, and their closing, a million
 * subscriptions released at once, 560 ms, under ASan).
 *
 *  - Requests. Once the requests handled in an iteration have taken
 *    PACE_BUDGET_NS, a connection's next whole message waits for the next
 *    iteration: its reads are paused (lws_rx_flow_control(): lws keeps
 *    what it has read and stops parsing, so at most one message waits per
 *    connection, and its requests keep their order), and a uv_idle handle
 *    handles the waiting ones first thing in the next iteration, oldest
 *    first, within the same budget. A message is never split: one request
 *    is the smallest step (at most max_channels entries, client.c).
 *  - Closing. A closed connection that held more than PACE_RELEASE_AT_ONCE
 *    subscriptions, or any past the budget, keeps its fanout peer (client.c frees the rest at once
 *    and counts nothing against its address any more) while the idle
 *    handle unsubscribes them, PACE_RELEASE_STEP at a time within the
 *    budget; what is published for them meanwhile is dropped (the client
 *    is killed).
 *
 * The budget is time, not a count: the same bound holds for the plain
 * and the sanitized build. A uv_check handle resets it after each
 * iteration's I/O. */

#include <libwebsockets.h>

#include "client_private.h"
#include "fanout.h"
#include "util.h"

/* Work per loop iteration on requests and releases, past which the rest
 * waits: well under the 50 ms p99 lag the gateway is held to. */
#define PACE_BUDGET_NS (8 * 1000 * 1000)
/* A closed connection with at most this many subscriptions releases them
 * at once, within the budget. */
#define PACE_RELEASE_AT_ONCE 128
/* Subscriptions released between two looks at the clock. */
#define PACE_RELEASE_STEP 128

static int over_budget(const struct client_set *cs)
{
    return cs->pace_spent_ns >= PACE_BUDGET_NS;
}

/* Handle c's whole message, counting the time against the budget. */
static int run(struct client *c)
{
    struct client_set *cs = c->cs;
    uint64_t t0 = uv_hrtime();
    int rc = client_handle_rx(c);

    cs->pace_spent_ns += uv_hrtime() - t0;
    return rc;
}

static void unlink_deferred(struct client *c)
{
    struct client_set *cs = c->cs;

    if (c->pace_prev)
        c->pace_prev->pace_next = c->pace_next;
    else
        cs->deferred_head = c->pace_next;
    if (c->pace_next)
        c->pace_next->pace_prev = c->pace_prev;
    else
        cs->deferred_tail = c->pace_prev;
    c->pace_prev = c->pace_next = NULL;
    c->deferred = 0;
}

/* Unsubscribe up to PACE_RELEASE_STEP of c's subscriptions; 1 when none
 * is left (c has been freed). */
static int release_some(struct client *c)
{
    size_t n = fanout_peer_count(c->peer), i;

    for (i = 0; i < PACE_RELEASE_STEP && n > 0; i++, n--)
        fanout_peer_unsubscribe(c->peer, fanout_peer_channel(c->peer, n - 1));
    if (n > 0)
        return 0;
    client_free_released(c);
    return 1;
}

/* uv_check: the next iteration has a budget of its own. */
static void on_check(uv_check_t *h)
{
    struct client_set *cs = h->data;

    cs->pace_spent_ns = 0;
}

/* uv_idle, first in an iteration: the messages that waited, then the
 * releases, within the budget. The idle handle keeps the loop from
 * blocking in poll while anything waits. */
static void on_idle(uv_idle_t *h)
{
    struct client_set *cs = h->data;
    struct client *c;
    int woken = 0;

    while ((c = cs->deferred_head) != NULL && !over_budget(cs)) {
        unlink_deferred(c);
        woken++;
        if (run(c) < 0) {
            /* As lws would on -1 from the RECEIVE callback: close it, with
             * the reason handle_message() set. c may be freed here. */
            c->killed = 1;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
            continue;
        }
        lws_rx_flow_control(c->wsi, 1);
    }
    while ((c = cs->releasing) != NULL && !over_budget(cs)) {
        struct client *next = c->pace_next;
        uint64_t t0 = uv_hrtime();

        if (release_some(c))
            cs->releasing = next;
        cs->pace_spent_ns += uv_hrtime() - t0;
    }
    if (cs->deferred_head == NULL && cs->releasing == NULL)
        uv_idle_stop(h);
    /* lws parses what it holds of a resumed connection from its own idle
     * handle, which it starts only after an event on one of its sockets:
     * give it one (its wake-up pipe), or with no more bytes coming the
     * rest would wait. It also runs the timeouts of those closed above. */
    if (woken && cs->gw->lws)
        lws_cancel_service(cs->gw->lws);
}

void client_pace_init(struct client_set *cs)
{
    uv_check_init(cs->gw->loop, &cs->pace_check);
    cs->pace_check.data = cs;
    uv_check_start(&cs->pace_check, on_check);
    uv_unref((uv_handle_t *)&cs->pace_check); /* never what keeps the loop alive */
    uv_idle_init(cs->gw->loop, &cs->pace_idle);
    cs->pace_idle.data = cs;
}

void client_pace_close(struct client_set *cs)
{
    uv_check_stop(&cs->pace_check);
    uv_close((uv_handle_t *)&cs->pace_check, NULL);
    uv_idle_stop(&cs->pace_idle);
    uv_close((uv_handle_t *)&cs->pace_idle, NULL);
}

void client_pace_free(struct client_set *cs)
{
    struct client *c;

    IFMON_ASSERT(cs->deferred_head == NULL); /* every client was closed */
    while ((c = cs->releasing) != NULL) {
        cs->releasing = c->pace_next;
        client_free_released(c);
    }
}

int client_pace_now(struct client *c)
{
    if (!c->deferred)
        return 0;
    unlink_deferred(c);
    lws_rx_flow_control(c->wsi, 1);
    return run(c);
}

int client_pace_message(struct client *c)
{
    struct client_set *cs = c->cs;

    IFMON_ASSERT(!c->deferred);
    if (!over_budget(cs))
        return run(c);
    lws_rx_flow_control(c->wsi, 0);
    c->deferred = 1;
    c->pace_next = NULL;
    c->pace_prev = cs->deferred_tail;
    if (cs->deferred_tail)
        cs->deferred_tail->pace_next = c;
    else
        cs->deferred_head = c;
    cs->deferred_tail = c;
    uv_idle_start(&cs->pace_idle, on_idle);
    return 0;
}

void client_pace_forget(struct client *c)
{
    if (c->deferred)
        unlink_deferred(c);
}

void client_pace_release(struct client *c)
{
    struct client_set *cs = c->cs;

    uint64_t t0 = uv_hrtime();

    if ((fanout_peer_count(c->peer) <= PACE_RELEASE_AT_ONCE && !over_budget(cs)) ||
        uv_is_closing((uv_handle_t *)&cs->pace_idle)) {
        client_free_released(c);
        cs->pace_spent_ns += uv_hrtime() - t0;
        return;
    }
    c->pace_next = cs->releasing;
    cs->releasing = c;
    uv_idle_start(&cs->pace_idle, on_idle);
}
