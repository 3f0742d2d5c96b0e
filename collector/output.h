/* output.h -- what the collector writes to Redis, in the format of
 * docs/PROTOCOL.md: interface samples with their history, device states,
 * and the inventory snapshot. Connects the poller's hooks to the
 * publisher. */

#ifndef IFMON_OUTPUT_H
#define IFMON_OUTPUT_H

#include <stddef.h>

#include <uv.h>

#include "device.h"
#include "poller.h"
#include "publish.h"
#include "rate.h"

/* Largest sample message: the head holds three JSON strings of names. */
#define OUTPUT_NUMBERS_MAX 256

struct output;

struct output *output_create(uv_loop_t *loop);

/* The parts output works with; set once both exist. */
void output_attach(struct output *out, struct poller *poller, struct publisher *pub);

/* poller_hooks.ctx must be the output. */
struct poller_hooks output_poller_hooks(struct output *out);

/* publisher on_connected: rewrite the inventory and every device state. */
void output_on_redis_connected(void *ctx);

/* Format one sample message into buf (cap bytes, at least
 * ifc->json_head_len + OUTPUT_NUMBERS_MAX). Returns its length. Increments
 * nothing: the caller owns ifc->seq. Exposed for tests. */
size_t output_format_sample(char *buf, size_t cap, const struct iface *ifc,
                            const struct rate_result *res, double ts);

/* RFC 2863 ifOperStatus name ("up", "down", ... "unknown" for others). */
const char *output_oper_name(int oper);

void output_close(struct output *out);
void output_free(struct output *out);

#endif
