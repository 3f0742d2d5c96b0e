/* resolve.h -- a device's host name to an address without blocking the
 * loop: uv_getaddrinfo(3) runs getaddrinfo(3) on libuv's thread pool, and
 * this file decides how many run at once and in which order. It also
 * holds the small address helpers the receive paths share (is this
 * datagram from the agent?). It knows nothing of devices or sessions.
 *
 * The bound: at most RESOLVE_MAX_INFLIGHT lookups run at a time; the
 * others wait in one queue, first come first served, each name once
 * (devices asking for the same name share its lookup). libuv's pool has 4
 * threads (UV_THREADPOOL_SIZE) and a lookup whose DNS server does not
 * answer holds its thread for the resolver's whole timeout
 * (resolv.conf(5) timeout x attempts, glibc's default 5 s x 2), so two
 * threads are always left to the SNMPv3 key derivations (usm_keys.c).
 * Nothing starves: a name waits at most for the lookups queued before it,
 * that is ceil(position / RESOLVE_MAX_INFLIGHT) lookup times, and a
 * device whose lookup failed only asks again after its backoff
 * (poller.c), at the end of the queue. With a dead DNS server and glibc's
 * defaults, 1,000 names are each tried once in about 1,000 x 10 s / 2 =
 * 83 min; any name the server does answer takes milliseconds. A running
 * lookup cannot be interrupted: at exit the loop waits for at most
 * RESOLVE_MAX_INFLIGHT of them, one resolver timeout. */

#ifndef IFMON_COLLECTOR_RESOLVE_H
#define IFMON_COLLECTOR_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <netdb.h>
#include <uv.h>

#define RESOLVE_MAX_INFLIGHT 2

struct resolve_lookup;
struct resolve_waiter;

/* A lookup is over. status is 0 or a libuv UV_EAI_* code (resolve_strerror);
 * res is the list getaddrinfo(3) returned (NULL on error), borrowed for
 * the call only. The waiter is no longer waiting when this runs, so the
 * callback may start another lookup with it. */
typedef void (*resolve_cb)(struct resolve_waiter *w, int status, const struct addrinfo *res);

/* One party waiting for a name, embedded in its owner (the device's
 * session): no allocation per wait. Zero it before first use. */
struct resolve_waiter {
    struct resolve_lookup *lookup; /* the lookup waited for, NULL when not waiting */
    struct resolve_waiter *next;   /* the lookup's other waiters */
    resolve_cb cb;
    void *data; /* the owner's, for cb */
};

/* Look up host's addresses (UDP) for w: cb is called once, from the loop,
 * and from inside this call only when libuv refuses the name outright
 * (UV_EINVAL: not convertible to ASCII). w must not be waiting already.
 * The host string is copied. */
void resolve_start(uv_loop_t *loop, struct resolve_waiter *w, const char *host, resolve_cb cb,
                   void *data);

/* Stop waiting: cb will not be called. A lookup nobody waits for any more
 * is dropped if it has not started; a running one finishes on its thread
 * (getaddrinfo cannot be interrupted) and its result is thrown away. */
void resolve_cancel(struct resolve_waiter *w);

static inline int resolve_waiting(const struct resolve_waiter *w)
{
    return w->lookup != NULL;
}

/* The reason a lookup failed, for a device's error text: "timeout" when
 * the resolver got no answer (EAI_AGAIN), "no such host" (EAI_NONAME),
 * otherwise gai_strerror(3)'s text. */
const char *resolve_strerror(int status);

/* Lookups queued and running now (for logs). */
size_t resolve_queued(void);
size_t resolve_running(void);

/* A numeric address (IPv4, or IPv6 with an optional %scope) and port
 * into *addr without any lookup. Returns 0, or -1 when host is a name. */
int resolve_numeric(const char *host, int port, struct sockaddr_storage *addr, socklen_t *len);

/* 1 when a and b are the same UDP endpoint: family, address and port
 * (and the scope of a link-local IPv6 address). */
int resolve_same_endpoint(const struct sockaddr *a, const struct sockaddr *b);

/* The address without its port, as text ("192.0.2.1", "2001:db8::1"). */
const char *resolve_ntop(const struct sockaddr *a, char *buf, size_t len);

#endif
