/* rxcheck.c -- see rxcheck.h: the recv() that libwebsockets calls, a scan
 * (rxscan.c) per accepted socket, and what is done on its verdict. Not
 * unit tested (it is glue between lws and the socket); the scan is, and
 * tests/gateway/hostile.test.js drives this file through the gateway. */

/* recv() is defined here: glibc's fortified inline recv() must not be. */
#undef _FORTIFY_SOURCE

#include "rxcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "lograte.h"
#include "rxscan.h"
#include "util.h"

/* Bytes kept after an upgrade request's head until lws has decided (in
 * the same read, normally: lws reads at most 4 KiB at a time). A client
 * MUST wait for the 101 before sending frames (RFC 6455 section 4.1), so
 * more is not a browser; past it the socket is no longer inspected. */
#define PENDING_MAX 65536

#define STR_(x) #x
#define STR(x) STR_(x)

/* One accepted socket, indexed by its descriptor. */
struct rxconn {
    int watched; /* between rxcheck_accept() and the next one for the fd */
    struct rxscan scan;
    unsigned char *pending; /* after an upgrade head, until rxcheck_websocket/_http */
    size_t npending;
    struct lws *wsi; /* the WebSocket, once accepted */
};

static struct rxconn *conns;
static size_t nconns;
static struct lograte answered_log, unmasked_log, proxy_log;
static struct rxcheck_hooks hooks;

static struct rxconn *conn_of(int fd)
{
    if (fd < 0 || (size_t)fd >= nconns || !conns[fd].watched)
        return NULL;
    return &conns[fd];
}

static uint64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The client's address, for a log line. */
static const char *peer_of(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    const void *addr = NULL;

    snprintf(buf, size, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            addr = &((struct sockaddr_in *)&ss)->sin_addr;
        else if (ss.ss_family == AF_INET6)
            addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (addr)
            inet_ntop(ss.ss_family, addr, buf, (socklen_t)size);
    }
    return buf;
}

/* " (and N more like it not logged)", or "" when N is 0. */
static const char *not_logged(uint64_t n, char *buf, size_t size)
{
    if (n == 0)
        return "";
    snprintf(buf, size, " (and %" PRIu64 " more like it not logged)", n);
    return buf;
}

/* The answer to a head over the limits, written straight on the socket
 * (lws has not finished the head and never will), then the end of what
 * the gateway sends. Best effort: a client that does not read gets less. */
