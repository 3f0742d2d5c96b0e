/* client_private.h -- the state of a WebSocket connection and of the set
 * of them, shared by the three files of a connection: client.c
 * (requests, opening and closing, reloads), client_reply.c (replies in
 * request order) and client_write.c (the outgoing side: queueing,
 * frames, writes, stalled readers). Internal to
 * the gateway; the interface is client.h. */

#ifndef IFMON_GATEWAY_CLIENT_PRIVATE_H
#define IFMON_GATEWAY_CLIENT_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "client.h"
#include "client_request.h"
#include "eventlist.h"
#include "history.h"
#include "inventory.h"
#include "outmsg.h"
#include "outqueue.h"
#include "ratelimit.h"
#include "throttle.h"

struct sendbatch;

/* A whole client message (all its fragments, RFC 6455 5.4) must arrive
 * within this long of its first byte; a connection that leaves one
 * unfinished is closed with 1008, so that what it sent is not kept. */
#define CLIENT_MESSAGE_MS 10000
/* A connection that holds no subscription (a `list` does not count) for
 * this long is closed with 1008: an idle WebSocket costs a slot and
 * memory and serves nothing. */
#define CLIENT_IDLE_MS 60000

/* A reply waiting for its turn: a subscribe's acknowledgement until Redis
 * has confirmed its channels, an events reply until the copy can answer
 * (eventlist.h), or any reply queued behind one. */
struct reply_wait {
    struct reply_wait *next;
    struct outmsg *reply; /* what to send; events: NULL until built */
    uint64_t request;     /* subscribe: its number (fanout_peer_subscribe) */
    char **channels;      /* subscribe: to wait for, then release; NULL otherwise */
    size_t nchannels;
    size_t checked; /* subscribe: channels[0, checked) were seen confirmed */
    json_t *id;     /* subscribe, events: the request's "id" (a reference) */
    int history;    /* subscribe: send the channels' history (not "history": false) */
    int events;     /* an events request */
    struct eventlist_wait *events_wait; /* events: waiting for a read of the copy */
    uint64_t since_ms;
};

struct client {
    /* What client_enqueue() reads for every delivery comes first, in the
     * two cache lines the fan-out fetches ahead (fanout.c). */
    struct client_set *cs;
    int killed;
    int closing;       /* the peer sent a close frame */
    int flush_pending; /* on cs->flush_head */
    int windowed;      /* on cs->window_head: its flush window is open */
    int want_writable; /* lws_callback_on_writable() asked */
    uint64_t waiting_since; /* ms: data queued and nothing written since */
    struct outqueue queue;
    struct client *flush_prev, *flush_next; /* on one of the two lists, or none */
    uint64_t flush_due;                     /* ms: when that window ends */
    struct lws *wsi;
    int fd; /* its socket's (the send batch's sends go to it) */
    struct client *prev, *next;
    struct fanout_peer *peer;
    char *token; /* as presented, NULL when none: looked up again on reload */
    struct reply_wait *waiting, *waiting_tail;
    size_t subscribes_waiting;
    uint64_t requests; /* subscribe requests numbered so far */
    /* The message being received (lws hands it over in pieces). */
    char *rx;
    size_t rx_len, rx_cap;
    int rx_started, rx_binary, rx_too_big;
    uint64_t rx_since;   /* ms: its first piece came */
    uint64_t idle_since; /* ms: it has held nothing since (0 while it holds something) */
    struct ratelimit rate;
    struct history_bucket *history;  /* the history it may still ask Redis for */
    struct inventory_requests lists; /* "list" requests in flight, and the grant */
    struct throttle_key addr;        /* its client's address (admit.h) */
    size_t addr_held;                /* its subscriptions counted against addr (addrlimit.h) */
    /* client_pace.c: its whole message waits for the next iteration (rx
     * paused meanwhile), or, once closed, its subscriptions are being
     * released; on cs->deferred_head or cs->releasing by these links. */
    int deferred;
    struct client *pace_prev, *pace_next;
    /* client_group.c: the group it is in (NULL when none), its index in
     * the group's members, and how many of what the group has gathered
     * it got already (it joined, or caught up, meanwhile). */
    struct client_group *group;
    size_t group_index;
    size_t group_from;
    /* client_write.c: the message in the send batch without a copy,
     * held until the batch is submitted (NULL otherwise). */
    struct outmsg *sending;
};

struct client_set {
    struct gateway *gw;
    struct client *head;
    size_t count;
    struct client_stats st;
    uv_timer_t stall_timer;
    uv_check_t flush_check;    /* writes queued messages after each loop iteration */
    struct client *flush_head; /* clients with something queued to write */
    /* Clients whose flush window is open (gateway.flush_ms), oldest
     * first, and the timer of the oldest's end. */
    struct client *window_head, *window_tail;
    uv_timer_t window_timer;
    unsigned char *batch;      /* LWS_PRE + CLIENT_BATCH_MAX_BYTES, for array frames */
    /* The writes of flush_clients() submitted together (sendbatch.h);
     * NULL without io_uring (then a system call each, by lws_write()). */
    struct sendbatch *sends;
    unsigned batch_failed; /* connections whose batched send failed this turn */
    /* client_pace.c: the work of this loop iteration, and what waits. */
    uv_check_t pace_check;  /* resets pace_spent_ns after each iteration's I/O */
    uv_idle_t pace_idle;    /* runs what waits, at the next iteration */
    uint64_t pace_spent_ns; /* spent on requests and releases this iteration */
    struct client *deferred_head, *deferred_tail; /* whole messages waiting, in order */
    struct client *releasing; /* closed clients whose subscriptions are being released */
    /* client_group.c: groups gathering a frame, in order of when it is
     * due, and the timer of the first's end (with gateway.flush_ms). */
    struct client_group *group_head, *group_tail;
    uv_timer_t group_timer;
    size_t ngroups;
};

