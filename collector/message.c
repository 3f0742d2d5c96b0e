/* message.c -- see message.h. */

#include "message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "json_text.h"
#include "keys.h"
#include "util.h"

static const char *const oper_names[] = {
    "unknown", "up", "down", "testing", "unknown", "dormant", "notPresent", "lowerLayerDown",
};

const char *message_oper_name(int oper)
{
    if (oper < 1 || oper > 7)
        return "unknown";
    return oper_names[oper];
}

/* ---------------------------------------------------------------- names */

int message_iface_init(struct message_iface *o, const char *prefix, const struct config_device *dc,
                       const char *name, long ifindex)
{
    struct ifmon_key channel, history;
    char *qdev, *qsite, *qname;
    size_t n;

    if (ifmon_key_interface(&channel, prefix, dc->name, name) < 0 ||
        ifmon_key_history(&history, prefix, dc->name, name) < 0) {
        memset(o, 0, offsetof(struct message_iface, seq));
        return -1;
    }
    o->channel = ifmon_xstrndup(channel.s, channel.len);
    o->channel_len = channel.len;
    o->history_key = ifmon_xstrndup(history.s, history.len);
    o->history_key_len = history.len;
    /* Agent strings need not be UTF-8: keep what can be shown. */
    qdev = ifmon_json_quote(dc->name, strlen(dc->name), NULL, NULL);
    qsite = ifmon_json_quote(dc->site, strlen(dc->site), NULL, NULL);
    qname = ifmon_json_quote(name, strlen(name), NULL, NULL);
    n = strlen(qdev) + strlen(qsite) + strlen(qname) + 96;
    o->json_head = ifmon_xmalloc(n);
    o->json_head_len = (size_t)snprintf(o->json_head, n,
                                        "{\"device\":%s,\"site\":%s,\"interface\":%s,"
                                        "\"ifindex\":%ld,",
                                        qdev, qsite, qname, ifindex);
    IFMON_ASSERT(o->json_head_len < n);
    free(qdev);
    free(qsite);
    free(qname);
    return 0;
}

void message_iface_free(struct message_iface *o)
{
    free(o->channel);
    free(o->history_key);
    free(o->json_head);
    o->channel = o->history_key = o->json_head = NULL;
}

void message_device_init(struct message_device *o, const char *prefix,
                         const struct config_device *dc)
{
    struct ifmon_key k;
    int rc = ifmon_key_device(&k, prefix, dc->name);

    /* The loader holds prefix and device names to IFMON_PREFIX_MAX and
     * IFMON_NAME_MAX, far below a channel's limit. */
    IFMON_ASSERT(rc == 0);
    o->channel = ifmon_xstrndup(k.s, k.len);
    o->channel_len = k.len;
}

void message_device_free(struct message_device *o)
{
    free(o->channel);
    o->channel = NULL;
}

/* ------------------------------------------------------------- samples */

/* Decimal digits of v at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* A rate as whole bits per second: rounded, and at most 2^53, the largest
 * integer every JSON reader holds exactly (a JavaScript number; jansson
 * refuses integers past 2^63; and a double at or past 2^64, or NaN, has
 * no defined conversion to an integer at all). rate.c never gives more
 * than 1.2 times the fastest speed an agent can state (ifHighSpeed's
 * 2^32-1 Mb/s is 4.3e15): the bound is a safety net. */
#define BPS_MAX 9007199254740992.0

static uint64_t bps_u64(double bps)
{
    if (!(bps >= 0))
        return 0;
    if (bps >= BPS_MAX)
        return (uint64_t)BPS_MAX;
    return (uint64_t)(bps + 0.5);
}

/* v with three decimals ("1.001"), v >= 0. */
static char *put_milli(char *p, double v)
{
    uint64_t m = (uint64_t)(v * 1000.0 + 0.5);

    p = put_u64(p, m / 1000);
    *p++ = '.';
    *p++ = (char)('0' + m / 100 % 10);
    *p++ = (char)('0' + m / 10 % 10);
    *p++ = (char)('0' + m % 10);
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

/* The hot path of the collector: no printf, no allocation. Rates are
 * whole bits per second (finer is noise). */
size_t message_format_sample(char *buf, size_t cap, const struct iface *ifc,
                             const struct rate_result *res, double ts)
{
    char *p = buf + ifc->msg.json_head_len;

    IFMON_ASSERT(cap >= ifc->msg.json_head_len + MESSAGE_NUMBERS_MAX);
    memcpy(buf, ifc->msg.json_head, ifc->msg.json_head_len);
    p = put_str(p, "\"ts\":");
    p = put_milli(p, ts > 0 ? ts : 0);
    if (res->status == RATE_GAP) {
        p = put_str(p, ",\"interval\":null,\"in_bps\":null,\"out_bps\":null");
    } else {
        p = put_str(p, ",\"interval\":");
        p = put_milli(p, res->interval);
        p = put_str(p, ",\"in_bps\":");
        p = put_u64(p, bps_u64(res->in_bps));
        p = put_str(p, ",\"out_bps\":");
        p = put_u64(p, bps_u64(res->out_bps));
    }
    p = put_str(p, ",\"speed_bps\":");
    p = ifc->rd.speed_bps ? put_u64(p, ifc->rd.speed_bps) : put_str(p, "null");
    p = put_str(p, ",\"oper\":\"");
    p = put_str(p, message_oper_name(ifc->rd.oper));
    p = put_str(p, "\",\"seq\":");
    p = put_u64(p, ifc->msg.seq);
    if (res->status == RATE_GAP) {
        p = put_str(p, ",\"gap\":\"");
        p = put_str(p, rate_gap_name(res->gap));
        *p++ = '"';
    }
    *p++ = '}';
    return (size_t)(p - buf);
}