static void answer(int fd, enum rxscan_verdict v)
{
    const char *status, *why;
    char text[512], peer[INET6_ADDRSTRLEN], more[64];
    uint64_t suppressed;
    int n;

    if (v == RXSCAN_URI_TOO_LONG) {
        status = "414 URI Too Long";
        why = "the request line is longer than " STR(
            RXSCAN_LINE_MAX) " bytes or has more "
                             "than " STR(RXSCAN_ARGS_MAX) " query arguments\n";
    } else {
        status = "431 Request Header Fields Too Large";
        why = "the request head is larger than " STR(
            RXSCAN_HEAD_MAX) " bytes or has more "
                             "than " STR(RXSCAN_FIELDS_MAX) " header fields\n";
    }
    n = snprintf(text, sizeof(text),
                 "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\nX-Content-Type-Options: nosniff\r\nCache-Control: "
                 "no-store\r\n\r\n%s",
                 status, strlen(why), why);
    IFMON_ASSERT(n > 0 && (size_t)n < sizeof(text));
    peer_of(fd, peer, sizeof(peer)); /* while it is still connected */
    (void)send(fd, text, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    if (lograte_allow(&answered_log, monotonic_ms(), &suppressed))
        log_info("answered %.3s to %s and closing: %.*s%s", status, peer, (int)strlen(why) - 1, why,
                 not_logged(suppressed, more, sizeof(more)));
}

static void act_on_verdict(struct rxconn *c, int fd)
{
    char peer[INET6_ADDRSTRLEN], more[64];
    uint64_t suppressed;

    free(c->pending);
    c->pending = NULL;
    c->npending = 0;
    if (c->scan.verdict != RXSCAN_UNMASKED) {
        answer(fd, c->scan.verdict);
        return;
    }
    if (lograte_allow(&unmasked_log, monotonic_ms(), &suppressed))
        log_info("failing the WebSocket of %s: a frame without the mask bit (RFC 6455 5.1)%s",
                 peer_of(fd, peer, sizeof(peer)), not_logged(suppressed, more, sizeof(more)));
    if (c->wsi)
        lws_callback_on_writable(c->wsi); /* http.c closes it there, with 1002 */
}

/* Keep bytes that follow an upgrade head until lws has decided. */
static void keep(struct rxconn *c, const unsigned char *p, size_t n)
{
    if (n == 0)
        return;
    if (c->npending + n > PENDING_MAX) {
        free(c->pending);
        memset(c, 0, sizeof(*c)); /* not a browser's: no longer inspected */
        return;
    }
    c->pending = ifmon_xrealloc(c->pending, c->npending + n);
    memcpy(c->pending + c->npending, p, n);
    c->npending += n;
}

/* Scan what was kept, now that lws has decided what it is. lws already
 * has these bytes: a verdict on them is acted on as on any other. */
static void replay(struct rxconn *c, int fd)
{
    unsigned char *p = c->pending;
    size_t n = c->npending, used;

    c->pending = NULL;
    c->npending = 0;
    used = rxscan_feed(&c->scan, p, n);
    if (c->scan.mode == RXSCAN_DECIDE)
        keep(c, p + used, n - used);
    else if (c->scan.mode == RXSCAN_VERDICT)
        act_on_verdict(c, fd);
    free(p);
}

void rxcheck_start(const struct rxcheck_hooks *h)
{
    hooks = *h;
}

void rxcheck_accept(int fd, int proxied)
{
    struct rxconn *c;

    if (fd < 0)
        return;
    if ((size_t)fd >= nconns) {
        size_t n = nconns ? nconns : 64;

        while (n <= (size_t)fd)
            n *= 2;
        conns = ifmon_xrealloc(conns, n * sizeof(*conns));
        memset(conns + nconns, 0, (n - nconns) * sizeof(*conns));
        nconns = n;
    }
    c = &conns[fd];
    free(c->pending);
    memset(c, 0, sizeof(*c));
    c->watched = 1;
    if (proxied)
        rxscan_init_proxied(&c->scan);
    else
        rxscan_init(&c->scan);
}

void rxcheck_websocket(int fd, struct lws *wsi)
{
    struct rxconn *c = conn_of(fd);

    if (c == NULL || c->scan.mode != RXSCAN_DECIDE)
        return;
    c->wsi = wsi;
    rxscan_websocket(&c->scan);
    replay(c, fd);
}

void rxcheck_http(int fd)
{
    struct rxconn *c = conn_of(fd);

    if (c == NULL || c->scan.mode != RXSCAN_DECIDE)
        return;
    rxscan_http(&c->scan);
    replay(c, fd);
}

int rxcheck_unmasked(int fd)
{
    struct rxconn *c = conn_of(fd);

    return c != NULL && c->scan.verdict == RXSCAN_UNMASKED;
}

void rxcheck_free(void)
{
    size_t i;

    for (i = 0; i < nconns; i++)
        free(conns[i].pending);
    free(conns);
    conns = NULL;
    nconns = 0;
    memset(&hooks, 0, sizeof(hooks));
}

/* The PROXY header of a trusted balancer has ended in the n bytes at buf,
 * `used` of them its own: the client goes to the hook, and the header
 * out of what lws gets. Returns what is left for lws (and for the scan),
 * or -1 when the connection is to end. */
static ssize_t take_header(struct rxconn *c, int fd, unsigned char *buf, size_t n, size_t used)
{
    const struct sockaddr *client =
        c->scan.proxy.has_client ? (const struct sockaddr *)&c->scan.proxy.client : NULL;

    if (hooks.proxied && hooks.proxied(fd, client) < 0)
        return -1;
    rxscan_proxied(&c->scan);
    memmove(buf, buf + used, n - used);
    return (ssize_t)(n - used);
}

/* What a trusted balancer sent is not a PROXY header: the specification
 * says to drop the connection, without an answer. */
static void bad_header(struct rxconn *c, int fd)
{
    char peer[INET6_ADDRSTRLEN], more[64];
    uint64_t suppressed;

    if (lograte_allow(&proxy_log, monotonic_ms(), &suppressed))
        log_warn("closing a connection from %s (gateway.trusted_proxies): %s%s",
                 peer_of(fd, peer, sizeof(peer)), c->scan.proxy.why,
                 not_logged(suppressed, more, sizeof(more)));
}

/* lws lets an accepted socket go (see rxcheck.h): forget it, tell the
 * hook while the descriptor is still open, then close it. */
int close(int fd)
{
    struct rxconn *c = conn_of(fd);

    if (c != NULL) {
        free(c->pending);
        memset(c, 0, sizeof(*c));
        if (hooks.closed)
            hooks.closed(fd);
    }
    return (int)syscall(SYS_close, fd);
}

/* libwebsockets' reads (see rxcheck.h). After a head's verdict the bytes
 * are read and dropped: lws is told there is nothing yet (EAGAIN), and
 * sees the end of the connection when the client closes it. After an
 * unmasked frame lws reads on (http.c ignores what it hands over) until
 * http.c fails the connection in WRITEABLE. */
ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n = recvfrom(fd, buf, len, flags, NULL, NULL);
    struct rxconn *c;
    size_t used;

    if (n <= 0 || (flags & MSG_PEEK) || (c = conn_of(fd)) == NULL)
        return n;
    if (c->scan.mode == RXSCAN_PROXY) {
        used = rxscan_feed(&c->scan, buf, (size_t)n);
        if (c->scan.mode == RXSCAN_VERDICT) {
            bad_header(c, fd);
            return 0; /* lws reads the end of the connection and closes it */
        }
        if (c->scan.mode == RXSCAN_PROXY) {
            errno = EAGAIN; /* all of it was header: nothing for lws yet */
            return -1;
        }
        n = take_header(c, fd, (unsigned char *)buf, (size_t)n, used);
        if (n < 0)
            return 0;
        if (n == 0) {
            errno = EAGAIN;
            return -1;
        }
    }
    switch (c->scan.mode) {
    case RXSCAN_VERDICT:
        if (c->scan.verdict == RXSCAN_UNMASKED)
            return n; /* lws reads on, http.c fails the WebSocket */
        errno = EAGAIN;
        return -1;
    case RXSCAN_DECIDE:
        keep(c, buf, (size_t)n);
        return n;
    default:
        break;
    }
    used = rxscan_feed(&c->scan, buf, (size_t)n);
    if (c->scan.mode == RXSCAN_DECIDE) {
        keep(c, (const unsigned char *)buf + used, (size_t)n - used);
    } else if (c->scan.mode == RXSCAN_VERDICT) {
        act_on_verdict(c, fd);
        if (c->scan.verdict != RXSCAN_UNMASKED) {
            errno = EAGAIN;
            return -1;
        }
    }
    return n;
}