static inline uint64_t client_now_ms(const struct client_set *cs)
{
    return uv_now(cs->gw->loop);
}

/* client_write.c: queue m (a reference is taken) for c; it is written at
 * the end of this loop iteration, or in the WRITEABLE callback already
 * asked for. Nothing is queued for a connection being killed. */
void client_enqueue(struct client *c, struct outmsg *m);

/* client_write.c: the same, written at the end of this iteration even
 * with a flush window (a group's frame, whose window has ended). */
void client_enqueue_now(struct client *c, struct outmsg *m);

/* client_write.c: make sure the end-of-iteration writer runs. */
void client_write_soon(struct client_set *cs);

/* client_write.c: write what is queued now (as at the end of the
 * iteration). */
void client_write_flush(struct client_set *cs);

/* client_group.c (see there): queue the frames of the groups whose
 * gathering has ended. */
void client_groups_due(struct client_set *cs);
/* c joins the group of its set of channels, when all of them are live. */
void client_group_join(struct client *c);
/* c (grouped) gets what its group gathered for it so far, now. */
void client_group_catch_up(struct client *c);
/* c leaves its group (if any); with `keep`, it first gets what the group
 * gathered for it and its subscriptions then reach it alone; without, c
 * is closing and gets nothing more. */
void client_group_leave(struct client *c, int keep);
/* The once-a-second check: c joins a group, or leaves one when behind. */
void client_group_check(struct client *c);
void client_group_init(struct client_set *cs);
void client_group_close(struct client_set *cs);

/* client_write.c: take c off the list of connections with writes due
 * (before it is freed). */
void client_unlink_flush(struct client *c);

/* client_write.c: the set's uv_check that writes, and its batch buffer. */
void client_write_init(struct client_set *cs);
void client_write_close(struct client_set *cs);
void client_write_free(struct client_set *cs);

/* client_reply.c: replies in request order. */

/* Queue `reply` (stolen; NULL for an events reply not built yet) behind
 * the replies waiting. */
struct reply_wait *client_wait_append(struct client *c, struct outmsg *reply);
/* Free a waiting subscribe's channels (it no longer waits for them). */
void client_wait_free_channels(struct reply_wait *w);
/* Free w and what it holds; a read it waited for will not call back. */
void client_wait_free(struct reply_wait *w);
/* Queue a reply now, or behind the replies still waiting (m is stolen;
 * may be NULL). */
void client_reply_in_turn(struct client *c, struct outmsg *m);
/* {"op":"error","error":what,"id":id} (id borrowed, may be NULL). */
struct outmsg *client_error_message(const char *what, json_t *id);
/* An error reply, in turn. */
void client_send_error(struct client *c, const char *what, json_t *id);
/* {"op":op,"channels":[...],"id":...} for req. */
struct outmsg *client_ack_message(const char *op, const struct client_request *req);
/* Send the waiting replies whose turn has come, releasing each
 * acknowledged subscribe's channels (history, then live data). */
void client_send_waiting(struct client *c);

/* client.c: handle the whole message in c->rx, then get ready for the
 * next one. Returns 0, or -1 when c must be closed (a close reason is
 * set). */
int client_handle_rx(struct client *c);
/* client.c: free what is left of a closed client once client_pace.c has
 * released its subscriptions. */
void client_free_released(struct client *c);

/* client_pace.c: a bound on the work of one loop iteration (see there). */
void client_pace_init(struct client_set *cs);
void client_pace_close(struct client_set *cs);
/* Release what is still being released, at once (at exit). */
void client_pace_free(struct client_set *cs);
/* From lws' RECEIVE callback, c->rx whole: handle it now, or, past this
 * iteration's budget, pause c's reads and handle it at the next one.
 * Returns as client_handle_rx(). */
int client_pace_message(struct client *c);
/* lws stops parsing a connection once its reads are paused, so no
 * message comes while one waits; should one come, the one waiting is
 * handled first, at once (client_receive()). Returns as
 * client_handle_rx(), 0 when none waits. */
int client_pace_now(struct client *c);
/* c is being closed: it waits for nothing. */
void client_pace_forget(struct client *c);
/* c is closed: release its subscriptions and free it, at once when they
 * are few, else over the next iterations. */
void client_pace_release(struct client *c);

/* client.c: the stall timer's per-connection checks: its waiting
 * subscribes (refused after CLIENT_SUBSCRIBE_WAIT_MS), a message left
 * unfinished (CLIENT_MESSAGE_MS) and holding nothing (CLIENT_IDLE_MS).
 * Returns 0, or -1 when c is being closed (it may have been freed). */
int client_check_deadlines(struct client *c, uint64_t now_ms);

#endif
