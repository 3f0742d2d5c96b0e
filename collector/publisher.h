/* publisher.h -- the collector's writes to Redis: commands formatted in RESP
 * and pipelined on one connection (a common/redis_link.h link on the
 * collector's loop), most of them without replies, never blocking polling.
 *
 * Commands are only queued while connected; while Redis is away, or too far
 * behind, samples are dropped and counted (publishing resumes with the
 * newest values, there is no backlog to replay). The link reconnects on
 * its own, with backoff. */

#ifndef IFMON_COLLECTOR_PUBLISHER_H
#define IFMON_COLLECTOR_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"

/* Commands wait this long to share a write: the responses of one poll
 * (several PDUs) arrive within a millisecond or so of each other, and
 * polls are spread over the interval, so each write carries several polls.
 * At 100 devices x 50 interfaces at 1 s, 10 ms (against 2 ms) took the
 * syscalls from 20,972 to 18,920 per 10 s (strace -c), and 20 ms (against
 * 10) the collector's CPU from 9.00 to 8.33 ms per 1,000 samples (medians
 * of 3 alternated runs); a sample reaches Redis 20 ms after its answer at
 * most, which a display refreshed every second cannot show. */
#define PUBLISHER_FLUSH_MS 20
/* Commands not acknowledged yet before samples are dropped: bounds our
 * memory when Redis stalls (about 1 KB per sample of three commands). */
#define PUBLISHER_MAX_PENDING 200000

struct publisher;

struct publisher_stats {
    uint64_t commands;   /* commands sent */
    uint64_t dropped;    /* samples not sent: disconnected or backlog full */
    uint64_t errors;     /* error replies */
    uint64_t reconnects; /* successful connections after the first */
    int connected;
};

/* on_connected runs after every successful (re)connection, so the owner
 * can rewrite what Redis may have lost (inventory, device states). The
 * settings in cfg are copied. */
struct publisher *publisher_create(uv_loop_t *loop, const struct config_redis *cfg,
                                   void (*on_connected)(void *ctx), void *ctx);

/* Use new Redis settings; reconnects only when host, port or password
 * changed. */
void publisher_set_config(struct publisher *pub, const struct config_redis *cfg);

int publisher_ready(const struct publisher *pub);

/* One interface sample: RPUSH to the history list, LTRIM it to `history`
 * entries when `history` > 0 (the caller trims every few samples, not at
 * each), PUBLISH on the channel, and every so often EXPIRE the list;
 * the last three at the end of the loop iteration, without replies
 * (publisher.c). Returns 0, or -1 when the sample was dropped. */
int publisher_sample(struct publisher *pub, const char *channel, size_t channel_len,
                     const char *history_key, size_t history_key_len, const char *msg,
                     size_t msg_len, int history, int expire_s);

int publisher_publish(struct publisher *pub, const char *channel, size_t channel_len,
                      const char *msg, size_t msg_len);
int publisher_set(struct publisher *pub, const char *key, size_t key_len, const char *value,
                  size_t value_len);

/* Any other command (argc arguments of lens[i] bytes), in order after
 * what was queued before it; an error reply is counted and logged. */
int publisher_command(struct publisher *pub, int argc, const char *const *argv,
                      const size_t *lens);

/* An alert event (events.c): RPUSH msg to the list log_key and LTRIM it
 * to its last `keep` entries, then PUBLISH it on channel (the list first,
 * as for samples). With their replies: events are rare, and a refused one
 * is worth its log line. Returns 0, or -1 when not sent (Redis away: the
 * owner writes the list again on connection). */
int publisher_event(struct publisher *pub, const char *channel, size_t channel_len,
                    const char *log_key, size_t log_key_len, const char *msg, size_t msg_len,
                    int keep);

/* LTRIM the list key to its last `keep` entries (0: DEL it). */
int publisher_trim(struct publisher *pub, const char *key, size_t key_len, int keep);

/* Make the list key hold the n items (lens[i] bytes each), oldest first,
 * at once for readers: they are pushed to tmp_key, which is then RENAMEd
 * over key (key is DELeted when n is 0). The items are copied. */
int publisher_list_replace(struct publisher *pub, const char *key, size_t key_len,
                           const char *tmp_key, size_t tmp_key_len, const char *const *items,
                           const size_t *lens, size_t n);

/* What publisher_read_list() read: ok 0 when Redis answered with an error
 * or the connection was lost first (n is then 0). The items are hiredis'
 * and valid during the call only: copy what is kept. */
typedef void (*publisher_list_fn)(void *ctx, int ok, size_t n, const char *const *items,
                                  const size_t *lens);

/* LRANGE key 0 -1, handed to fn when the reply comes (after every command
 * queued before it has been applied). Returns 0, or -1 when not sent (fn
 * is then not called). */
int publisher_read_list(struct publisher *pub, const char *key, size_t key_len,
                        publisher_list_fn fn, void *ctx);

void publisher_stats(const struct publisher *pub, struct publisher_stats *out);

/* Flush and disconnect, close the timers; free after uv_run() returns. */
void publisher_close(struct publisher *pub);
void publisher_free(struct publisher *pub);

#endif
