/* config_device.c -- the device entries of the file: `defaults:` and each
 * entry of `devices:` (keys, values, the rules that involve several keys),
 * and a device's copy, free and comparison.
 *
 * Copy, free and comparison are generated from CONFIG_DEVICE_FIELDS
 * (config.h), never written field by field: a field added there cannot be
 * forgotten here. The rest of the file (redis:, gateway:) is config.c's. */

#include "config_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keys.h"
#include "util.h"

#define MIN_PASSWORD 8 /* net-snmp refuses shorter USM passphrases */

/* Keys of a device entry that the entry set itself (or `defaults:` did),
 * for the SNMPv3 rules that fill in what was not said. */
enum {
    SET_AUTH_PROTO = 1 << 0,
    SET_PRIV_PROTO = 1 << 1,
    SET_SEC_LEVEL = 1 << 2,
    SET_COUNTERS = 1 << 3, /* counters: */
    SET_ALERTS = 1 << 4,   /* alerts: */
};

/* One device entry (or `defaults:`) being read. */
struct device_ctx {
    struct config_device *dev;
    unsigned set;           /* SET_*, the entry's own and those `defaults:` set */
    unsigned own;           /* SET_COUNTERS and SET_ALERTS the entry itself set */
    int in_defaults;        /* reading `defaults:`: no name or address */
    yaml_node_t *name_node; /* where `name:` was, for messages */
    yaml_node_t *rule_node; /* where `counters:` or `alerts:` was, for messages */
};

/* Names accepted for an enumerated value (case-insensitive). */
struct name_value {
    const char *name;
    int value;
};

static const char *const device_keys[] = {"name",
                                          "site",
                                          "address",
                                          "community",
                                          "version",
                                          "snmp_engine",
                                          "interval",
                                          "timeout",
                                          "retries",
                                          "max_varbinds",
                                          "rediscover",
                                          "interfaces",
                                          "user",
                                          "security_level",
                                          "auth_protocol",
                                          "auth_password",
                                          "priv_protocol",
                                          "priv_password",
                                          "context",
                                          "counters",
                                          "site_total",
                                          "alerts",
                                          NULL};

/* `alerts:` and each of its thresholds. */
static const char *const alert_keys[] = {"utilization", "errors", "discards", NULL};
static const char *const threshold_keys[] = {"above", "for", NULL};

/* `counters:` items; octets are always polled, and may be said. */
static const struct name_value counter_names[] = {{"octets", CONFIG_COUNTERS_OCTETS},
                                                  {"packets", CONFIG_COUNTERS_PACKETS},
                                                  {"errors", CONFIG_COUNTERS_ERRORS},
                                                  {NULL, 0}};

static const struct name_value auth_names[] = {{"MD5", CONFIG_AUTH_MD5},
                                               {"SHA", CONFIG_AUTH_SHA},
                                               {"SHA1", CONFIG_AUTH_SHA},
                                               {"SHA-1", CONFIG_AUTH_SHA},
                                               {"SHA-224", CONFIG_AUTH_SHA224},
                                               {"SHA224", CONFIG_AUTH_SHA224},
                                               {"SHA-256", CONFIG_AUTH_SHA256},
                                               {"SHA256", CONFIG_AUTH_SHA256},
                                               {"SHA-384", CONFIG_AUTH_SHA384},
                                               {"SHA384", CONFIG_AUTH_SHA384},
                                               {"SHA-512", CONFIG_AUTH_SHA512},
                                               {"SHA512", CONFIG_AUTH_SHA512},
                                               {NULL, 0}};

static const struct name_value priv_names[] = {{"DES", CONFIG_PRIV_DES},
                                               {"AES", CONFIG_PRIV_AES},
                                               {"AES128", CONFIG_PRIV_AES},
                                               {"AES-128", CONFIG_PRIV_AES},
                                               {"AES192", CONFIG_PRIV_AES192},
                                               {"AES-192", CONFIG_PRIV_AES192},
                                               {"AES256", CONFIG_PRIV_AES256},
                                               {"AES-256", CONFIG_PRIV_AES256},
                                               {NULL, 0}};

/* snmp_engine: who encodes and decodes a v1/v2c device's polls: the
 * collector's own codec (collector/ber.c) or, as the fallback for an agent
 * that meets ber.c badly, net-snmp's PDUs. SNMPv3 is always net-snmp. */
