/* proxyproto.h -- the PROXY protocol header a load balancer puts before
 * what its client sends, naming that client (HAProxy's "PROXY protocol",
 * versions 1 and 2, https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt).
 * Behind a balancer every connection comes from the balancer's address;
 * this header is how the gateway learns whose connection it is, and so
 * counts it against the right address (admit.h).
 *
 *   v1: "PROXY TCP4 203.0.113.7 192.0.2.1 51234 8080\r\n" (TCP4, TCP6 or
 *       UNKNOWN), at most 107 bytes;
 *   v2: a 12-byte signature, version and command, family, a 16-bit length,
 *       the addresses (12 bytes for TCP over IPv4, 36 over IPv6), then
 *       TLVs, which are skipped.
 *
 * A header that names no client (v1 UNKNOWN, v2 LOCAL: a balancer's own
 * health check; v2 UNSPEC, UDP or UNIX families) leaves the connection to
 * the balancer itself. Anything else is invalid: the specification wants
 * the connection dropped, never read as a request.
 *
 * Pure: no I/O. A parser follows one connection's first bytes and
 * consumes exactly the header; rxscan.c runs it for connections from
 * gateway.trusted_proxies. Unit tested in tests/unit/test_gateway_admit.c,
 * fuzzed by tests/fuzz/fuzz_rxscan.c. */

#ifndef IFMON_GATEWAY_PROXYPROTO_H
#define IFMON_GATEWAY_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The longest v1 header, "PROXY" to CRLF included (the specification's
 * bound). */
#define PROXYPROTO_V1_MAX 107
/* v2: signature, version and command, family, length. */
#define PROXYPROTO_V2_HEAD 16
/* v2 address bytes kept: TCP over IPv6 (the rest, TLVs, is skipped). */
#define PROXYPROTO_V2_ADDR_MAX 36

enum proxyproto_state {
    PROXYPROTO_READING = 0, /* more bytes are needed */
    PROXYPROTO_DONE,        /* the header has ended: see has_client */
    PROXYPROTO_INVALID,     /* not a valid header: see why */
};

struct proxyproto {
    enum proxyproto_state state;
    int version; /* 1 or 2, once the first byte says; 0 before */
    unsigned char head[PROXYPROTO_V1_MAX];
    size_t nhead;                   /* bytes of head kept */
    size_t total;                   /* v2: the whole header's length, once known; 0 before */
    size_t consumed;                /* bytes of the header consumed so far */
    int has_client;                 /* DONE: 1 when client is the balancer's client */
    struct sockaddr_storage client; /* DONE with has_client: its address and port */
    const char *why;                /* INVALID: what is wrong, for a log line */
};

/* Ready for a connection's first byte. */
void proxyproto_init(struct proxyproto *p);

/* Read up to len bytes of what the connection sent. Returns how many
 * belong to the header (len at most): once the state is DONE, what
 * follows them is the client's own bytes; in INVALID nothing more is
 * read (0). */
size_t proxyproto_feed(struct proxyproto *p, const unsigned char *data, size_t len);

#endif
