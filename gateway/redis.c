/* redis.c -- see redis.h. Both connections share the connect/backoff code
 * (the collector's publish.c does the same for its single connection);
 * they differ in what runs once they are up. */

#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/async.h>

#include "log.h"
#include "redis_uv.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 500 /* clients get data again within 2 s of Redis (issue #7) */

struct redis;

/* One hiredis connection with its reconnect timer. */
struct link {
    struct redis *r;
    const char *role; /* "subscriber" or "query", for logs */
    int subscriber;
    redisAsyncContext *ac; /* NULL while disconnected */
    int up;                /* connected (and, with a password, AUTH accepted) */
    int ever_up;
    uv_timer_t retry;
    uint64_t backoff_ms;
    char last_error[128];
};

struct redis {
    uv_loop_t *loop;
    const struct config_redis *cfg;
    struct redis_hooks hooks;
    void *ctx;
    struct link sub, query;
    int closing;
    uint64_t reconnects;
    uint64_t messages;
};

/* A query waiting for its reply. */
struct query {
    redis_reply_fn fn;
    void *arg;
};

static void connect_link(struct link *l);

/* ------------------------------------------------------------ helpers */

static void note_error(struct link *l, const char *what, const char *err)
{
    char msg[sizeof(l->last_error)];

    snprintf(msg, sizeof(msg), "%s: %s", what, err);
    /* Once per distinct error, not once per retry. */
    if (strcmp(msg, l->last_error) != 0)
        log_warn("redis %s:%d (%s): %s (retrying)", l->r->cfg->host, l->r->cfg->port, l->role, msg);
    snprintf(l->last_error, sizeof(l->last_error), "%s", msg);
}

static void on_retry(uv_timer_t *t)
{
    connect_link(t->data);
}

static void schedule_retry(struct link *l)
{
    if (l->r->closing)
        return;
    uv_timer_start(&l->retry, on_retry, l->backoff_ms, 0);
    l->backoff_ms *= 2;
    if (l->backoff_ms > BACKOFF_MAX_MS)
        l->backoff_ms = BACKOFF_MAX_MS;
}

static int is_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* ------------------------------------------------------- subscriptions */

static void on_pubsub(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct link *l = ac->data;
    struct redis *r;
    redisReply *reply = reply_ptr, **e;
    const char *type;

    if (l == NULL || reply == NULL)
        return; /* disconnected: on_disconnect tells the owner */
    r = l->r;
    if (reply->type == REDIS_REPLY_ERROR) {
        log_warn("redis (subscriber): %s", reply->str);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 || !is_str(reply->element[0]))
        return;
    e = reply->element;
    type = e[0]->str;
    if (strcasecmp(type, "message") == 0 && is_str(e[1]) && is_str(e[2])) {
        r->messages++;
        r->hooks.on_message(r->ctx, NULL, 0, e[1]->str, e[1]->len, e[2]->str, e[2]->len);
    } else if (strcasecmp(type, "pmessage") == 0 && reply->elements >= 4 && is_str(e[1]) &&
               is_str(e[2]) && is_str(e[3])) {
        r->messages++;
        r->hooks.on_message(r->ctx, e[1]->str, e[1]->len, e[2]->str, e[2]->len, e[3]->str,
                            e[3]->len);
    } else if (is_str(e[1]) &&
               (strcasecmp(type, "subscribe") == 0 || strcasecmp(type, "unsubscribe") == 0)) {
        r->hooks.on_ack(r->ctx, 0, e[1]->str, e[1]->len);
    } else if (is_str(e[1]) &&
               (strcasecmp(type, "psubscribe") == 0 || strcasecmp(type, "punsubscribe") == 0)) {
        r->hooks.on_ack(r->ctx, 1, e[1]->str, e[1]->len);
    }
}

static void link_is_up(struct link *l)
{
    struct redis *r = l->r;

    l->up = 1;
    l->backoff_ms = BACKOFF_MIN_MS;
    l->last_error[0] = '\0';
    if (l->subscriber) {
        if (l->ever_up)
            r->reconnects++;
        l->ever_up = 1;
        log_info("redis %s:%d (subscriber): up", r->cfg->host, r->cfg->port);
        r->hooks.on_subscriber_up(r->ctx);
    } else {
        l->ever_up = 1;
        log_info("redis %s:%d (query): up", r->cfg->host, r->cfg->port);
    }
}

