/* lobby.h -- where an accepted connection waits until its first request
 * head is in, before libwebsockets sees it.
 *
 * Why: lws 4.1.6 gives every connection it adopts a header table at once
 * and, when the connection closes, frees the table by walking the list of
 * all tables from the newest (lib/roles/http/parsers.c, _lws_destroy_ah).
 * With n connections open that never sent their request, the oldest
 * closing walks n entries: n closing together cost n^2/2 steps in one
 * turn of the loop (4,096 idle connections from 16 addresses, closed at
 * once, held every other client 100 to 310 ms under ASan). A connection
 * in the lobby costs lws and libuv nothing: it waits in an epoll set of
 * the lobby's own (edge-triggered; one libuv handle for all of them), its
 * bytes left in the kernel (looked at with MSG_PEEK, so that rxcheck.c
 * still reads every byte through lws' recv()), and is handed to lws
 * (lws_adopt_descriptor_vhost(), as lws' own listener does) once the scan
 * of rxscan.h says that the first head has ended or has a verdict (414,
 * 431, a bad PROXY header: rxcheck.c answers it), or LOBBY_PEEK_MAX bytes
 * are in. A connection that ends in the lobby, or is still there after
 * LOBBY_WAIT_MS, is closed here.
 *
 * At most LOBBY_PER_TURN connections are looked at, and as many closed
 * for their time, per turn of the loop; the rest wait for the next.
 * Sockets enter from acceptpace.c, admitted by admit.c (their close()
 * goes through rxcheck.c, which tells admit.c). One per process. */

#ifndef IFMON_GATEWAY_LOBBY_H
#define IFMON_GATEWAY_LOBBY_H

#include <stdint.h>

#include <uv.h>

struct lws_vhost;

/* How long a connection may take to send its first request head (lws'
 * own limit for a connection holding a header table is the same). */
#define LOBBY_WAIT_MS 10000
/* Bytes looked at: past a PROXY header (PROXYPROTO_V1_MAX; v2's address
 * part is shorter) and a head of RXSCAN_HEAD_MAX, room to spare. */
#define LOBBY_PEEK_MAX 8192
/* Connections looked at (and, separately, closed for their time) per
 * turn of the loop. */
#define LOBBY_PER_TURN 64

/* On loop; 0, or -1 (logged) when the epoll set cannot be made: then
 * lobby_enter() hands every socket to lws at once. */
int lobby_start(uv_loop_t *loop);
/* Close every connection waiting and the lobby's handles (the loop must
 * run once more to finish closing them). Harmless when not started. */
void lobby_stop(void);

/* fd, just accepted on a listening socket of vh and admitted by admit.c
 * (proxied: from a trusted balancer, so it starts with a PROXY header),
 * waits here until its head is in. */
void lobby_enter(int fd, struct lws_vhost *vh, int proxied);

/* The figures of /metrics. */
struct lobby_stats {
    uint64_t waiting; /* connections in the lobby now */
    uint64_t handed;  /* handed to lws, in all */
    uint64_t ended;   /* closed by their client while in the lobby */
    uint64_t expired; /* closed after LOBBY_WAIT_MS */
};
void lobby_stats(struct lobby_stats *out);

#endif