static const struct name_value engine_names[] = {{"builtin", 0}, {"net-snmp", 1}, {NULL, 0}};

static const struct name_value level_names[] = {{"noAuthNoPriv", CONFIG_SEC_NOAUTH_NOPRIV},
                                                {"authNoPriv", CONFIG_SEC_AUTH_NOPRIV},
                                                {"authPriv", CONFIG_SEC_AUTH_PRIV},
                                                {NULL, 0}};

/* ------------------------------------------------ copy, free, compare */

static char *dup_or_null(const char *s)
{
    return s ? ifmon_xstrdup(s) : NULL;
}

static char **dup_list(char *const *list, size_t n)
{
    char **copy;
    size_t i;

    if (n == 0)
        return NULL;
    IFMON_ASSERT(list != NULL);
    copy = ifmon_xcalloc(n, sizeof(*copy));
    for (i = 0; i < n; i++)
        copy[i] = ifmon_xstrdup(list[i]);
    return copy;
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int list_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    size_t i;

    if (na != nb)
        return 0;
    for (i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

void config_device_copy(struct config_device *dst, const struct config_device *src)
{
    *dst = *src; /* the numbers, and `line` */
#define COPY_STR(f) dst->f = dup_or_null(src->f);
#define COPY_INT(f)
#define COPY_LIST(f, n) dst->f = dup_list(src->f, src->n);
    CONFIG_DEVICE_FIELDS(COPY_STR, COPY_INT, COPY_LIST)
#undef COPY_STR
#undef COPY_INT
#undef COPY_LIST
}

void config_device_clear(struct config_device *d)
{
#define FREE_STR(f) free(d->f);
#define FREE_INT(f)
#define FREE_LIST(f, n) config_free_list(d->f, d->n);
    CONFIG_DEVICE_FIELDS(FREE_STR, FREE_INT, FREE_LIST)
#undef FREE_STR
#undef FREE_INT
#undef FREE_LIST
    memset(d, 0, sizeof(*d));
}

int config_device_equal(const struct config_device *a, const struct config_device *b)
{
#define SAME_STR(f)                                                                                \
    if (!str_eq(a->f, b->f))                                                                       \
        return 0;
#define SAME_INT(f)                                                                                \
    if (a->f != b->f)                                                                              \
        return 0;
#define SAME_LIST(f, n)                                                                            \
    if (!list_eq(a->f, a->n, b->f, b->n))                                                          \
        return 0;
    CONFIG_DEVICE_FIELDS(SAME_STR, SAME_INT, SAME_LIST)
#undef SAME_STR
#undef SAME_INT
#undef SAME_LIST
    return 1;
}

const char *config_version_name(int version)
{
    return version == CONFIG_SNMP_V1 ? "1" : version == CONFIG_SNMP_V3 ? "3" : "2c";
}

/* ------------------------------------------------------------ one entry */

static int lookup_name(const struct name_value *t, const char *v, int *out)
{
    for (; t->name; t++)
        if (strcasecmp(v, t->name) == 0) {
            *out = t->value;
            return 0;
        }
    return -1;
}

/* The string-valued keys; s (expanded) is the caller's until stored. */
static void device_string(struct config_loader *ld, struct device_ctx *dc, const char *key,
                          yaml_node_t *v, char *s)
{
    struct config_device *d = dc->dev;

    if (strcmp(key, "name") == 0) {
        dc->name_node = v;
        config_set_string(&d->name, s);
        s = NULL;
    } else if (strcmp(key, "site") == 0) {
        if (s[0] == '\0')
            config_problem(ld, v, "site: empty name");
        else if (strlen(s) > IFMON_NAME_MAX)
            config_problem(ld, v,
                           "site: \"%.20s...\" is %zu bytes; a site name may have at most %d "
                           "(IFMON_NAME_MAX)",
                           s, strlen(s), IFMON_NAME_MAX);
        config_set_string(&d->site, s);
        s = NULL;
    } else if (strcmp(key, "address") == 0) {
        char *host;
        int port;

        if (config_parse_address(s, CONFIG_DEFAULT_SNMP_PORT, &host, &port) < 0) {
            config_problem(ld, v, "address: \"%s\" is not host, host:port or [ipv6]:port", s);
        } else {
            config_set_string(&d->host, host);
            d->port = port;
        }
        config_set_string(&d->address, s);
        s = NULL;
    } else if (strcmp(key, "community") == 0) {
        /* net-snmp refuses answers whose community is longer (snmp_api.c,
         * COMMUNITY_MAX_LEN): a longer one would only ever time out. */
        if (strlen(s) > CONFIG_COMMUNITY_MAX)
            config_problem(ld, v, "community: %zu bytes; SNMP agents and net-snmp take at most %d",
                           strlen(s), CONFIG_COMMUNITY_MAX);
        config_set_string(&d->community, s);
        s = NULL;
    } else if (strcmp(key, "version") == 0) {
        if (strcmp(s, "1") == 0)
            d->version = CONFIG_SNMP_V1;
        else if (strcmp(s, "2c") == 0 || strcmp(s, "2") == 0)
            d->version = CONFIG_SNMP_V2C;
        else if (strcmp(s, "3") == 0)
            d->version = CONFIG_SNMP_V3;
        else
            config_problem(ld, v, "version: \"%s\" is not 1, 2c or 3", s);
    } else if (strcmp(key, "snmp_engine") == 0) {
        if (lookup_name(engine_names, s, &d->net_snmp_polls) < 0)
            config_problem(ld, v, "snmp_engine: \"%s\" is not builtin or net-snmp", s);
    } else if (strcmp(key, "user") == 0) {
        config_set_string(&d->user, s);
        s = NULL;
    } else if (strcmp(key, "context") == 0) {
        config_set_string(&d->context, s);
        s = NULL;
    } else if (strcmp(key, "security_level") == 0) {
        if (lookup_name(level_names, s, &d->security_level) < 0)
            config_problem(ld, v,
                           "security_level: \"%s\" is not noAuthNoPriv, authNoPriv or authPriv", s);
        dc->set |= SET_SEC_LEVEL;
    } else if (strcmp(key, "auth_protocol") == 0) {
        if (lookup_name(auth_names, s, &d->auth_protocol) < 0)
            config_problem(ld, v,
                           "auth_protocol: \"%s\" is not MD5, SHA, SHA-224, SHA-256, SHA-384 "
                           "or SHA-512",
                           s);
        dc->set |= SET_AUTH_PROTO;
    } else if (strcmp(key, "priv_protocol") == 0) {
        if (lookup_name(priv_names, s, &d->priv_protocol) < 0)
            config_problem(ld, v, "priv_protocol: \"%s\" is not DES, AES, AES-192 or AES-256", s);
        dc->set |= SET_PRIV_PROTO;
    } else if (strcmp(key, "auth_password") == 0 || strcmp(key, "priv_password") == 0) {
        if (s[0] && strlen(s) < MIN_PASSWORD)
            config_problem(ld, v, "%s: at least %d characters (SNMPv3 USM, RFC 3414)", key,
                           MIN_PASSWORD);
        /* An empty password is no password. */
        if (s[0] == '\0') {
            free(s);
            s = NULL;
        }
        config_set_string(key[0] == 'a' ? &d->auth_password : &d->priv_password, s);
        s = NULL;
    }
    free(s);
}

/* counters: [octets, packets, errors]: the groups polled besides the
 * octets, which are always polled. */
static void device_counters(struct config_loader *ld, yaml_node_t *v, struct device_ctx *dc)
{
    yaml_node_item_t *it;
    char **list;
    size_t n, i;
    int bits = CONFIG_COUNTERS_OCTETS, bit;

    if (config_get_string_list(ld, v, "counters", &list, &n) < 0)
        return;
    for (i = 0, it = v->data.sequence.items.start; i < n; i++, it++) {
        if (lookup_name(counter_names, list[i], &bit) == 0)
            bits |= bit;
        else
            config_problem(ld, yaml_document_get_node(&ld->doc, *it),
                           "counters: \"%s\" is not octets, packets or errors (errors means "
                           "errors and discards)",
                           list[i]);
    }
    config_free_list(list, n);
    dc->dev->counters = bits;
    dc->set |= SET_COUNTERS;
    dc->own |= SET_COUNTERS;
    dc->rule_node = v;
}

/* One threshold of `alerts:` being read. */
struct threshold_ctx {
    const char *kind; /* "utilization", "errors", "discards" */
    struct config_threshold *t;
    int said_above, said_for; /* the key was there (a bad value is reported as such) */
    int have_above, have_for;
};

/* A threshold's `above`: a number from 0 on (at most 100 for a percent
 * of the speed, which may be written with a '%'). */
static void threshold_above(struct config_loader *ld, yaml_node_t *v, struct threshold_ctx *tc)
{
    int percent = strcmp(tc->kind, "utilization") == 0;
    char *s, *end;
    double x;

    tc->said_above = 1;
    if (config_get_string(ld, v, "above", &s) < 0)
        return;
    x = strtod(s, &end);
    if (percent && *end == '%')
        end++;
    if (end == s || *end != '\0' || !(x >= 0) || x > (percent ? 100.0 : 1e12) ||
        !(s[0] >= '0' && s[0] <= '9')) {
        if (percent)
            config_problem(ld, v,
                           "alerts.%s.above: \"%s\" is not a percent of the speed from 0 "
                           "to 100 (like 90%%)",
                           tc->kind, s);
        else
            config_problem(ld, v, "alerts.%s.above: \"%s\" is not a number per second from 0 on",
                           tc->kind, s);
    } else {
        tc->t->above = x;
        tc->have_above = 1;
    }
    free(s);
}

static void threshold_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct threshold_ctx *tc = arg;

    if (strcmp(key, "above") == 0) {
        threshold_above(ld, v, tc);
    } else {
        tc->said_for = 1;
        tc->have_for = config_get_duration(ld, v, "for", 0, 3600000, &tc->t->for_ms) == 0;
    }
}

static void alerts_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct config_alerts *a = arg;
    struct threshold_ctx tc = {.kind = key};
    char where[32];

    tc.t = strcmp(key, "utilization") == 0 ? &a->utilization
           : strcmp(key, "errors") == 0    ? &a->errors
                                           : &a->discards;
    snprintf(where, sizeof(where), "alerts.%s", key);
    if (v->type != YAML_MAPPING_NODE) {
        config_problem(ld, v, "%s: expected a mapping like {above: %s, for: 10s}", where,
                       tc.t == &a->utilization ? "90%" : "1");
        return;
    }
    memset(tc.t, 0, sizeof(*tc.t));
    config_each_pair(ld, v, where, threshold_keys, threshold_pair, &tc);
    if (!tc.said_above)
        config_problem(ld, v, "%s: missing \"above\" (the threshold)", where);
    if (!tc.said_for)
        config_problem(ld, v,
                       "%s: missing \"for\" (how long the value must stay above to raise the "
                       "alert, and below to clear it: for: 10s)",
                       where);
    tc.t->on = tc.have_above && tc.have_for;
}

