/* client_group.c -- connections that hold the same channels share their
 * frames.
 *
 * Viewers of the same sites hold the same set of channels. The fan-out
 * groups their peers (fanout.h, fanout_peer_join()) and hands each message
 * to the group once; here a group gathers its messages as one connection
 * would (until the end of the loop iteration, or of its flush window with
 * gateway.flush_ms), builds one frame of them, and queues that same frame
 * for every member: the work per message and connection, most of the
 * gateway's own, becomes work per message and group.
 *
 * What a member sees does not change. Messages keep their order; a reply
 * or any other message queued for a member while its group gathers
 * takes the member's share of what was gathered along first, as its own
 * queue would (client_group_catch_up()); a connection that joins while its
 * group gathers gets only what comes after it (c->group_from). A member
 * leaves its group before its subscriptions change (its share of what was
 * gathered goes to its own queue, then its subscriptions reach it alone
 * again), when it closes, and at the once-a-second check when it has
 * fallen behind (something still queued, or waiting for writability), so that
 * a slow reader gets its own queue's rules (outqueue.h: the newest
 * sample of a channel replaces an older one) within a second. The same
 * check lets a connection whose subscriptions are all live join.
 *
 * A group's frame is bounded like a connection's: it is queued as soon as
 * it would pass CLIENT_BATCH_MAX_BYTES or CLIENT_QUEUE_MAX / 2 messages. */

#include <stdlib.h>
#include <string.h>

#include "client_private.h"
#include "fanout.h"
#include "util.h"

struct client_group {
    struct client_set *cs;
    struct client **members;
    size_t nmembers, members_cap;
    struct outmsg **pending; /* gathered, oldest first */
    size_t npending, pending_cap;
    size_t used;   /* bytes of the frame "[a,b,...]" they would make */
    int scheduled; /* on cs->group_head's list */
    uint64_t due;  /* ms: when its frame is queued */
    struct client_group *prev, *next;
};

static void on_group_timer(uv_timer_t *t);

static void unschedule(struct client_group *g)
{
    struct client_set *cs = g->cs;

    if (!g->scheduled)
        return;
    if (g->prev)
        g->prev->next = g->next;
    else
        cs->group_head = g->next;
    if (g->next)
        g->next->prev = g->prev;
    else
        cs->group_tail = g->prev;
    g->prev = g->next = NULL;
    g->scheduled = 0;
}

/* Gathering starts: the frame is due at the end of this iteration, or of
 * the window. Windows open in order, so the list is in order of their
 * ends (as the connections' own, client_write.c). */
static void schedule(struct client_group *g)
{
    struct client_set *cs = g->cs;
    unsigned window = (unsigned)cs->gw->cfg->gateway.flush_ms;

    g->due = client_now_ms(cs) + window;
    g->scheduled = 1;
    g->next = NULL;
    g->prev = cs->group_tail;
    if (cs->group_tail) {
        cs->group_tail->next = g;
    } else {
        cs->group_head = g;
        if (window)
            uv_timer_start(&cs->group_timer, on_group_timer, window, 0);
    }
    cs->group_tail = g;
    if (window == 0)
        client_write_soon(cs);
}

static void drop_pending(struct client_group *g)
{
    size_t i;

    for (i = 0; i < g->npending; i++)
        outmsg_unref(g->pending[i]);
    g->npending = 0;
    g->used = 0;
}

/* Queue the frame of what was gathered for every member: one message as
 * it is, more as one array, built once. */
static void group_flush(struct client_group *g)
{
    struct outmsg *frame;
    size_t i, j;
    char *p;

    unschedule(g);
    if (g->npending == 0)
        return;
    if (g->npending == 1) {
        frame = outmsg_ref(g->pending[0]);
    } else {
        frame = outmsg_new(OUTMSG_BATCH, NULL, g->used);
        frame->count = (unsigned)g->npending;
        p = outmsg_text(frame);
        *p++ = '[';
        for (i = 0; i < g->npending; i++) {
            if (i)
                *p++ = ',';
            memcpy(p, outmsg_text(g->pending[i]), g->pending[i]->len);
            p += g->pending[i]->len;
        }
        *p = ']';
    }
    for (i = 0; i < g->nmembers; i++) {
        struct client *c = g->members[i];

        if (i + 2 < g->nmembers)
            __builtin_prefetch(g->members[i + 2]);
        if (c->group_from == 0) {
            client_enqueue_now(c, frame);
            continue;
        }
        for (j = c->group_from; j < g->npending; j++)
            client_enqueue_now(c, g->pending[j]);
        c->group_from = 0;
    }
    outmsg_unref(frame);
    drop_pending(g);
}

