/* output.h -- everything the collector writes to Redis, in the format of
 * docs/PROTOCOL.md part 1: the names of each device's and interface's
 * channels and keys (through common/keys.h), interface samples with their
 * history, device states, and the inventory snapshot. It receives the
 * poller's hooks and hands finished commands to the publisher. */

#ifndef IFMON_COLLECTOR_OUTPUT_H
#define IFMON_COLLECTOR_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "rate.h"

/* Room a sample message needs after its head: the numbers and fixed
 * field names (output_format_sample). */
#define OUTPUT_NUMBERS_MAX 256

struct device;
struct iface;
struct output;
struct poller;
struct poller_hooks;
struct publisher;

/* An interface's part (device.h): its names, built once at discovery so
 * that publishing a sample only appends numbers. */
struct iface_out {
    char *channel;     /* "<prefix>:<device>:<interface>" */
    char *history_key; /* "<prefix>:history:<device>:<interface>" */
    char *json_head;   /* '{"device":...,"site":...,"interface":...,"ifindex":N,' */
    size_t channel_len, history_key_len, json_head_len;
    uint64_t seq; /* messages published for this interface */
};

/* A device's part (device.h). */
struct device_out {
    char *channel; /* "<prefix>:<device>" */
    size_t channel_len;
};

/* Build an interface's names for interface `name` (ifIndex ifindex) of
 * device dc under prefix; seq is left as it is. Returns 0, or -1 when a
 * name would be longer than keys.h allows (o then holds nothing). */
int output_iface_init(struct iface_out *o, const char *prefix, const struct config_device *dc,
                      const char *name, long ifindex);
void output_iface_free(struct iface_out *o);

/* The device's state channel. The configuration's limits on prefix and
 * device names make it always fit. */
void output_device_init(struct device_out *o, const char *prefix, const struct config_device *dc);
void output_device_free(struct device_out *o);

struct output *output_create(uv_loop_t *loop);

/* The parts output works with; set once both exist. */
void output_attach(struct output *out, struct poller *poller, struct publisher *pub);

/* Fill h with the poller hooks that publish through out. */
void output_poller_hooks(struct output *out, struct poller_hooks *h);

/* The publisher's up hook: rewrite the inventory and every device state. */
void output_on_redis_connected(void *ctx);

/* Format one sample message into buf (cap bytes, at least
 * ifc->out.json_head_len + OUTPUT_NUMBERS_MAX). Returns its length.
 * Increments nothing: the caller owns ifc->out.seq. Exposed for tests. */
size_t output_format_sample(char *buf, size_t cap, const struct iface *ifc,
                            const struct rate_result *res, double ts);

/* RFC 2863 ifOperStatus name ("up", "down", ... "unknown" for others). */
const char *output_oper_name(int oper);

void output_close(struct output *out);
void output_free(struct output *out);

#endif