/* alerts: a device's map replaces the one of `defaults:` as a whole; an
 * empty one turns every threshold off. */
static void device_alerts(struct config_loader *ld, yaml_node_t *v, struct device_ctx *dc)
{
    memset(&dc->dev->alerts, 0, sizeof(dc->dev->alerts));
    dc->set |= SET_ALERTS;
    dc->own |= SET_ALERTS;
    dc->rule_node = v;
    if (config_is_mapping(ld, v, "alerts"))
        config_each_pair(ld, v, "alerts", alert_keys, alerts_pair, &dc->dev->alerts);
}

static void device_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct device_ctx *dc = arg;
    struct config_device *d = dc->dev;
    char *s;

    if (dc->in_defaults && (strcmp(key, "name") == 0 || strcmp(key, "address") == 0)) {
        config_problem(ld, v, "%s cannot be a default: each device has its own", key);
        return;
    }
    if (strcmp(key, "interval") == 0) {
        config_get_duration(ld, v, key, 100, 3600000, &d->interval_ms);
    } else if (strcmp(key, "timeout") == 0) {
        config_get_duration(ld, v, key, 10, 60000, &d->timeout_ms);
    } else if (strcmp(key, "rediscover") == 0) {
        config_get_duration(ld, v, key, 0, 86400000, &d->rediscover_ms);
    } else if (strcmp(key, "retries") == 0) {
        config_get_int(ld, v, key, 0, 10, &d->retries);
    } else if (strcmp(key, "max_varbinds") == 0) {
        config_get_int(ld, v, key, 1, 1000, &d->max_varbinds);
    } else if (strcmp(key, "interfaces") == 0 || strcmp(key, "site_total") == 0) {
        char **list, ***slot = key[0] == 'i' ? &d->interfaces : &d->site_total;
        size_t n, *count = key[0] == 'i' ? &d->ninterfaces : &d->nsite_total;

        if (config_get_string_list(ld, v, key, &list, &n) == 0) {
            config_free_list(*slot, *count);
            *slot = list;
            *count = n;
        }
    } else if (strcmp(key, "counters") == 0) {
        device_counters(ld, v, dc);
    } else if (strcmp(key, "alerts") == 0) {
        device_alerts(ld, v, dc);
    } else if (config_get_string(ld, v, key, &s) == 0) {
        device_string(ld, dc, key, v, s);
    }
}

