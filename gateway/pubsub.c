/* pubsub.c -- see pubsub.h. Connecting, AUTH, backoff and the logging of
 * failures are the links' (common/redis_link.c); this file adds what the
 * gateway runs on them: the subscription commands and the decoding of
 * what the subscriber receives, and the queries with their callbacks. */

#include "pubsub.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/async.h>

#include "redis_link.h"
#include "util.h"

struct pubsub {
    struct pubsub_hooks hooks;
    void *ctx;
    struct ifmon_redis_link sub;   /* wait_auth: up once AUTH is accepted */
    struct ifmon_redis_link query; /* AUTH pipelined ahead of the first query */
    uint64_t messages;
};

/* A query waiting for its reply. */
struct query {
    pubsub_reply_fn fn;
    void *arg;
};

/* ------------------------------------------------------------- subscriber */

static void on_subscriber_up(struct ifmon_redis_link *l)
{
    struct pubsub *ps = l->owner;

    ps->hooks.on_subscriber_up(ps->ctx);
}

static void on_subscriber_down(struct ifmon_redis_link *l)
{
    struct pubsub *ps = l->owner;

    ps->hooks.on_subscriber_down(ps->ctx);
}

static const struct ifmon_redis_link_hooks subscriber_hooks = {
    .up = on_subscriber_up,
    .down = on_subscriber_down,
};

/* The query connection has nothing to redo after a reconnection: a query
 * lost with the connection got its NULL reply. */
static const struct ifmon_redis_link_hooks query_hooks = {NULL, NULL};

static int is_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* A published message (a RESP2 push array "message" or "pmessage"):
 * handed on, 1; anything else, 0. */
static int deliver(struct pubsub *ps, const redisReply *reply)
{
    redisReply **e;
    const char *type;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 || !is_str(reply->element[0]))
        return 0;
    e = reply->element;
    type = e[0]->str;
    if (strcasecmp(type, "message") == 0 && is_str(e[1]) && is_str(e[2])) {
        ps->messages++;
        ps->hooks.on_message(ps->ctx, NULL, 0, e[1]->str, e[1]->len, e[2]->str, e[2]->len);
        return 1;
    }
    if (strcasecmp(type, "pmessage") == 0 && reply->elements >= 4 && is_str(e[1]) &&
        is_str(e[2]) && is_str(e[3])) {
        ps->messages++;
        ps->hooks.on_message(ps->ctx, e[1]->str, e[1]->len, e[2]->str, e[2]->len, e[3]->str,
                             e[3]->len);
        return 1;
    }
    return 0;
}

/* The subscriber connection's tap (common/redis_uv.h): the messages,
 * without hiredis' lookup of a callback by channel for each. */
static int tap_message(void *owner, const redisReply *reply)
{
    return deliver(owner, reply);
}

/* Every reply on the subscriber connection the tap leaves to hiredis: the
 * acknowledgements of the (un)subscribe commands, errors, and messages
 * while hiredis still waits for a reply of its own. */
static void on_pubsub(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct ifmon_redis_link *l = ac->data;
    struct pubsub *ps = l->owner;
    redisReply *reply = reply_ptr, **e;
    const char *type;

    if (reply == NULL)
        return; /* disconnected: the link's down hook tells the owner */
    if (reply->type == REDIS_REPLY_ERROR) {
        ifmon_redis_link_reply_error(l, reply->str);
        return;
    }
    if (deliver(ps, reply))
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 || !is_str(reply->element[0]))
        return;
    e = reply->element;
    type = e[0]->str;
    if (is_str(e[1]) &&
               (strcasecmp(type, "subscribe") == 0 || strcasecmp(type, "unsubscribe") == 0)) {
        ps->hooks.on_ack(ps->ctx, 0, e[1]->str, e[1]->len);
    } else if (is_str(e[1]) &&
               (strcasecmp(type, "psubscribe") == 0 || strcasecmp(type, "punsubscribe") == 0)) {
        ps->hooks.on_ack(ps->ctx, 1, e[1]->str, e[1]->len);
    }
}

