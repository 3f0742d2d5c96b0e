/* message.h -- the text the collector publishes and the names it
 * publishes under (docs/PROTOCOL.md part 1): each interface's channel,
 * history key and JSON head, built once at discovery, and a sample message
 * formatted from them with no allocation and no printf; each device's
 * channels, and its alert events. Pure text, no I/O
 * (tests/unit/test_message.c); output.c and events.c decide what is
 * written when. */

#ifndef IFMON_COLLECTOR_MESSAGE_H
#define IFMON_COLLECTOR_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "config.h"
#include "rate.h"

/* Room a sample message needs after its head: the numbers and fixed
 * field names (message_format_sample), with room to spare: 10 numbers of
 * at most 21 characters, 4 gap reasons, the names. */
#define MESSAGE_NUMBERS_MAX 640

struct device;
struct iface;

/* An interface's part (device.h). */
struct message_iface {
    char *channel;     /* "<prefix>:<device>:<interface>" */
    char *history_key; /* "<prefix>:history:<device>:<interface>" */
    char *json_head;   /* '{"device":...,"site":...,"interface":...,"alias":...,"ifindex":N,
                          "collector":...,' */
    size_t channel_len, history_key_len, json_head_len;
    uint64_t seq;              /* messages published for this interface */
    uint32_t phase;            /* a hash of the channel: when its list is trimmed (output.c) */
    uint64_t listed_speed_bps; /* the speed the last inventory snapshot gave (output.c) */
};

/* A device's part (device.h). */
struct message_device {
    char *channel; /* "<prefix>:<device>" */
    size_t channel_len;
    char *events_channel; /* "<prefix>:events:<device>" */
    size_t events_channel_len;
};

/* Build an interface's names for interface `name` (ifIndex ifindex,
 * ifAlias alias, UTF-8 both) of device dc under cfg's prefix, its head
 * naming cfg's collector.id; seq is left as it is. Returns 0, or -1 when
 * a name would be longer than common/keys.h allows (m then holds
 * nothing). */
int message_iface_init(struct message_iface *m, const struct config *cfg,
                       const struct config_device *dc, const char *name, const char *alias,
                       long ifindex);
void message_iface_free(struct message_iface *m);

/* The device's state and events channels. The configuration's limits on
 * prefix and device names make them always fit. */
void message_device_init(struct message_device *m, const char *prefix,
                         const struct config_device *dc);
void message_device_free(struct message_device *m);

/* Format one sample message into buf (cap bytes, at least
 * ifc->msg.json_head_len + MESSAGE_NUMBERS_MAX). Returns its length.
 * Bit rates are whole bits per second, the others per second with up to
 * three decimals, all held to 2^53 (rate.c never gives more than an
 * interface can carry). Each group of res (counters.h's order) gives its
 * two fields, or nulls and its gap field. Increments nothing: the caller
 * owns ifc->msg.seq. */
size_t message_format_sample(char *buf, size_t cap, const struct iface *ifc,
                             const struct rate_result *res, double ts);

/* The JSON of an alert event (docs/PROTOCOL.md, "Events") about dev, or
 * its interface ifc (NULL: the device itself), noticed at ts, the
 * condition having started at since (Unix seconds both); seq numbers the
 * collector's events. A new string (caller frees). */
char *message_format_event(const struct device *dev, const struct iface *ifc,
                           const struct alert_event *ev, double ts, double since, uint64_t seq);

/* The event's line for people (its "text" field), into buf (size bytes,
 * cut if longer: MESSAGE_EVENT_TEXT_MAX holds any). */
#define MESSAGE_EVENT_TEXT_MAX 1024
void message_event_text(char *buf, size_t size, const struct device *dev, const struct iface *ifc,
                        const struct alert_event *ev);

/* RFC 2863 ifOperStatus name ("up", "down", ... "unknown" for others). */
const char *message_oper_name(int oper);

#endif