/* The built-in defaults, before `defaults:`. */
static void device_init(struct config_device *d)
{
    memset(d, 0, sizeof(*d));
    d->site = ifmon_xstrdup("default");
    d->community = ifmon_xstrdup("public");
    d->context = ifmon_xstrdup("");
    d->version = CONFIG_SNMP_V2C;
    d->port = CONFIG_DEFAULT_SNMP_PORT;
    d->interval_ms = CONFIG_DEFAULT_INTERVAL_MS;
    d->timeout_ms = CONFIG_DEFAULT_TIMEOUT_MS;
    d->retries = CONFIG_DEFAULT_RETRIES;
    d->max_varbinds = CONFIG_DEFAULT_MAX_VARBINDS;
    d->rediscover_ms = CONFIG_DEFAULT_REDISCOVER_MS;
    d->counters = CONFIG_DEFAULT_COUNTERS;
}

/* A name that would break a channel name or take a reserved one
 * (docs/PROTOCOL.md, part 1). */
static int bad_name(const char *s)
{
    return s[0] == '\0' || strpbrk(s, ":*?[] \t\r\n") != NULL || strcmp(s, "inventory") == 0 ||
           strcmp(s, "history") == 0 || strcmp(s, "events") == 0 || strcmp(s, "alerts") == 0 ||
           strcmp(s, "cluster") == 0;
}