static int send_sub(struct pubsub *ps, const char *verb, const char *name)
{
    if (!ifmon_redis_link_is_up(&ps->sub))
        return -1;
    if (redisAsyncCommand(ps->sub.ac, on_pubsub, NULL, "%s %b", verb, name, strlen(name)) !=
        REDIS_OK)
        return -1;
    return 0;
}

int pubsub_subscribe(struct pubsub *ps, int pattern, const char *name)
{
    return send_sub(ps, pattern ? "PSUBSCRIBE" : "SUBSCRIBE", name);
}

int pubsub_unsubscribe(struct pubsub *ps, int pattern, const char *name)
{
    return send_sub(ps, pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", name);
}

/* ---------------------------------------------------------------- queries */

static void on_query_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct query *q = privdata;

    q->fn(q->arg, reply);
    free(q);
}

static struct query *new_query(struct pubsub *ps, pubsub_reply_fn fn, void *arg)
{
    struct query *q;

    if (!ifmon_redis_link_is_up(&ps->query))
        return NULL;
    q = ifmon_xmalloc(sizeof(*q));
    q->fn = fn;
    q->arg = arg;
    return q;
}

int pubsub_get(struct pubsub *ps, const char *key, pubsub_reply_fn fn, void *arg)
{
    struct query *q = new_query(ps, fn, arg);

    if (q == NULL)
        return -1;
    if (redisAsyncCommand(ps->query.ac, on_query_reply, q, "GET %b", key, strlen(key)) !=
        REDIS_OK) {
        free(q);
        return -1;
    }
    return 0;
}

int pubsub_lrange(struct pubsub *ps, const char *key, long start, long stop, pubsub_reply_fn fn,
                  void *arg)
{
    struct query *q = new_query(ps, fn, arg);

    if (q == NULL)
        return -1;
    if (redisAsyncCommand(ps->query.ac, on_query_reply, q, "LRANGE %b %ld %ld", key, strlen(key),
                          start, stop) != REDIS_OK) {
        free(q);
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------------------- API */

struct pubsub *pubsub_create(uv_loop_t *loop, const struct config_redis *cfg,
                             const struct pubsub_hooks *hooks, void *ctx)
{
    struct pubsub *ps = ifmon_xcalloc(1, sizeof(*ps));
    struct ifmon_redis_target t = {cfg->host,      cfg->port,       cfg->password,
                                   cfg->sentinels, cfg->nsentinels, cfg->master_name};

    ps->hooks = *hooks;
    ps->ctx = ctx;
    /* flush_ms 0: a subscription or a query is written in the next loop
     * iteration; they are few, and a client waits for each. */
    ifmon_redis_link_init(&ps->sub, loop, "subscriber", 0, 1, &subscriber_hooks, ps);
    ps->sub.tap = tap_message;
    ifmon_redis_link_init(&ps->query, loop, "query", 0, 0, &query_hooks, ps);
    /* Live messages queue behind replies on the subscriber connection:
     * 16,384 subscriptions from one address took some 50 turns of 16 KiB
     * to confirm, a sample behind them 60 to 70 ms under ASan. */
    ps->sub.reads = PUBSUB_SUBSCRIBER_READS;
    ifmon_redis_link_set_target(&ps->sub, &t);
    ifmon_redis_link_set_target(&ps->query, &t);
    return ps;
}

void pubsub_stats(const struct pubsub *ps, struct pubsub_stats *out)
{
    out->up = ifmon_redis_link_is_up(&ps->sub);
    out->reconnects = ps->sub.reconnects;
    out->messages = ps->messages;
}

void pubsub_close(struct pubsub *ps)
{
    ifmon_redis_link_close(&ps->sub);
    ifmon_redis_link_close(&ps->query);
}

void pubsub_free(struct pubsub *ps)
{
    if (ps == NULL)
        return;
    ifmon_redis_link_release(&ps->sub);
    ifmon_redis_link_release(&ps->query);
    free(ps);
}
