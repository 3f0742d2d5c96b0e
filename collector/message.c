/* message.c -- see message.h. Samples are built by hand (the hot path);
 * events (rare) with jansson. */

#include "message.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

int message_iface_init(struct message_iface *o, const struct config *cfg,
                       const struct config_device *dc, const char *name, const char *alias,
                       long ifindex)
{
    const char *prefix = cfg->redis.prefix, *id = cfg->collector.id ? cfg->collector.id : "";
    struct ifmon_key channel, history;
    char *qdev, *qsite, *qname, *qalias, *qid;
    size_t n;

    if (ifmon_key_interface(&channel, prefix, dc->name, name) < 0 ||
        ifmon_key_history(&history, prefix, dc->name, name) < 0) {
        memset(o, 0, offsetof(struct message_iface, seq));
        return -1;
    }
    o->channel = ifmon_xstrndup(channel.s, channel.len);
    o->channel_len = channel.len;
    o->phase = (uint32_t)ifmon_mix64(ifmon_fnv1a(IFMON_FNV1A_INIT, channel.s, channel.len));
    o->history_key = ifmon_xstrndup(history.s, history.len);
    o->history_key_len = history.len;
    /* Agent strings need not be UTF-8: keep what can be shown. */
    qdev = ifmon_json_quote(dc->name, strlen(dc->name), NULL, NULL);
    qsite = ifmon_json_quote(dc->site, strlen(dc->site), NULL, NULL);
    qname = ifmon_json_quote(name, strlen(name), NULL, NULL);
    qalias = ifmon_json_quote(alias, strlen(alias), NULL, NULL);
    qid = ifmon_json_quote(id, strlen(id), NULL, NULL);
    n = strlen(qdev) + strlen(qsite) + strlen(qname) + strlen(qalias) + strlen(qid) + 128;
    o->json_head = ifmon_xmalloc(n);
    o->json_head_len = (size_t)snprintf(o->json_head, n,
                                        "{\"device\":%s,\"site\":%s,\"interface\":%s,"
                                        "\"alias\":%s,\"ifindex\":%ld,\"collector\":%s,",
                                        qdev, qsite, qname, qalias, ifindex, qid);
    IFMON_ASSERT(o->json_head_len < n);
    free(qid);
    free(qdev);
    free(qsite);
    free(qname);
    free(qalias);
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
    rc = ifmon_key_events(&k, prefix, dc->name);
    IFMON_ASSERT(rc == 0);
    o->events_channel = ifmon_xstrndup(k.s, k.len);
    o->events_channel_len = k.len;
}

