/* health.h -- the collector's GET /healthz and GET /metrics on
 * collector.listen (docs/PROTOCOL.md part 3): a small HTTP/1.1 server on
 * the collector's loop, one request per connection, for a load balancer's
 * or a supervisor's health checks and for Prometheus.
 *
 * Bounded: at most HEALTH_MAX_CONNECTIONS connections at once (the next
 * is closed as soon as it is accepted), a request head of at most
 * HEALTH_HEAD_MAX bytes (past it, 431), HEALTH_DEADLINE_MS from accept to
 * the end of the answer. What the endpoints say comes from the hooks
 * (main.c): this file knows HTTP, not the collector. */

#ifndef IFMON_COLLECTOR_HEALTH_H
#define IFMON_COLLECTOR_HEALTH_H

#include <stddef.h>

#include <uv.h>

#define HEALTH_MAX_CONNECTIONS 16
#define HEALTH_HEAD_MAX 4096
#define HEALTH_DEADLINE_MS 5000

struct health_hooks {
    /* 1 when healthy; else 0 and *why, one short line without its '\n'. */
    int (*healthy)(void *ctx, const char **why);
    /* The Prometheus text of /metrics, malloc'd, *len bytes. */
    char *(*metrics)(void *ctx, size_t *len);
    void *ctx;
};

struct health;

/* Listen on host (an IPv4 or IPv6 address) and port. NULL, logged, when
 * the address cannot be bound (what was made is freed once the loop runs:
 * the caller runs it before closing it). */
struct health *health_start(uv_loop_t *loop, const char *host, int port,
                            const struct health_hooks *hooks);

/* Close the listening socket and every connection; the loop must run for
 * the handles to close, then health_free(). NULL is fine. */
void health_close(struct health *h);
void health_free(struct health *h);

#endif