/* How a problem names the device: "device NAME", or "device at line N"
 * for one without a usable name. */
static const char *device_label(const struct config_device *d, char *buf, size_t size)
{
    if (d->name && d->name[0])
        snprintf(buf, size, "device %.40s%s", d->name, strlen(d->name) > 40 ? "..." : "");
    else
        snprintf(buf, size, "device at line %d", d->line);
    return buf;
}

/* Alerts on errors or discards need them polled. Said where the entry (or
 * `defaults:`) set `counters:` or `alerts:`, once: a device that set
 * neither inherits the problem from `defaults:`, which reports it. */
static void check_alert_counters(struct config_loader *ld, yaml_node_t *map, struct device_ctx *dc)
{
    const struct config_device *d = dc->dev;
    const char *kind = d->alerts.errors.on ? "errors" : "discards";
    char label[80];

    if (!(d->alerts.errors.on || d->alerts.discards.on) || (d->counters & CONFIG_COUNTERS_ERRORS))
        return;
    if (dc->in_defaults)
        config_problem(ld, dc->rule_node ? dc->rule_node : map,
                       "defaults: alerts on %s need them polled: add errors to counters", kind);
    else if (dc->own & (SET_COUNTERS | SET_ALERTS))
        config_problem(ld, dc->rule_node ? dc->rule_node : map,
                       "%s: alerts on %s need them polled: add errors to counters",
                       device_label(d, label, sizeof(label)), kind);
}

/* Rules that involve several keys, checked once the entry is complete;
 * cfg->devices[0 .. index-1] are the entries before it. */
