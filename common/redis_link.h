/* redis_link.h -- one hiredis connection that keeps itself up: connect on
 * the daemon's libuv loop (redis_uv.h), AUTH, reconnect with backoff, and
 * one log line per distinct failure rather than one per retry.
 *
 * Every Redis connection of both daemons is a link: the collector's
 * publisher (collector/publisher.c) and the gateway's subscriber and query
 * connections (gateway/pubsub.c). What a link carries, and what must be
 * redone after a reconnection, is its owner's business, through the hooks.
 *
 * Backoff: 100 ms, doubling, capped at 500 ms. A refused connect costs
 * nothing, and the cap is what lets clients have data again within 2 s of
 * Redis coming back (tests/system/redis-chaos.test.js). */

#ifndef IFMON_REDIS_LINK_H
#define IFMON_REDIS_LINK_H

#include <stdint.h>

#include <hiredis/async.h>
#include <uv.h>

#include "redis_target.h"

#define IFMON_REDIS_BACKOFF_MIN_MS 100
#define IFMON_REDIS_BACKOFF_MAX_MS 500

/* How long a Sentinel may take to connect and name the master before
 * the next one is asked. */
#define IFMON_REDIS_SENTINEL_TIMEOUT_MS 1000

struct ifmon_redis_link;

/* Where a link connects: host and port, or, with sentinels, the master
 * that the Sentinels name for master_name (asked in turn, the master's
 * ROLE checked before the link is up, asked again after every loss of the
 * connection). Names are looked up on libuv's thread pool, never on the
 * loop. Strings are copied by ifmon_redis_link_set_target(). */
struct ifmon_redis_target {
    const char *host;
    int port;
    const char *password; /* the master's AUTH password; NULL for none */
    const struct ifmon_redis_sentinel *sentinels;
    size_t nsentinels; /* 0: host and port */
    const char *master_name;
};

struct ifmon_redis_link_hooks {
    /* The link is usable: commands may be queued on link->ac. Called
     * after every successful (re)connection. */
    void (*up)(struct ifmon_redis_link *l);
    /* The link was up and is lost: commands in flight get NULL replies.
     * Not called when the owner closes the link. */
    void (*down)(struct ifmon_redis_link *l);
};

struct ifmon_redis_link {
    uv_loop_t *loop;
    const char *role;  /* in log lines: "publisher", "subscriber", ... */
    unsigned flush_ms; /* how long commands wait to share a write (redis_uv.h) */
    unsigned reads;    /* reads per readable event (redis_uv.h); 1 unless the owner sets it */
    /* A Pub/Sub message tap on every connection (redis_uv.h), or NULL;
     * the owner sets it before the first connection. */
    int (*tap)(void *ctx, const redisReply *reply);
    int wait_auth;     /* 1: up only once AUTH is accepted; 0: AUTH is
                        * pipelined ahead of the owner's first commands */
    struct ifmon_redis_link_hooks hooks;
    void *owner; /* for the hooks and for reply callbacks: ac->data is the link */

    char *host, *password; /* owned copies; password NULL when none */
    int port;
    struct ifmon_redis_sentinel *sentinels; /* owned copies (hosts too) */
    size_t nsentinels, next_sentinel;
    char *master_name;
    char addr[64]; /* the address connected to, for log lines ("host:port") */

    redisAsyncContext *ac;  /* NULL while disconnected */
    redisAsyncContext *sac; /* a Sentinel being asked; NULL when none */
    int sac_connected;
    uv_timer_t sentinel_timer;
    uv_getaddrinfo_t gai;
    int gai_busy;     /* a lookup is running */
    int gai_sentinel; /* it is a Sentinel's name (else the server's) */
    int gai_port;
    int up;
    int ever_up;
    int closing;
    uint64_t reconnects; /* times the link came up again after having been up */
    uint64_t backoff_ms;
    uv_timer_t retry;
    char last_error[128];
};

/* Prepare l (caller-owned memory); nothing connects before
 * ifmon_redis_link_set_target(). role must outlive the link. */
void ifmon_redis_link_init(struct ifmon_redis_link *l, uv_loop_t *loop, const char *role,
                           unsigned flush_ms, int wait_auth,
                           const struct ifmon_redis_link_hooks *hooks, void *owner);

/* Where to connect. The first call connects; a later call that changes
 * anything drops the connection and connects to the new target at once.
 * Returns 1 when the target changed, 0 when it was the same. */
int ifmon_redis_link_set_target(struct ifmon_redis_link *l, const struct ifmon_redis_target *t);

/* 1 while commands may be sent. */
int ifmon_redis_link_is_up(const struct ifmon_redis_link *l);

/* Log an error reply once per distinct text (a command that fails on
 * every sample must not write a line per sample). */
void ifmon_redis_link_reply_error(struct ifmon_redis_link *l, const char *err);

/* Disconnect (what is queued is still sent; callbacks of commands in
 * flight get NULL) and close the timer. The link's memory must stay valid
 * until uv_run() has returned; then call ifmon_redis_link_release(). */
void ifmon_redis_link_close(struct ifmon_redis_link *l);
void ifmon_redis_link_release(struct ifmon_redis_link *l);

#endif
