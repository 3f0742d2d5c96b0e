/* redis_uv.h -- attach a hiredis async context to a libuv loop.
 *
 * hiredis ships adapters/libuv.h, but that adapter calls uv_poll_start()
 * for every queued command, and libuv turns each call into an immediate
 * epoll_ctl(2) pair: with thousands of commands a second, most of the
 * daemon's CPU went to those system calls. This adapter only touches the
 * poll handle when the wanted event set really changes, and writes
 * queued commands from a timer, flush_ms after the first of them (0: in
 * the next loop iteration), without waiting for the socket to say it is
 * writable. It also reads the socket itself and hands the bytes to
 * hiredis' reader in small pieces, which saves hiredis most of its
 * copying (redis_uv.c says why). Shared by the collector and the
 * gateway. */

#ifndef IFMON_REDIS_UV_H
#define IFMON_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/* Returns REDIS_OK, or REDIS_ERR when the context already has an event
 * library attached or the handle cannot be created. The adapter frees
 * itself when hiredis calls its cleanup hook (context freed). Commands
 * wait at most flush_ms (plus the loop's own delays) before being
 * written.
 *
 * reads: how many times to read (16 KiB each) when the socket is
 * readable, while it has more (1 when 0). hiredis reads once, so a burst
 * of replies takes a turn of the loop per 16 KiB, and a message behind
 * them waits as many turns: a gateway's subscriber connection, whose live
 * messages queue behind thousands of SUBSCRIBE confirmations, reads more;
 * a connection of large replies (history lists) reads once, so that a
 * turn stays short. */
int ifmon_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop, unsigned flush_ms,
                          unsigned reads);

/* A Pub/Sub message tap, for a subscriber connection (attached first).
 * For every message hiredis would hand a (P)SUBSCRIBE callback, hiredis
 * copies the channel name, looks it up in its own table of callbacks and
 * compares the type twice: with a gateway's thousands of channels, about
 * a fifth of its CPU at 50,000 messages a second (perf). The tap parses
 * the connection's replies itself, in order, and offers each to fn when
 * hiredis has no command of its own waiting for a reply; fn returns 1
 * when it took the reply (a message), 0 to leave it to hiredis, which
 * then gets it as if read from the socket (acknowledgements, errors: its
 * subscription bookkeeping stays whole). fn runs as hiredis callbacks do
 * (REDIS_IN_CALLBACK); it must not keep the reply. Returns REDIS_OK, or
 * REDIS_ERR out of memory. */
int ifmon_redis_uv_set_tap(redisAsyncContext *ac, int (*fn)(void *ctx, const redisReply *reply),
                           void *ctx);

#endif
