/* admit.h -- whether the gateway takes a TCP connection it has just
 * accepted, before anything is read from it (docs/PROTOCOL.md part 2,
 * "Limits"):
 *
 *  - Descriptors. A connection whose descriptor lands in the last
 *    ADMIT_FD_RESERVE under RLIMIT_NOFILE is answered 503 and closed at
 *    once, so that those are always there for Redis (reconnecting), the
 *    files of the page, and the next accept (lws would otherwise spin on
 *    EMFILE with connections stuck in the backlog, /healthz among them).
 *  - Per address. Every connection, upgraded or not, counts against its
 *    client's address (addrlimit.h); past gateway.max_connections_per_address
 *    it is answered 503 with Retry-After and closed at once.
 *  - Behind a balancer. A connection from gateway.trusted_proxies must
 *    start with a PROXY protocol header (proxyproto.h, read by
 *    rxcheck.c): it counts against the client the header names, from the
 *    moment the header is read (the balancer's own address for its health
 *    checks). Nobody else's header is read: from anyone else, those bytes
 *    are a request lws refuses.
 *
 * The address so decided is the client's for everything after: the
 * throttle of wrong tokens, log lines, the subscriptions it may hold
 * (client.c). One per process (it sees every socket lws accepts through
 * rxcheck.c's hooks); http.c calls it from lws' protocol callback. */

#ifndef IFMON_GATEWAY_ADMIT_H
#define IFMON_GATEWAY_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"
#include "throttle.h"

struct sockaddr;

/* Descriptors kept under RLIMIT_NOFILE: two Redis connections and their
 * reconnections, a file per request for the page being served, lws'
 * own, and the accept that is refused. */
#define ADMIT_FD_RESERVE 32
/* Retry-After of every 503 that says the gateway or an address is full. */
#define ADMIT_RETRY_AFTER_S 10

/* Before lws accepts anything: the table of addresses (gw->addrs), the
 * descriptors in use now and RLIMIT_NOFILE (as lws sized its tables). */
void admit_start(struct gateway *gw);
/* After the lws context is gone (every connection closed). */
void admit_free(struct gateway *gw);

/* fd was accepted from sa (by acceptpace.c, or by lws, which asks in
 * LWS_CALLBACK_FILTER_NETWORK_CONNECTION), on the main port (`proxy_port`:
 * the one a balancer uses) or on gateway.metrics_listen's. 0 to go on (fd
 * is watched by rxcheck.c), 1 the same for a connection from a trusted
 * balancer (its PROXY header comes first); -1 when refused: a 503 has
 * been written, and the caller closes fd. */
int admit_accept(int fd, const struct sockaddr *sa, int proxy_port);

/* The client of the connection on fd, as it is counted (key) and as text
 * (name, at least 46 bytes): the one its balancer named, else the peer. */
void admit_client(int fd, struct throttle_key *key, char *name, size_t size);

/* The figures of /metrics. */
struct admit_stats {
    uint64_t open;            /* TCP connections open, upgraded or not */
    uint64_t refused_address; /* refused: max_connections_per_address */
    uint64_t refused_reserve; /* refused: in the descriptors' reserve */
};
void admit_stats(struct admit_stats *out);

/* 1 while the connections open leave fewer than ADMIT_FD_RESERVE
 * descriptors under RLIMIT_NOFILE (an estimate: those in use at start
 * plus the connections): /healthz then answers 503. */
int admit_short_of_descriptors(void);

#endif
