/* output.h -- what the collector writes to Redis and when, in the format
 * of docs/PROTOCOL.md part 1: interface samples (text by message.c) with
 * their history, device states, and the inventory snapshot. It receives
 * the poller's hooks and hands finished commands to the publisher. */

#ifndef IFMON_COLLECTOR_OUTPUT_H
#define IFMON_COLLECTOR_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"

struct device;
struct iface;
struct output;
struct poller;
struct poller_hooks;
struct publisher;

struct output *output_create(uv_loop_t *loop);

/* The parts output works with; set once both exist. */
void output_attach(struct output *out, struct poller *poller, struct publisher *pub);

/* Fill h with the poller hooks that publish through out. */
void output_poller_hooks(struct output *out, struct poller_hooks *h);

/* The publisher's up hook: rewrite the inventory and every device state. */
void output_on_redis_connected(void *ctx);

/* collector.shared, on the member that merges (lease.h): write
 * <prefix>:inventory from every device of the inventory, parts[i]
 * (lens[i] bytes, NULL when none) being the entry its holder holders[i]
 * wrote for device i of poller_devices(). Not written when only its ts
 * would change. */
void output_merge_inventory(struct output *out, const char *const *parts, const size_t *lens,
                            const char *const *holders);

/* collector.shared, the same for <prefix>:alerts from the live members'
 * parts (each a comma-separated list of raised events, never empty). */
void output_merge_alerts(struct output *out, const char *const *parts, const size_t *lens,
                         size_t n);

void output_close(struct output *out);
void output_free(struct output *out);

#endif