/* fanout_deliver_fn: a message for every member. */
static void group_deliver(void *ctx, struct outmsg *m)
{
    struct client_group *g = ctx;

    if (g->npending > 0 && g->used + 1 + m->len > CLIENT_BATCH_MAX_BYTES)
        group_flush(g);
    if (g->npending == g->pending_cap) {
        g->pending_cap = g->pending_cap ? g->pending_cap * 2 : 16;
        g->pending = ifmon_xrealloc(g->pending, g->pending_cap * sizeof(*g->pending));
    }
    g->pending[g->npending++] = outmsg_ref(m);
    g->used += m->len + (g->npending == 1 ? 2 : 1);
    if (!g->scheduled)
        schedule(g);
    if (g->npending >= CLIENT_QUEUE_MAX / 2 || g->used >= CLIENT_BATCH_MAX_BYTES)
        group_flush(g);
}

static void group_free(struct client_group *g)
{
    struct client_set *cs = g->cs;

    unschedule(g);
    drop_pending(g);
    free(g->pending);
    free(g->members);
    free(g);
    cs->ngroups--;
}

void client_groups_due(struct client_set *cs)
{
    uint64_t now = client_now_ms(cs);

    while (cs->group_head && cs->group_head->due <= now)
        group_flush(cs->group_head);
}

/* The windows that ended: their frames are queued and written now (see
 * on_window_timer() in client_write.c for why not at the next check). */
static void on_group_timer(uv_timer_t *t)
{
    struct client_set *cs = t->data;
    uint64_t now = client_now_ms(cs);

    client_groups_due(cs);
    if (cs->group_head)
        uv_timer_start(t, on_group_timer, cs->group_head->due - now, 0);
    client_write_flush(cs);
}

void client_group_join(struct client *c)
{
    struct client_set *cs = c->cs;
    struct fanout_group *fg;
    struct client_group *g;

    if (c->group)
        return;
    fg = fanout_peer_join(c->peer);
    if (fg == NULL)
        return;
    g = fanout_group_ctx(fg);
    if (g == NULL) {
        g = ifmon_xcalloc(1, sizeof(*g));
        g->cs = cs;
        fanout_group_set(fg, group_deliver, g);
        cs->ngroups++;
    }
    if (g->nmembers == g->members_cap) {
        g->members_cap = g->members_cap ? g->members_cap * 2 : 4;
        g->members = ifmon_xrealloc(g->members, g->members_cap * sizeof(*g->members));
    }
    c->group = g;
    c->group_index = g->nmembers;
    c->group_from = g->npending;
    g->members[g->nmembers++] = c;
}

void client_group_catch_up(struct client *c)
{
    struct client_group *g = c->group;
    size_t j;

    for (j = c->group_from; j < g->npending; j++)
        client_enqueue_now(c, g->pending[j]);
    c->group_from = g->npending;
}

void client_group_leave(struct client *c, int keep)
{
    struct client_group *g = c->group;
    struct client *last;
    void *gone;

    if (g == NULL)
        return;
    if (keep)
        client_group_catch_up(c);
    last = g->members[--g->nmembers];
    g->members[c->group_index] = last;
    last->group_index = c->group_index;
    c->group = NULL;
    c->group_from = 0;
    gone = fanout_peer_leave(c->peer, keep);
    if (gone) {
        IFMON_ASSERT(gone == g && g->nmembers == 0);
        group_free(g);
    }
}

void client_group_check(struct client *c)
{
    int behind;

    if (c->killed)
        return;
    /* lws holding bytes of a member shows at its group's next frame,
     * which then waits in its queue for writability (client_write.c). */
    behind = c->queue.count > 0 || c->want_writable || c->closing;
    if (c->group) {
        if (behind)
            client_group_leave(c, 1);
    } else if (!behind && c->waiting == NULL && fanout_peer_count(c->peer) > 0) {
        client_group_join(c);
    }
}

void client_group_init(struct client_set *cs)
{
    uv_timer_init(cs->gw->loop, &cs->group_timer);
    cs->group_timer.data = cs;
}

void client_group_close(struct client_set *cs)
{
    uv_timer_stop(&cs->group_timer);
    uv_close((uv_handle_t *)&cs->group_timer, NULL);
}
