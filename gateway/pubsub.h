/* pubsub.h -- the gateway's two Redis connections, both links of
 * common/redis_link.h on the gateway's loop.
 *
 * The subscriber connection only carries SUBSCRIBE/PSUBSCRIBE and their
 * messages (a subscribed connection can run no other command); the query
 * connection runs GET and LRANGE for history and inventory. Each
 * reconnects on its own (backoff from 100 ms, doubling, capped at
 * IFMON_REDIS_BACKOFF_MAX_MS = 500 ms); after the subscriber comes back
 * the owner subscribes again from its hooks. This file knows nothing of
 * clients, nor of what channels mean (fanout.c does). */

#ifndef IFMON_GATEWAY_PUBSUB_H
#define IFMON_GATEWAY_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "config.h"

/* Reads of 16 KiB per readable event on the subscriber connection (at
 * most 256 KiB a turn; common/redis_uv.h): live messages are not kept
 * waiting turn after turn behind a burst of subscription replies. The
 * query connection, whose replies are history lists, reads once. */
#define PUBSUB_SUBSCRIBER_READS 16

struct pubsub;

/* Called from hiredis callbacks on the loop; none may call pubsub_close()
 * or pubsub_free(). */
struct pubsub_hooks {
    /* The subscriber connection is up (AUTH accepted, when there is a
     * password): subscribe to everything wanted now; nothing is
     * subscribed on a new connection. */
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

struct pubsub_stats {
    int up;              /* subscriber connection usable */
    uint64_t reconnects; /* subscriber reconnections after the first connect */
    uint64_t messages;   /* pub/sub messages received (message + pmessage) */
};

/* Called exactly once per accepted query with the reply (borrowed: copy
 * what you keep), or NULL when the query connection failed or was closed
 * before it came. */
typedef void (*pubsub_reply_fn)(void *arg, redisReply *reply);

/* Starts connecting at once to cfg's host, port and password (copied);
 * ctx is given to every hook. Never NULL. */
struct pubsub *pubsub_create(uv_loop_t *loop, const struct config_redis *cfg,
                             const struct pubsub_hooks *hooks, void *ctx);

/* Send SUBSCRIBE name (PSUBSCRIBE when pattern) or the UNSUBSCRIBE form.
 * Returns 0 when sent, -1 when the subscriber is down (nothing is sent:
 * on_subscriber_up will ask again). */
int pubsub_subscribe(struct pubsub *ps, int pattern, const char *name);
int pubsub_unsubscribe(struct pubsub *ps, int pattern, const char *name);

/* GET key / LRANGE key start stop on the query connection. Returns 0 when
 * queued (fn will be called once), -1 when the connection is down (fn is
 * not called). */
int pubsub_get(struct pubsub *ps, const char *key, pubsub_reply_fn fn, void *arg);
int pubsub_lrange(struct pubsub *ps, const char *key, long start, long stop, pubsub_reply_fn fn,
                  void *arg);

/* The figures of /healthz and /metrics. */
void pubsub_stats(const struct pubsub *ps, struct pubsub_stats *out);

/* Disconnect both connections and close their timers; pending query
 * callbacks run with NULL as the loop runs. Call pubsub_free() after
 * uv_run() has returned. */
void pubsub_close(struct pubsub *ps);
void pubsub_free(struct pubsub *ps);

#endif