static void device_check(struct config_loader *ld, yaml_node_t *map, struct device_ctx *dc,
                         const struct config *cfg, size_t index)
{
    struct config_device *d = dc->dev;
    yaml_node_t *name_at = dc->name_node ? dc->name_node : map;
    char label[80];
    size_t j;

    if (d->name == NULL) {
        config_problem(ld, map, "device: missing \"name\"");
    } else if (bad_name(d->name)) {
        config_problem(ld, name_at,
                       "name: \"%s\" cannot be a device name (no ':', '*', '?', '[', ']' or white "
                       "space; \"inventory\", \"history\", \"events\", \"alerts\" and "
                       "\"cluster\" are reserved)",
                       d->name);
    } else if (strlen(d->name) > IFMON_NAME_MAX) {
        config_problem(ld, name_at,
                       "name: \"%.20s...\" is %zu bytes; a device name may have at most %d "
                       "(IFMON_NAME_MAX)",
                       d->name, strlen(d->name), IFMON_NAME_MAX);
    } else {
        for (j = 0; j < index; j++)
            if (cfg->devices[j].name && strcmp(cfg->devices[j].name, d->name) == 0) {
                config_problem(ld, name_at, "duplicate device name \"%s\" (first at line %d)",
                               d->name, cfg->devices[j].line);
                break;
            }
    }
    if (d->address == NULL)
        config_problem(ld, map, "%s: missing \"address\"", device_label(d, label, sizeof(label)));
    check_alert_counters(ld, map, dc);
    if (d->version != CONFIG_SNMP_V3)
        return;
    if (d->user == NULL || d->user[0] == '\0') {
        config_problem(ld, map, "%s: SNMPv3 needs \"user\"", device_label(d, label, sizeof(label)));
        return;
    }
    /* RFC 3414: the level follows the passwords given, unless it is said. */
    if (!(dc->set & SET_SEC_LEVEL))
        d->security_level = d->priv_password   ? CONFIG_SEC_AUTH_PRIV
                            : d->auth_password ? CONFIG_SEC_AUTH_NOPRIV
                                               : CONFIG_SEC_NOAUTH_NOPRIV;
    if (d->security_level != CONFIG_SEC_NOAUTH_NOPRIV) {
        if (d->auth_password == NULL)
            config_problem(ld, map, "%s: security_level needs \"auth_password\"",
                           device_label(d, label, sizeof(label)));
        if (!(dc->set & SET_AUTH_PROTO))
            d->auth_protocol = CONFIG_AUTH_SHA;
    } else {
        d->auth_protocol = CONFIG_AUTH_NONE;
    }
    if (d->security_level == CONFIG_SEC_AUTH_PRIV) {
        if (d->priv_password == NULL)
            config_problem(ld, map, "%s: authPriv needs \"priv_password\"",
                           device_label(d, label, sizeof(label)));
        if (!(dc->set & SET_PRIV_PROTO))
            d->priv_protocol = CONFIG_PRIV_AES;
    } else {
        d->priv_protocol = CONFIG_PRIV_NONE;
    }
}

/* ----------------------------------------------------- the two sections */

static void defaults_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct device_ctx *dc = arg;

    dc->in_defaults = 1;
    device_pair(ld, key, v, dc);
}

/* Each entry of the `devices:` list starts as a copy of tmpl (whose keys
 * tmpl_set says `defaults:` set). */
static void load_list(struct config_loader *ld, yaml_node_t *seq, const struct config_device *tmpl,
                      unsigned tmpl_set, struct config *cfg)
{
    yaml_node_item_t *it;
    size_t n;

    if (seq->type != YAML_SEQUENCE_NODE) {
        if (!(seq->type == YAML_SCALAR_NODE && seq->data.scalar.length == 0))
            config_problem(ld, seq, "devices: expected a list of devices");
        return;
    }
    n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    cfg->devices = ifmon_xcalloc(n, sizeof(*cfg->devices));
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *map = yaml_document_get_node(&ld->doc, *it);
        struct config_device *d = &cfg->devices[cfg->ndevices];
        struct device_ctx dc = {.dev = d, .set = tmpl_set};

        if (map == NULL || map->type != YAML_MAPPING_NODE) {
            config_problem(ld, map, "device: expected a mapping (name:, address:, ...)");
            continue;
        }
        config_device_copy(d, tmpl);
        d->line = (int)map->start_mark.line + 1;
        config_each_pair(ld, map, "device", device_keys, device_pair, &dc);
        device_check(ld, map, &dc, cfg, cfg->ndevices);
        cfg->ndevices++;
    }
}

void config_load_devices(struct config_loader *ld, yaml_node_t *defaults, yaml_node_t *devices,
                         struct config *cfg)
{
    struct config_device tmpl;
    struct device_ctx dc = {.dev = &tmpl};

    device_init(&tmpl);
    if (defaults && config_is_mapping(ld, defaults, "defaults")) {
        config_each_pair(ld, defaults, "defaults", device_keys, defaults_pair, &dc);
        dc.in_defaults = 1;
        check_alert_counters(ld, defaults, &dc);
    }
    if (devices)
        load_list(ld, devices, &tmpl, dc.set, cfg);
    config_device_clear(&tmpl);
}
