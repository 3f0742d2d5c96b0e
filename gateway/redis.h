/* redis.h -- the gateway's two Redis connections on the gateway's loop.
 *
 * The subscriber connection only carries SUBSCRIBE/PSUBSCRIBE and their
 * messages (a subscribed connection can run no other command); the query
 * connection runs GET and LRANGE for history and inventory. Each
 * reconnects on its own with backoff (100 ms doubling to 2 s); after the
 * subscriber comes back the owner re-subscribes from its hooks. This file
 * knows nothing of clients or channels' meaning. */

#ifndef IFMON_GATEWAY_REDIS_H
#define IFMON_GATEWAY_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "config.h"

struct redis;

struct redis_hooks {
    /* The subscriber connection is up (after AUTH was sent): subscribe to
     * everything wanted now; nothing is subscribed on a new connection. */
    void (*on_subscriber_up)(void *ctx);
    /* It went down: nothing is subscribed any more. */
    void (*on_subscriber_down)(void *ctx);
    /* A SUBSCRIBE/PSUBSCRIBE/UNSUBSCRIBE/PUNSUBSCRIBE was acknowledged. */
    void (*on_ack)(void *ctx, int pattern, const char *name, size_t name_len);
    /* A published message; pattern is NULL for an exact subscription.
     * The strings are borrowed for the call only. */
    void (*on_message)(void *ctx, const char *pattern, size_t pattern_len, const char *channel,
                       size_t channel_len, const char *payload, size_t payload_len);
};

struct redis_stats {
    int up;              /* subscriber connection usable */
    uint64_t reconnects; /* subscriber reconnections after the first connect */
    uint64_t messages;   /* pub/sub messages received (message + pmessage) */
};

/* Called exactly once per accepted query with the reply (borrowed: copy
 * what you keep), or NULL when the query connection failed before it came. */
typedef void (*redis_reply_fn)(void *arg, redisReply *reply);

/* Starts connecting at once. `cfg` must outlive the object. */
struct redis *redis_create(uv_loop_t *loop, const struct config_redis *cfg,
                           const struct redis_hooks *hooks, void *ctx);

/* Send SUBSCRIBE name (PSUBSCRIBE when pattern) or the UNSUBSCRIBE form.
 * Returns 0 when sent, -1 when the subscriber is down (nothing is sent:
 * on_subscriber_up will ask again). */
int redis_subscribe(struct redis *r, int pattern, const char *name);
int redis_unsubscribe(struct redis *r, int pattern, const char *name);

/* GET key / LRANGE key start stop on the query connection. Returns 0 when
 * queued (fn will be called once), -1 when the connection is down (fn is
 * not called). */
int redis_get(struct redis *r, const char *key, redis_reply_fn fn, void *arg);
int redis_lrange(struct redis *r, const char *key, long start, long stop, redis_reply_fn fn,
                 void *arg);

void redis_stats(const struct redis *r, struct redis_stats *out);

/* Disconnect both connections and close the timers; pending query
 * callbacks run with NULL. Free after uv_run() returns. */
void redis_close(struct redis *r);
void redis_free(struct redis *r);

#endif
