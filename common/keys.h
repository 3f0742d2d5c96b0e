/* keys.h -- every Redis key and channel name of docs/PROTOCOL.md, part 1,
 * built in one place and never longer than its stated limit.
 *
 *   <prefix>:inventory                       key and change channel
 *   <prefix>:<device>                        device state channel
 *   <prefix>:<device>:<interface>            interface sample channel
 *   <prefix>:history:<device>:<interface>    interface history list
 *   <prefix>:events:<device>                 a device's alert events channel
 *   <prefix>:events                          the recent events, a list
 *   <prefix>:alerts                          the active alerts, a key
 *   <prefix>:cluster:...                     collectors sharing devices
 *                                            (collector/lease.h), keys only
 *
 * (so "inventory", "history", "events", "alerts" and "cluster" are no
 * device's name)
 *
 * A name is built into a `struct ifmon_key` (a counted string with room
 * for IFMON_KEY_MAX bytes, like an sds with a fixed ceiling) and a builder
 * refuses, rather than cuts, what would not fit. The configuration loader
 * holds prefix and device names to the limits below, so only an agent's
 * interface name can make a builder refuse. */

#ifndef IFMON_KEYS_H
#define IFMON_KEYS_H

#include <stddef.h>

/* redis.prefix, in bytes. */
#define IFMON_PREFIX_MAX 64
/* A device's and a site's name, in bytes. */
#define IFMON_NAME_MAX 128
/* An interface name: SNMP's DisplayString (RFC 2579) is at most 255. */
#define IFMON_IFNAME_MAX 255
/* A channel or pattern, as a WebSocket client may write it, and any
 * channel the collector publishes. */
#define IFMON_CHANNEL_MAX 1024
/* Any key: a channel's history key is the channel and "history:". */
#define IFMON_KEY_MAX (IFMON_CHANNEL_MAX + 8)

struct ifmon_key {
    size_t len;
    char s[IFMON_KEY_MAX + 1]; /* NUL-terminated */
};

/* Each builder writes the name into k and returns 0, or returns -1 (k
 * holding "") when it would be longer than IFMON_CHANNEL_MAX (a channel)
 * or IFMON_KEY_MAX (a history key). */
int ifmon_key_inventory(struct ifmon_key *k, const char *prefix);
int ifmon_key_device(struct ifmon_key *k, const char *prefix, const char *device);
int ifmon_key_interface(struct ifmon_key *k, const char *prefix, const char *device,
                        const char *iface);
int ifmon_key_history(struct ifmon_key *k, const char *prefix, const char *device,
                      const char *iface);
int ifmon_key_events(struct ifmon_key *k, const char *prefix, const char *device);
/* The list of recent events, and the key it is rebuilt under before it
 * replaces the list (RENAME: readers never see it half written). */
int ifmon_key_event_log(struct ifmon_key *k, const char *prefix);
int ifmon_key_event_log_rebuild(struct ifmon_key *k, const char *prefix);
int ifmon_key_alerts(struct ifmon_key *k, const char *prefix);
/* "<prefix>:cluster:<part>", or with a device "<prefix>:cluster:<part>:<device>". */
int ifmon_key_cluster(struct ifmon_key *k, const char *prefix, const char *part,
                      const char *device);

/* The history key of interface channel `channel` ("<prefix>:<rest>" gives
 * "<prefix>:history:<rest>"): 0, or -1 when the channel is not an
 * interface channel of prefix. */
int ifmon_key_history_of(struct ifmon_key *k, const char *prefix, const char *channel);

enum ifmon_channel_kind {
    IFMON_CHANNEL_OTHER = 0, /* not under "<prefix>:", or nothing after it */
    IFMON_CHANNEL_INVENTORY, /* "<prefix>:inventory" */
    IFMON_CHANNEL_DEVICE,    /* "<prefix>:<device>" */
    IFMON_CHANNEL_INTERFACE, /* "<prefix>:<device>:<interface>": has a history */
    IFMON_CHANNEL_EVENTS,    /* "<prefix>:events:<device>": no history list of its own */
};

/* What a channel name of prefix is. Device names never contain ':', so
 * the first ':' after the prefix ends the device name; "events" is no
 * device's name. */
enum ifmon_channel_kind ifmon_channel_kind(const char *channel, const char *prefix);

#endif