static void on_auth(redisAsyncContext *ac, void *reply_ptr, void *privdata)
{
    struct link *l = ac->data;
    redisReply *reply = reply_ptr;

    if (l == NULL || reply == NULL)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        /* Retried from on_disconnect, with backoff: the password may be
         * fixed on the server side. */
        note_error(l, "AUTH", reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    if (l->subscriber)
        link_is_up(l); /* the query link was usable at once (pipelined) */
}

/* --------------------------------------------------------- connections */

static void on_connect(const redisAsyncContext *cac, int status)
{
    struct link *l = cac->data;
    redisAsyncContext *ac = (redisAsyncContext *)cac;

    if (l == NULL)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        note_error(l, "connect", cac->errstr);
        l->ac = NULL;
        schedule_retry(l);
        return;
    }
    if (l->r->cfg->password) {
        /* Replies come in order: on_auth decides before anything else. */
        redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", l->r->cfg->password);
        if (l->subscriber)
            return;
    }
    link_is_up(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    int was_up;

    if (l == NULL)
        return;
    was_up = l->up;
    l->ac = NULL;
    l->up = 0;
    if (l->r->closing)
        return;
    note_error(l, "connection lost", status == REDIS_OK ? "closed" : ac->errstr);
    if (l->subscriber && was_up)
        l->r->hooks.on_subscriber_down(l->r->ctx);
    schedule_retry(l);
}

static void connect_link(struct link *l)
{
    struct redis *r = l->r;
    redisAsyncContext *ac;

    if (r->closing || l->ac)
        return;
    ac = redisAsyncConnect(r->cfg->host, r->cfg->port);
    if (ac == NULL || ac->err) {
        note_error(l, "connect", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(l);
        return;
    }
    ac->data = l;
    if (ifmon_redis_uv_attach(ac, r->loop, 0) != REDIS_OK) {
        redisAsyncFree(ac);
        note_error(l, "connect", "cannot attach to the event loop");
        schedule_retry(l);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    l->ac = ac;
}

static void init_link(struct redis *r, struct link *l, const char *role, int subscriber)
{
    l->r = r;
    l->role = role;
    l->subscriber = subscriber;
    l->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(r->loop, &l->retry);
    l->retry.data = l;
}

/* ---------------------------------------------------------------- API */

struct redis *redis_create(uv_loop_t *loop, const struct config_redis *cfg,
                           const struct redis_hooks *hooks, void *ctx)
{
    struct redis *r = calloc(1, sizeof(*r));

    if (r == NULL)
        abort();
    r->loop = loop;
    r->cfg = cfg;
    r->hooks = *hooks;
    r->ctx = ctx;
    init_link(r, &r->sub, "subscriber", 1);
    init_link(r, &r->query, "query", 0);
    connect_link(&r->sub);
    connect_link(&r->query);
    return r;
}

static int send_sub(struct redis *r, const char *verb, const char *name)
{
    if (!r->sub.up || r->sub.ac == NULL)
        return -1;
    if (redisAsyncCommand(r->sub.ac, on_pubsub, NULL, "%s %b", verb, name, strlen(name)) !=
        REDIS_OK)
        return -1;
    return 0;
}

int redis_subscribe(struct redis *r, int pattern, const char *name)
{
    return send_sub(r, pattern ? "PSUBSCRIBE" : "SUBSCRIBE", name);
}

int redis_unsubscribe(struct redis *r, int pattern, const char *name)
{
    return send_sub(r, pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", name);
}

static void on_query_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct query *q = privdata;

    q->fn(q->arg, reply);
    free(q);
}

static struct query *new_query(struct redis *r, redis_reply_fn fn, void *arg)
{
    struct query *q;

    if (!r->query.up || r->query.ac == NULL)
        return NULL;
    q = malloc(sizeof(*q));
    if (q == NULL)
        abort();
    q->fn = fn;
    q->arg = arg;
    return q;
}

int redis_get(struct redis *r, const char *key, redis_reply_fn fn, void *arg)
{
    struct query *q = new_query(r, fn, arg);

    if (q == NULL)
        return -1;
    if (redisAsyncCommand(r->query.ac, on_query_reply, q, "GET %b", key, strlen(key)) != REDIS_OK) {
        free(q);
        return -1;
    }
    return 0;
}

int redis_lrange(struct redis *r, const char *key, long start, long stop, redis_reply_fn fn,
                 void *arg)
{
    struct query *q = new_query(r, fn, arg);

    if (q == NULL)
        return -1;
    if (redisAsyncCommand(r->query.ac, on_query_reply, q, "LRANGE %b %ld %ld", key, strlen(key),
                          start, stop) != REDIS_OK) {
        free(q);
        return -1;
    }
    return 0;
}

void redis_stats(const struct redis *r, struct redis_stats *out)
{
    out->up = r->sub.up;
    out->reconnects = r->reconnects;
    out->messages = r->messages;
}

static void close_link(struct link *l)
{
    uv_timer_stop(&l->retry);
    uv_close((uv_handle_t *)&l->retry, NULL);
    if (l->ac) {
        /* Pending callbacks run with NULL, then on_disconnect. */
        redisAsyncDisconnect(l->ac);
    }
}

void redis_close(struct redis *r)
{
    r->closing = 1;
    close_link(&r->sub);
    close_link(&r->query);
}

void redis_free(struct redis *r)
{
    free(r);
}
