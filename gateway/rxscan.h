/* rxscan.h -- what a client sends, read before libwebsockets parses it:
 * on a connection from a trusted load balancer, first the PROXY protocol
 * header that names the client (proxyproto.h; lws 4.1.6 does not read
 * it), which the caller takes out of what lws sees; then two checks lws
 * 4.1.6 does not make:
 *
 *  - a request head too large: lws closes the connection without a word
 *    when its header buffer runs out; RFC 9110 section 15.5.15 and RFC
 *    6585 section 5 give the answers, 414 (URI Too Long) and 431 (Request
 *    Header Fields Too Large). The limits below are under what lws can
 *    hold (http.c sizes its buffer from them), so the scan always speaks
 *    first.
 *  - an unmasked frame from a client: RFC 6455 section 5.1 says the
 *    server MUST fail the connection; lws 4.1.6 accepts it (lws added the
 *    check in 2025, after 4.1).
 *
 * A scan follows one connection's bytes: request heads (HTTP/1.1 keeps a
 * connection for the next request), then, once the caller says an
 * upgrade was accepted, WebSocket frame headers (the payloads are
 * skipped, never copied). Pure: no I/O, no lws; rxcheck.c feeds it and
 * acts on its verdict. Unit tested in tests/unit/test_gateway_hostile.c
 * and test_gateway_admit.c (the PROXY header), fuzzed by
 * tests/fuzz/fuzz_rxscan.c. */

#ifndef IFMON_GATEWAY_RXSCAN_H
#define IFMON_GATEWAY_RXSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "proxyproto.h"

/* The request line ("GET /ws?token=... HTTP/1.1"), CR and LF excluded:
 * longer is 414. The page's paths are short and a token is at most 1 KiB
 * (http.c's HEADER_MAX). */
#define RXSCAN_LINE_MAX 2048
/* '&' and ';' in the request line (lws keeps each query argument apart,
 * in a table of about 90): more is 414. */
#define RXSCAN_ARGS_MAX 16
/* The whole head, request line and every CR and LF included: larger is 431. */
#define RXSCAN_HEAD_MAX 4096
/* Header field lines: more is 431. */
#define RXSCAN_FIELDS_MAX 48

enum rxscan_mode {
    RXSCAN_HEAD,    /* in a request head, or between requests */
    RXSCAN_PROXY,   /* in the PROXY protocol header of a trusted balancer */
    RXSCAN_PROXIED, /* that header has ended (proxy.state DONE): rxscan_proxied() */
    RXSCAN_DECIDE,  /* an upgrade request's head has ended: rxscan_websocket() or _http() */
    RXSCAN_FRAMES,  /* WebSocket frames (client to server) */
    RXSCAN_VERDICT, /* stopped: see verdict */
};

enum rxscan_verdict {
    RXSCAN_OK = 0,
    RXSCAN_URI_TOO_LONG,   /* 414 */
    RXSCAN_HEAD_TOO_LARGE, /* 431 */
    RXSCAN_UNMASKED,       /* a frame without the mask bit: close with 1002 */
    RXSCAN_BAD_PROXY,      /* not a PROXY header (proxy.why): drop the connection */
};

struct rxscan {
    enum rxscan_mode mode;
    enum rxscan_verdict verdict;
    /* RXSCAN_HEAD */
    size_t head_bytes; /* of this head so far */
    size_t line_bytes; /* of the request line so far */
    unsigned lines;    /* lines ended so far, the request line included */
    unsigned args;     /* '&' and ';' in the request line */
    unsigned name_at;  /* how much of "upgrade:" this line has matched; ~0u: no match */
    int line_empty;    /* nothing but CR on this line yet */
    int upgrade;       /* this head has an Upgrade field */
    unsigned heads;    /* request heads ended so far (lobby.c waits for the first) */
    /* RXSCAN_FRAMES */
    unsigned frame_state; /* where in a frame header (rxscan.c) */
    unsigned ext_left;    /* extended length bytes still to read */
    uint64_t payload_left;
    /* RXSCAN_PROXY, RXSCAN_PROXIED: the header and the client it names */
    struct proxyproto proxy;
};

/* A connection's first byte is next. */
void rxscan_init(struct rxscan *s);

/* The same for a connection from a trusted balancer: its first bytes must
 * be a PROXY protocol header (mode RXSCAN_PROXY). */
void rxscan_init_proxied(struct rxscan *s);

/* After RXSCAN_PROXIED (the caller has taken s->proxy's client): the
 * client's first request head is next. */
void rxscan_proxied(struct rxscan *s);

/* Scan len bytes. Returns how many were scanned: len, or fewer when the
 * scan stopped on the way, at the end of a PROXY header (mode
 * RXSCAN_PROXIED: the bytes scanned are the header's, the rest the
 * client's), at the end of an upgrade request's head (mode RXSCAN_DECIDE:
 * the rest belongs to what the server decides) or on a verdict (mode
 * RXSCAN_VERDICT). In those modes nothing more is scanned (0 is returned)
 * until the mode changes. */
size_t rxscan_feed(struct rxscan *s, const unsigned char *p, size_t len);

/* After RXSCAN_DECIDE: the upgrade was accepted, WebSocket frames follow. */
void rxscan_websocket(struct rxscan *s);

/* After RXSCAN_DECIDE: the upgrade was refused with an HTTP answer on a
 * connection kept open: the next request head follows. */
void rxscan_http(struct rxscan *s);

#endif