void message_device_free(struct message_device *o)
{
    free(o->channel);
    free(o->events_channel);
    o->channel = o->events_channel = NULL;
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

/* A count per second (packets, errors, discards): at most three decimals,
 * without trailing zeros ("1234", "0.2", "0.013"): one error in five
 * seconds is 0.2, not 0. Held to 2^53 like the bit rates (rate.c gives at
 * most 1.2 x 4.3e15 / 320 per second), and to 0 for what is not a number. */
static char *put_per_second(char *p, double v)
{
    uint64_t m;
    int d;

    if (!(v >= 0))
        v = 0;
    if (v >= BPS_MAX)
        return put_u64(p, (uint64_t)BPS_MAX);
    if (v >= 1e12) /* three decimals would not fit a uint64; whole counts */
        return put_u64(p, (uint64_t)(v + 0.5));
    m = (uint64_t)(v * 1000.0 + 0.5);
    p = put_u64(p, m / 1000);
    m %= 1000;
    if (m == 0)
        return p;
    *p++ = '.';
    for (d = 100; d > 0 && m; d /= 10) {
        *p++ = (char)('0' + m / (uint64_t)d);
        m %= (uint64_t)d;
    }
    return p;
}

static char *put_str(char *p, const char *s)
{
    while (*s)
        *p++ = *s++;
    return p;
}

/* The fields of each group, in counters.h's order. */
static const char *const group_fields[RATE_GROUPS][3] = {
    {",\"in_bps\":", ",\"out_bps\":", ",\"gap\":\""},
    {",\"in_pps\":", ",\"out_pps\":", ",\"packets_gap\":\""},
    {",\"in_errors_ps\":", ",\"out_errors_ps\":", ",\"errors_gap\":\""},
    {",\"in_discards_ps\":", ",\"out_discards_ps\":", ",\"discards_gap\":\""},
};

/* The hot path of the collector: no printf, no allocation. Bit rates are
 * whole bits per second (finer is noise). */
size_t message_format_sample(char *buf, size_t cap, const struct iface *ifc,
                             const struct rate_result *res, double ts)
{
    char *p = buf + ifc->msg.json_head_len;
    int g;

    IFMON_ASSERT(cap >= ifc->msg.json_head_len + MESSAGE_NUMBERS_MAX);
    memcpy(buf, ifc->msg.json_head, ifc->msg.json_head_len);
    p = put_str(p, "\"ts\":");
    p = put_milli(p, ts > 0 ? ts : 0);
    p = put_str(p, ",\"interval\":");
    p = res->interval > 0 ? put_milli(p, res->interval) : put_str(p, "null");
    for (g = 0; g < RATE_GROUPS; g++) {
        const struct rate_group_result *r = &res->group[g];

        p = put_str(p, group_fields[g][0]);
        if (r->status == RATE_GAP)
            p = put_str(p, "null");
        else if (g == COUNTERS_OCTETS)
            p = put_u64(p, bps_u64(r->in));
        else
            p = put_per_second(p, r->in);
        p = put_str(p, group_fields[g][1]);
        if (r->status == RATE_GAP)
            p = put_str(p, "null");
        else if (g == COUNTERS_OCTETS)
            p = put_u64(p, bps_u64(r->out));
        else
            p = put_per_second(p, r->out);
    }
    p = put_str(p, ",\"speed_bps\":");
    p = ifc->rd.speed_bps ? put_u64(p, ifc->rd.speed_bps) : put_str(p, "null");
    p = put_str(p, ",\"oper\":\"");
    p = put_str(p, message_oper_name(ifc->rd.oper));
    p = put_str(p, "\",\"seq\":");
    p = put_u64(p, ifc->msg.seq);
    for (g = 0; g < RATE_GROUPS; g++) {
        if (res->group[g].status != RATE_GAP)
            continue;
        p = put_str(p, group_fields[g][2]);
        p = put_str(p, rate_gap_name(res->group[g].gap));
        *p++ = '"';
    }
    *p++ = '}';
    IFMON_ASSERT((size_t)(p - buf) <= cap);
    return (size_t)(p - buf);
}

/* -------------------------------------------------------------- events */

/* v rounded to three decimals, as a JSON number. */
static json_t *number3(double v)
{
    return json_real(round(v * 1000.0) / 1000.0);
}

static const char *unit_of(enum alert_kind kind)
{
    return kind == ALERT_UTILIZATION ? "%" : kind <= ALERT_DISCARDS ? "/s" : NULL;
}

void message_event_text(char *buf, size_t size, const struct device *dev, const struct iface *ifc,
                        const struct alert_event *ev)
{
    char who[IFMON_NAME_MAX + 2 * IFMON_IFNAME_MAX + 16];
    const char *unit = unit_of(ev->kind);

    if (ifc == NULL)
        snprintf(who, sizeof(who), "%s", dev->cfg->name);
    else if (ifc->alias[0])
        snprintf(who, sizeof(who), "%s %s (%s)", dev->cfg->name, ifc->name, ifc->alias);
    else
        snprintf(who, sizeof(who), "%s %s", dev->cfg->name, ifc->name);
    switch (ev->kind) {
    case ALERT_DEVICE:
        if (ev->raised)
            snprintf(buf, size, "%s: down (%s)", who,
                     dev->status_error[0] ? dev->status_error : "?");
        else
            snprintf(buf, size, "%s: up again", who);
        break;
    case ALERT_OPER:
        snprintf(buf, size, ev->raised ? "%s: %s (was up)" : "%s: %s again", who,
                 message_oper_name(ev->oper));
        break;
    default:
        if (!ev->have_value)
            snprintf(buf, size, "%s: %s alert cleared (threshold removed)", who,
                     alerts_kind_name(ev->kind));
        else if (ev->raised)
            snprintf(buf, size, "%s: %s %s %.3g%s, above %.3g%s for %.3g s", who,
                     alerts_kind_name(ev->kind), ev->direction, ev->value, unit,
                     ev->threshold->above, unit, ev->threshold->for_ms / 1000.0);
        else
            snprintf(buf, size, "%s: %s back to %.3g%s, at or below %.3g%s for %.3g s", who,
                     alerts_kind_name(ev->kind), ev->value, unit, ev->threshold->above, unit,
                     ev->threshold->for_ms / 1000.0);
        break;
    }
}

char *message_format_event(const struct device *dev, const struct iface *ifc,
                           const struct alert_event *ev, double ts, double since, uint64_t seq)
{
    json_t *j = json_object(), *value, *threshold = json_null(), *forj = json_null();
    const char *unit = unit_of(ev->kind);
    char text[MESSAGE_EVENT_TEXT_MAX], *out;

    switch (ev->kind) {
    case ALERT_DEVICE:
        value = json_string(ev->raised ? "down" : "up");
        break;
    case ALERT_OPER:
        value = json_string(message_oper_name(ev->oper));
        break;
    default:
        value = ev->have_value ? number3(ev->value) : json_null();
        threshold = number3(ev->threshold->above);
        forj = number3(ev->threshold->for_ms / 1000.0);
        break;
    }
    message_event_text(text, sizeof(text), dev, ifc, ev);
    json_object_set_new(j, "device", json_string(dev->cfg->name));
    json_object_set_new(j, "site", json_string(dev->cfg->site));
    json_object_set_new(j, "interface", ifc ? json_string(ifc->name) : json_null());
    json_object_set_new(j, "alias", ifc ? json_string(ifc->alias) : json_null());
    json_object_set_new(j, "kind", json_string(alerts_kind_name(ev->kind)));
    json_object_set_new(j, "state", json_string(ev->raised ? "raised" : "cleared"));
    json_object_set_new(j, "value", value);
    json_object_set_new(j, "threshold", threshold);
    json_object_set_new(j, "unit", unit ? json_string(unit) : json_null());
    json_object_set_new(j, "for", forj);
    json_object_set_new(j, "direction", ev->direction ? json_string(ev->direction) : json_null());
    json_object_set_new(j, "error",
                        ev->kind == ALERT_DEVICE && ev->raised ? json_string(dev->status_error)
                                                               : json_null());
    json_object_set_new(j, "since", json_real(round(since * 1000.0) / 1000.0));
    json_object_set_new(j, "ts", json_real(round(ts * 1000.0) / 1000.0));
    json_object_set_new(j, "seq", json_integer((json_int_t)seq));
    json_object_set_new(j, "text", json_string(text));
    out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(j);
    IFMON_ASSERT(out != NULL); /* names are UTF-8 (discovery.c), numbers finite */
    return out;
}
