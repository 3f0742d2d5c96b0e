/* config.c -- load and validate the ifmon YAML file (see config.h).
 *
 * libyaml's document API gives every node its position, so each problem is
 * reported as FILE:LINE:COLUMN and loading goes on to find the others.
 * Key tables list what each section accepts; anything else is an unknown
 * key, with a suggestion when a known key is one or two edits away. */

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "log.h"

#define CONFIG_MAX_FILE (16 * 1024 * 1024)
#define MIN_PASSWORD 8 /* net-snmp refuses shorter USM passphrases */

struct loader {
    const char *file;
    yaml_document_t doc;
    struct config_errors *errs;
    size_t nerrors;
};

/* Fields a device entry (or `defaults:`) set explicitly. */
enum {
    SET_AUTH_PROTO = 1 << 0,
    SET_PRIV_PROTO = 1 << 1,
    SET_SEC_LEVEL = 1 << 2,
};

static const char *const redis_keys[] = {"host", "port", "password", "prefix", "history", NULL};
static const char *const gateway_keys[] = {
    "listen",       "web_root",  "allowed_origins", "token", "tokens", "max_connections",
    "max_channels", "max_frame", NULL};
static const char *const token_keys[] = {"token", "channels", NULL};
static const char *const device_keys[] = {"name",
                                          "site",
                                          "address",
                                          "community",
                                          "version",
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
                                          NULL};
static const char *const top_keys[] = {"redis", "defaults", "devices", "gateway", NULL};

/* ------------------------------------------------------------- errors */

static void add_line(struct loader *ld, char *line)
{
    struct config_errors *e = ld->errs;
    char **lines = realloc(e->lines, (e->count + 1) * sizeof(*lines));

    ld->nerrors++;
    if (lines == NULL) {
        free(line);
        return;
    }
    e->lines = lines;
    e->lines[e->count++] = line;
}

static void verr(struct loader *ld, const yaml_mark_t *mark, const char *fmt, va_list ap)
{
    char msg[512], *line;
    int n;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (mark)
        n = asprintf(&line, "%s:%zu:%zu: %s", ld->file, mark->line + 1, mark->column + 1, msg);
    else
        n = asprintf(&line, "%s: %s", ld->file, msg);
    if (n < 0)
        return;
    add_line(ld, line);
}

static void err_at(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_at(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verr(ld, node ? &node->start_mark : NULL, fmt, ap);
    va_end(ap);
}

static void err_mark(struct loader *ld, const yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_mark(struct loader *ld, const yaml_mark_t *mark, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verr(ld, mark, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ helpers */

static char *xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");

    if (d == NULL)
        abort();
    return d;
}

static void set_str(char **slot, char *value)
{
    free(*slot);
    *slot = value;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j, prev[64], cur[64];

    if (la >= 63 || lb >= 63)
        return 99;
    for (j = 0; j <= lb; j++)
        prev[j] = j;
    for (i = 1; i <= la; i++) {
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

static int key_known(const char *const *keys, const char *key)
{
    for (; *keys; keys++)
        if (strcmp(*keys, key) == 0)
            return 1;
    return 0;
}

static void unknown_key(struct loader *ld, const yaml_node_t *node, const char *key,
                        const char *where, const char *const *keys)
{
    const char *best = NULL;
    size_t best_d = 3;

    for (; *keys; keys++) {
        size_t d = edit_distance(key, *keys);

        if (d < best_d) {
            best_d = d;
            best = *keys;
        }
    }
    if (best)
        err_at(ld, node, "unknown key \"%s\" in %s (did you mean \"%s\"?)", key, where, best);
    else
        err_at(ld, node, "unknown key \"%s\" in %s", key, where);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Expand ${VAR}, ${VAR:-default} and $$ in a scalar. Returns a new string,
 * or NULL after reporting the problem. */
static char *expand(struct loader *ld, const yaml_node_t *node)
{
    const char *s = scalar(node), *p;
    size_t cap = strlen(s) + 1, len = 0;
    char *out = malloc(cap);
    int bad = 0;

    if (out == NULL)
        abort();
    for (p = s; *p;) {
        const char *val = NULL;
        size_t vlen = 0, need;
        char name[256];

        if (p[0] == '$' && p[1] == '$') {
            val = "$";
            vlen = 1;
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}'), *dflt = NULL;
            size_t nlen;

            if (end == NULL) {
                err_at(ld, node, "unterminated ${ in \"%s\"", s);
                bad = 1;
                break;
            }
            nlen = (size_t)(end - p - 2);
            {
                const char *colon = memchr(p + 2, ':', nlen);

                if (colon && colon[1] == '-') {
                    dflt = colon + 2;
                    nlen = (size_t)(colon - p - 2);
                }
            }
            if (nlen == 0 || nlen >= sizeof(name)) {
                err_at(ld, node, "bad environment variable reference in \"%s\"", s);
                bad = 1;
                p = end + 1;
                continue;
            }
            memcpy(name, p + 2, nlen);
            name[nlen] = '\0';
            val = getenv(name);
            if ((val == NULL || val[0] == '\0') && dflt) {
                val = dflt;
                vlen = (size_t)(end - dflt);
            } else if (val == NULL) {
                err_at(ld, node, "environment variable %s is not set", name);
                bad = 1;
                val = "";
            } else {
                vlen = strlen(val);
            }
            p = end + 1;
        } else {
            val = p;
            vlen = 1;
            p++;
        }
        need = len + vlen + 1;
        if (need > cap) {
            cap = need * 2;
            out = realloc(out, cap);
            if (out == NULL)
                abort();
        }
        memcpy(out + len, val, vlen);
        len += vlen;
    }
    out[len] = '\0';
    if (bad) {
        free(out);
        return NULL;
    }
    return out;
}

/* A string value. Returns 0 with a new string in *out, or -1. */
static int get_string(struct loader *ld, const yaml_node_t *n, const char *key, char **out)
{
    char *v;

    if (scalar(n) == NULL) {
        err_at(ld, n, "%s: expected a string", key);
        return -1;
    }
    v = expand(ld, n);
    if (v == NULL)
        return -1;
    *out = v;
    return 0;
}

static int get_int(struct loader *ld, const yaml_node_t *n, const char *key, long min, long max,
                   int *out)
{
    char *v, *end;
    long x;

    if (get_string(ld, n, key, &v) < 0)
        return -1;
    errno = 0;
    x = strtol(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno) {
        err_at(ld, n, "%s: expected a whole number, not \"%s\"", key, v);
        free(v);
        return -1;
    }
    free(v);
    if (x < min || x > max) {
        err_at(ld, n, "%s: %ld is out of range (%ld to %ld)", key, x, min, max);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int get_duration(struct loader *ld, const yaml_node_t *n, const char *key, int min_ms,
                        int max_ms, int *out)
{
    char *v;
    int ms;

    if (get_string(ld, n, key, &v) < 0)
        return -1;
    if (config_parse_duration(v, &ms) < 0) {
        err_at(ld, n, "%s: bad duration \"%s\" (a number with unit ms, s or m, like 800ms or 5s)",
               key, v);
        free(v);
        return -1;
    }
    free(v);
    if (ms < min_ms || ms > max_ms) {
        err_at(ld, n, "%s: %d ms is out of range (%d ms to %d ms)", key, ms, min_ms, max_ms);
        return -1;
    }
    *out = ms;
    return 0;
}

/* A sequence of non-empty strings. */
static int get_string_list(struct loader *ld, const yaml_node_t *n, const char *key, char ***out,
                           size_t *count)
{
    yaml_node_item_t *it;
    char **list;
    size_t k = 0;
    int bad = 0;

    if (n->type != YAML_SEQUENCE_NODE) {
        err_at(ld, n, "%s: expected a list", key);
        return -1;
    }
    list = calloc((size_t)(n->data.sequence.items.top - n->data.sequence.items.start) + 1,
                  sizeof(*list));
    if (list == NULL)
        abort();
    for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
        char *v;

        if (get_string(ld, item, key, &v) < 0) {
            bad = 1;
            continue;
        }
        if (v[0] == '\0') {
            err_at(ld, item, "%s: empty name", key);
            free(v);
            bad = 1;
            continue;
        }
        list[k++] = v;
    }
    if (bad) {
        while (k)
            free(list[--k]);
        free(list);
        return -1;
    }
    *out = list;
    *count = k;
    return 0;
}

static void free_list(char **list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Walk a mapping: report duplicate and unknown keys, call fn for the
 * others. */
typedef void (*pair_fn)(struct loader *ld, const char *key, yaml_node_t *value, void *arg);

static void each_pair(struct loader *ld, yaml_node_t *map, const char *where,
                      const char *const *keys, pair_fn fn, void *arg)
{
    yaml_node_pair_t *p, *q;

    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&ld->doc, p->value);
        const char *key = scalar(k);
        int dup = 0;

        if (key == NULL || v == NULL) {
            err_at(ld, k, "expected a plain key in %s", where);
            continue;
        }
        for (q = map->data.mapping.pairs.start; q < p; q++)
            if (scalar(yaml_document_get_node(&ld->doc, q->key)) &&
                strcmp(scalar(yaml_document_get_node(&ld->doc, q->key)), key) == 0)
                dup = 1;
        if (dup) {
            err_at(ld, k, "duplicate key \"%s\" in %s", key, where);
            continue;
        }
        if (!key_known(keys, key)) {
            unknown_key(ld, k, key, where, keys);
            continue;
        }
        fn(ld, key, v, arg);
    }
}

static int is_mapping(struct loader *ld, const yaml_node_t *n, const char *what)
{
    if (n->type == YAML_MAPPING_NODE)
        return 1;
    /* An empty section ("redis:" with nothing after it) is fine. */
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
        return 0;
    err_at(ld, n, "%s: expected a mapping", what);
    return 0;
}

/* ------------------------------------------------------------- values */

int config_parse_duration(const char *text, int *ms)
{
    char *end;
    double v;

    if (text == NULL || !((text[0] >= '0' && text[0] <= '9') || text[0] == '.'))
        return -1;
    errno = 0;
    v = strtod(text, &end);
    if (errno || end == text)
        return -1;
    if (strcmp(end, "ms") == 0)
        ;
    else if (strcmp(end, "s") == 0)
        v *= 1000.0;
    else if (strcmp(end, "m") == 0)
        v *= 60000.0;
    else
        return -1;
    if (!(v >= 0) || v > 86400000.0)
        return -1;
    *ms = (int)(v + 0.5);
    return 0;
}

int config_parse_address(const char *text, int default_port, char **host, int *port)
{
    const char *h = text, *colon;
    size_t hlen;
    long p = default_port;
    char *end;

    if (text == NULL || text[0] == '\0')
        return -1;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close == text + 1)
            return -1;
        h = text + 1;
        hlen = (size_t)(close - h);
        if (close[1] == ':') {
            colon = close + 1;
        } else if (close[1] == '\0') {
            colon = NULL;
        } else {
            return -1;
        }
    } else {
        colon = strrchr(text, ':');
        if (colon && strchr(text, ':') != colon)
            colon = NULL; /* bare IPv6 address, no port */
        hlen = colon ? (size_t)(colon - text) : strlen(text);
    }
    if (hlen == 0)
        return -1;
    if (colon) {
        errno = 0;
        p = strtol(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || errno || p < 1 || p > 65535)
            return -1;
    }
    *host = strndup(h, hlen);
    if (*host == NULL)
        abort();
    *port = (int)p;
    return 0;
}

const char *config_version_name(int version)
{
    return version == CONFIG_SNMP_V1 ? "1" : version == CONFIG_SNMP_V3 ? "3" : "2c";
}

/* ------------------------------------------------------------ devices */

struct device_ctx {
    struct config_device *dev;
    unsigned set;
    int in_defaults;
    yaml_node_t *name_node;
};

/* Names accepted for an enumerated value (case-insensitive). */
struct name_value {
    const char *name;
    int value;
};

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

static const struct name_value level_names[] = {{"noAuthNoPriv", CONFIG_SEC_NOAUTH_NOPRIV},
                                                {"authNoPriv", CONFIG_SEC_AUTH_NOPRIV},
                                                {"authPriv", CONFIG_SEC_AUTH_PRIV},
                                                {NULL, 0}};

static int lookup_name(const struct name_value *t, const char *v, int *out)
{
    for (; t->name; t++)
        if (strcasecmp(v, t->name) == 0) {
            *out = t->value;
            return 0;
        }
    return -1;
}

static void device_pair(struct loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct device_ctx *dc = arg;
    struct config_device *d = dc->dev;
    char *s = NULL;

    if (dc->in_defaults && (strcmp(key, "name") == 0 || strcmp(key, "address") == 0)) {
        err_at(ld, v, "%s cannot be a default: each device has its own", key);
        return;
    }
    if (strcmp(key, "interval") == 0) {
        get_duration(ld, v, key, 100, 3600000, &d->interval_ms);
    } else if (strcmp(key, "timeout") == 0) {
        get_duration(ld, v, key, 10, 60000, &d->timeout_ms);
    } else if (strcmp(key, "rediscover") == 0) {
        get_duration(ld, v, key, 0, 86400000, &d->rediscover_ms);
    } else if (strcmp(key, "retries") == 0) {
        get_int(ld, v, key, 0, 10, &d->retries);
    } else if (strcmp(key, "max_varbinds") == 0) {
        get_int(ld, v, key, 1, 1000, &d->max_varbinds);
    } else if (strcmp(key, "interfaces") == 0) {
        char **list;
        size_t n;

        if (get_string_list(ld, v, key, &list, &n) == 0) {
            free_list(d->interfaces, d->ninterfaces);
            d->interfaces = list;
            d->ninterfaces = n;
        }
    } else if (get_string(ld, v, key, &s) < 0) {
        return;
    } else if (strcmp(key, "name") == 0) {
        dc->name_node = v;
        set_str(&d->name, s);
        s = NULL;
    } else if (strcmp(key, "site") == 0) {
        if (s[0] == '\0')
            err_at(ld, v, "site: empty name");
        set_str(&d->site, s);
        s = NULL;
    } else if (strcmp(key, "address") == 0) {
        char *host;
        int port;

        if (config_parse_address(s, CONFIG_DEFAULT_SNMP_PORT, &host, &port) < 0) {
            err_at(ld, v, "address: \"%s\" is not host, host:port or [ipv6]:port", s);
        } else {
            set_str(&d->host, host);
            d->port = port;
        }
        set_str(&d->address, s);
        s = NULL;
    } else if (strcmp(key, "community") == 0) {
        set_str(&d->community, s);
        s = NULL;
    } else if (strcmp(key, "version") == 0) {
        if (strcmp(s, "1") == 0)
            d->version = CONFIG_SNMP_V1;
        else if (strcmp(s, "2c") == 0 || strcmp(s, "2") == 0)
            d->version = CONFIG_SNMP_V2C;
        else if (strcmp(s, "3") == 0)
            d->version = CONFIG_SNMP_V3;
        else
            err_at(ld, v, "version: \"%s\" is not 1, 2c or 3", s);
    } else if (strcmp(key, "user") == 0) {
        set_str(&d->user, s);
        s = NULL;
    } else if (strcmp(key, "context") == 0) {
        set_str(&d->context, s);
        s = NULL;
    } else if (strcmp(key, "security_level") == 0) {
        if (lookup_name(level_names, s, &d->security_level) < 0)
            err_at(ld, v, "security_level: \"%s\" is not noAuthNoPriv, authNoPriv or authPriv", s);
        dc->set |= SET_SEC_LEVEL;
    } else if (strcmp(key, "auth_protocol") == 0) {
        if (lookup_name(auth_names, s, &d->auth_protocol) < 0)
            err_at(ld, v,
                   "auth_protocol: \"%s\" is not MD5, SHA, SHA-224, SHA-256, SHA-384 "
                   "or SHA-512",
                   s);
        dc->set |= SET_AUTH_PROTO;
    } else if (strcmp(key, "priv_protocol") == 0) {
        if (lookup_name(priv_names, s, &d->priv_protocol) < 0)
            err_at(ld, v, "priv_protocol: \"%s\" is not DES, AES, AES-192 or AES-256", s);
        dc->set |= SET_PRIV_PROTO;
    } else if (strcmp(key, "auth_password") == 0 || strcmp(key, "priv_password") == 0) {
        if (s[0] && strlen(s) < MIN_PASSWORD)
            err_at(ld, v, "%s: at least %d characters (SNMPv3 USM, RFC 3414)", key, MIN_PASSWORD);
        set_str(key[0] == 'a' ? &d->auth_password : &d->priv_password, s[0] ? s : NULL);
        if (s[0] == '\0')
            free(s);
        s = NULL;
    }
    free(s);
}

static void device_defaults(struct config_device *d)
{
    memset(d, 0, sizeof(*d));
    d->site = xstrdup("default");
    d->community = xstrdup("public");
    d->context = xstrdup("");
    d->version = CONFIG_SNMP_V2C;
    d->port = CONFIG_DEFAULT_SNMP_PORT;
    d->interval_ms = CONFIG_DEFAULT_INTERVAL_MS;
    d->timeout_ms = CONFIG_DEFAULT_TIMEOUT_MS;
    d->retries = CONFIG_DEFAULT_RETRIES;
    d->max_varbinds = CONFIG_DEFAULT_MAX_VARBINDS;
    d->rediscover_ms = CONFIG_DEFAULT_REDISCOVER_MS;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void device_copy(struct config_device *d, const struct config_device *t)
{
    size_t i;

    *d = *t;
    d->name = dup_or_null(t->name);
    d->site = dup_or_null(t->site);
    d->address = dup_or_null(t->address);
    d->host = dup_or_null(t->host);
    d->community = dup_or_null(t->community);
    d->user = dup_or_null(t->user);
    d->auth_password = dup_or_null(t->auth_password);
    d->priv_password = dup_or_null(t->priv_password);
    d->context = dup_or_null(t->context);
    d->interfaces = NULL;
    if (t->ninterfaces) {
        d->interfaces = calloc(t->ninterfaces, sizeof(char *));
        if (d->interfaces == NULL)
            abort();
        for (i = 0; i < t->ninterfaces; i++)
            d->interfaces[i] = xstrdup(t->interfaces[i]);
    }
}

static void device_free(struct config_device *d)
{
    free(d->name);
    free(d->site);
    free(d->address);
    free(d->host);
    free(d->community);
    free(d->user);
    free(d->auth_password);
    free(d->priv_password);
    free(d->context);
    free_list(d->interfaces, d->ninterfaces);
}

static int bad_name(const char *s)
{
    return s[0] == '\0' || strpbrk(s, ":*?[] \t\r\n") != NULL || strcmp(s, "inventory") == 0 ||
           strcmp(s, "history") == 0;
}

/* Rules that involve several keys, checked once the entry is complete. */
static void device_check(struct loader *ld, yaml_node_t *map, struct device_ctx *dc,
                         const struct config *cfg, size_t index)
{
    struct config_device *d = dc->dev;
    size_t j;

    if (d->name == NULL) {
        err_at(ld, map, "device: missing \"name\"");
    } else if (bad_name(d->name)) {
        err_at(ld, dc->name_node ? dc->name_node : map,
               "name: \"%s\" cannot be a device name (no ':', '*', '?', '[', ']' or white "
               "space; \"inventory\" and \"history\" are reserved)",
               d->name);
    } else {
        for (j = 0; j < index; j++)
            if (cfg->devices[j].name && strcmp(cfg->devices[j].name, d->name) == 0) {
                err_at(ld, dc->name_node ? dc->name_node : map,
                       "duplicate device name \"%s\" (first at line %d)", d->name,
                       cfg->devices[j].line);
                break;
            }
    }
    if (d->address == NULL)
        err_at(ld, map, "device %s: missing \"address\"", d->name ? d->name : "");
    if (d->version != CONFIG_SNMP_V3)
        return;
    if (d->user == NULL || d->user[0] == '\0') {
        err_at(ld, map, "device %s: SNMPv3 needs \"user\"", d->name ? d->name : "");
        return;
    }
    if (!(dc->set & SET_SEC_LEVEL))
        d->security_level = d->priv_password   ? CONFIG_SEC_AUTH_PRIV
                            : d->auth_password ? CONFIG_SEC_AUTH_NOPRIV
                                               : CONFIG_SEC_NOAUTH_NOPRIV;
    if (d->security_level != CONFIG_SEC_NOAUTH_NOPRIV) {
        if (d->auth_password == NULL)
            err_at(ld, map, "device %s: security_level needs \"auth_password\"",
                   d->name ? d->name : "");
        if (!(dc->set & SET_AUTH_PROTO))
            d->auth_protocol = CONFIG_AUTH_SHA;
    } else {
        d->auth_protocol = CONFIG_AUTH_NONE;
    }
    if (d->security_level == CONFIG_SEC_AUTH_PRIV) {
        if (d->priv_password == NULL)
            err_at(ld, map, "device %s: authPriv needs \"priv_password\"", d->name ? d->name : "");
        if (!(dc->set & SET_PRIV_PROTO))
            d->priv_protocol = CONFIG_PRIV_AES;
    } else {
        d->priv_protocol = CONFIG_PRIV_NONE;
    }
}

static void load_devices(struct loader *ld, yaml_node_t *seq, const struct config_device *tmpl,
                         unsigned tmpl_set, struct config *cfg)
{
    yaml_node_item_t *it;
    size_t n;

    if (seq->type != YAML_SEQUENCE_NODE) {
        if (!(seq->type == YAML_SCALAR_NODE && seq->data.scalar.length == 0))
            err_at(ld, seq, "devices: expected a list of devices");
        return;
    }
    n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    cfg->devices = calloc(n ? n : 1, sizeof(*cfg->devices));
    if (cfg->devices == NULL)
        abort();
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *map = yaml_document_get_node(&ld->doc, *it);
        struct config_device *d = &cfg->devices[cfg->ndevices];
        struct device_ctx dc = {.dev = d, .set = tmpl_set};

        if (map == NULL || map->type != YAML_MAPPING_NODE) {
            err_at(ld, map, "device: expected a mapping (name:, address:, ...)");
            continue;
        }
        device_copy(d, tmpl);
        d->line = (int)map->start_mark.line + 1;
        each_pair(ld, map, "device", device_keys, device_pair, &dc);
        device_check(ld, map, &dc, cfg, cfg->ndevices);
        cfg->ndevices++;
    }
}

/* ------------------------------------------------------- other sections */

static void redis_pair(struct loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct config_redis *r = arg;
    char *s;

    if (strcmp(key, "port") == 0) {
        get_int(ld, v, key, 1, 65535, &r->port);
    } else if (strcmp(key, "history") == 0) {
        get_int(ld, v, key, 1, 100000, &r->history);
    } else if (get_string(ld, v, key, &s) == 0) {
        if (strcmp(key, "host") == 0) {
            if (s[0] == '\0')
                err_at(ld, v, "host: empty");
            set_str(&r->host, s);
        } else if (strcmp(key, "password") == 0) {
            set_str(&r->password, s[0] ? s : NULL);
            if (s[0] == '\0')
                free(s);
        } else {
            if (s[0] == '\0' || strpbrk(s, "*?[] \t\r\n:"))
                err_at(ld, v,
                       "prefix: \"%s\" must be non-empty, without ':', '*', '?', '[', "
                       "']' or white space",
                       s);
            set_str(&r->prefix, s);
        }
    }
}

struct gateway_ctx {
    struct config_gateway *g;
    const char *prefix; /* redis.prefix, read first */
};

/* gateway.tokens entries. */
struct token_ctx {
    struct config_token *t;
    const char *prefix;
    yaml_node_t *token_node;
};

static void token_pair(struct loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct token_ctx *tc = arg;
    struct config_token *t = tc->t;
    yaml_node_item_t *it;
    size_t plen = strlen(tc->prefix), i;
    char *s;

    if (strcmp(key, "token") == 0) {
        if (get_string(ld, v, key, &s) == 0) {
            set_str(&t->token, s);
            tc->token_node = v;
        }
        return;
    }
    if (get_string_list(ld, v, key, &t->channels, &t->nchannels) < 0)
        return;
    /* The subscribe rules of docs/PROTOCOL.md: "<prefix>:" first, and
     * '*' only as the last character. */
    for (i = 0, it = v->data.sequence.items.start; i < t->nchannels; i++, it++) {
        const char *c = t->channels[i], *star = strchr(c, '*');

        if (strncmp(c, tc->prefix, plen) != 0 || c[plen] != ':' || c[plen + 1] == '\0')
            err_at(ld, yaml_document_get_node(&ld->doc, *it),
                   "channels: \"%s\" must start with \"%s:\" (redis.prefix)", c, tc->prefix);
        else if (star && star[1] != '\0')
            err_at(ld, yaml_document_get_node(&ld->doc, *it),
                   "channels: \"%s\": '*' may only be the last character", c);
    }
}

static void load_tokens(struct loader *ld, yaml_node_t *seq, struct config_gateway *g,
                        const char *prefix)
{
    yaml_node_item_t *it;
    size_t n, j;

    if (seq->type != YAML_SEQUENCE_NODE) {
        err_at(ld, seq, "tokens: expected a list of {token:, channels:}");
        return;
    }
    n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    g->tokens = calloc(n ? n : 1, sizeof(*g->tokens));
    if (g->tokens == NULL)
        abort();
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *map = yaml_document_get_node(&ld->doc, *it);
        struct config_token *t = &g->tokens[g->ntokens];
        struct token_ctx tc = {.t = t, .prefix = prefix};

        if (map == NULL || map->type != YAML_MAPPING_NODE) {
            err_at(ld, map, "tokens: expected a mapping (token:, channels:)");
            continue;
        }
        t->line = (int)map->start_mark.line + 1;
        g->ntokens++;
        each_pair(ld, map, "tokens entry", token_keys, token_pair, &tc);
        if (t->token == NULL || t->token[0] == '\0') {
            err_at(ld, tc.token_node ? tc.token_node : map, "tokens: missing or empty \"token\"");
            continue;
        }
        if (t->nchannels == 0) {
            err_at(ld, map, "tokens: missing or empty \"channels\" (what this token may see)");
            continue;
        }
        for (j = 0; j + 1 < g->ntokens; j++)
            if (g->tokens[j].token && strcmp(g->tokens[j].token, t->token) == 0) {
                err_at(ld, tc.token_node, "tokens: the same token as the entry at line %d",
                       g->tokens[j].line);
                break;
            }
    }
}

static void gateway_pair(struct loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct gateway_ctx *gc = arg;
    struct config_gateway *g = gc->g;
    char *s;

    if (strcmp(key, "tokens") == 0) {
        load_tokens(ld, v, g, gc->prefix);
    } else if (strcmp(key, "max_connections") == 0) {
        get_int(ld, v, key, 1, 1000000, &g->max_connections);
    } else if (strcmp(key, "max_channels") == 0) {
        get_int(ld, v, key, 1, 100000, &g->max_channels);
    } else if (strcmp(key, "max_frame") == 0) {
        get_int(ld, v, key, 128, 16777216, &g->max_frame);
    } else if (strcmp(key, "allowed_origins") == 0) {
        char **list;
        size_t n;

        if (get_string_list(ld, v, key, &list, &n) == 0) {
            free_list(g->allowed_origins, g->nallowed_origins);
            g->allowed_origins = list;
            g->nallowed_origins = n;
        }
    } else if (get_string(ld, v, key, &s) == 0) {
        if (strcmp(key, "listen") == 0) {
            char *host;
            int port;

            if (config_parse_address(s, 8080, &host, &port) < 0) {
                err_at(ld, v, "listen: \"%s\" is not host:port", s);
            } else {
                set_str(&g->listen_host, host);
                g->listen_port = port;
            }
            free(s);
        } else if (strcmp(key, "web_root") == 0) {
            set_str(&g->web_root, s);
        } else {
            set_str(&g->token, s);
        }
    }
}

static void defaults_pair(struct loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct device_ctx *dc = arg;

    dc->in_defaults = 1;
    device_pair(ld, key, v, dc);
}

static void config_defaults(struct config *cfg)
{
    cfg->redis.host = xstrdup("127.0.0.1");
    cfg->redis.port = CONFIG_DEFAULT_REDIS_PORT;
    cfg->redis.prefix = xstrdup("ifmon");
    cfg->redis.history = CONFIG_DEFAULT_HISTORY;
    cfg->gateway.listen_host = xstrdup("127.0.0.1");
    cfg->gateway.listen_port = 8080;
    cfg->gateway.web_root = xstrdup("web/");
    cfg->gateway.token = xstrdup("");
    cfg->gateway.max_connections = 10000;
    cfg->gateway.max_channels = 256;
    cfg->gateway.max_frame = 65536;
}

static void load_document(struct loader *ld, struct config *cfg)
{
    yaml_node_t *root = yaml_document_get_root_node(&ld->doc), *sect[4] = {0};
    struct config_device tmpl;
    struct device_ctx dc = {.dev = &tmpl};
    yaml_node_pair_t *p;
    size_t i;

    if (root == NULL)
        return; /* empty file: all defaults */
    if (root->type != YAML_MAPPING_NODE) {
        if (!(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
            err_at(ld, root, "expected a mapping with redis:, defaults:, devices:, gateway:");
        return;
    }
    for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);
        const char *key = scalar(k);

        if (key == NULL) {
            err_at(ld, k, "expected a plain key");
            continue;
        }
        for (i = 0; top_keys[i]; i++)
            if (strcmp(top_keys[i], key) == 0)
                break;
        if (top_keys[i] == NULL)
            unknown_key(ld, k, key, "the file", top_keys);
        else if (sect[i])
            err_at(ld, k, "duplicate key \"%s\"", key);
        else
            sect[i] = yaml_document_get_node(&ld->doc, p->value);
    }
    if (sect[0] && is_mapping(ld, sect[0], "redis"))
        each_pair(ld, sect[0], "redis", redis_keys, redis_pair, &cfg->redis);
    if (sect[3] && is_mapping(ld, sect[3], "gateway")) {
        each_pair(ld, sect[3], "gateway", gateway_keys, gateway_pair,
                  &(struct gateway_ctx){.g = &cfg->gateway, .prefix = cfg->redis.prefix});
        for (i = 0; i < cfg->gateway.ntokens; i++)
            if (cfg->gateway.tokens[i].token &&
                strcmp(cfg->gateway.tokens[i].token, cfg->gateway.token) == 0)
                err_at(ld, sect[3],
                       "gateway: the tokens entry at line %d repeats gateway.token, which "
                       "already sees every channel",
                       cfg->gateway.tokens[i].line);
    }
    device_defaults(&tmpl);
    if (sect[1] && is_mapping(ld, sect[1], "defaults"))
        each_pair(ld, sect[1], "defaults", device_keys, defaults_pair, &dc);
    if (sect[2])
        load_devices(ld, sect[2], &tmpl, dc.set, cfg);
    device_free(&tmpl);
}

/* ---------------------------------------------------------------- API */

struct config *config_load_buffer(const char *name, const char *text, size_t len,
                                  struct config_errors *errs)
{
    struct loader ld = {.file = name, .errs = errs};
    yaml_parser_t parser;
    struct config *cfg;

    if (memchr(text, '\0', len)) {
        err_mark(&ld, NULL, "contains a NUL byte: not a text file");
        return NULL;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        abort();
    cfg->path = xstrdup(name);
    config_defaults(cfg);
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &ld.doc)) {
        const yaml_mark_t *m = parser.problem_mark.line || parser.problem_mark.column
                                   ? &parser.problem_mark
                                   : &parser.context_mark;

        err_mark(&ld, m, "malformed YAML: %s%s%s", parser.problem ? parser.problem : "error",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        config_free(cfg);
        return NULL;
    }
    load_document(&ld, cfg);
    yaml_document_delete(&ld.doc);
    yaml_parser_delete(&parser);
    if (ld.nerrors) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

struct config *config_load(const char *path, struct config_errors *errs)
{
    struct loader ld = {.file = path, .errs = errs};
    struct config *cfg = NULL;
    struct stat st;
    char *text = NULL;
    size_t len;
    FILE *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        err_mark(&ld, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        err_mark(&ld, NULL, "not a regular file");
        goto out;
    }
    if (st.st_size > CONFIG_MAX_FILE) {
        err_mark(&ld, NULL, "too large (%lld bytes, at most %d)", (long long)st.st_size,
                 CONFIG_MAX_FILE);
        goto out;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text == NULL)
        abort();
    len = fread(text, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        err_mark(&ld, NULL, "cannot read: %s", strerror(errno));
        goto out;
    }
    cfg = config_load_buffer(path, text, len, errs);
out:
    free(text);
    fclose(f);
    return cfg;
}

struct config *config_load_reported(const char *path, int as_log)
{
    struct config_errors errs = {0};
    struct config *cfg = config_load(path, &errs);
    size_t i;

    for (i = 0; i < errs.count; i++) {
        if (as_log)
            log_err("%s", errs.lines[i]);
        else
            fprintf(stderr, "%s\n", errs.lines[i]);
    }
    config_errors_free(&errs);
    return cfg;
}

void config_free(struct config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->ndevices; i++)
        device_free(&cfg->devices[i]);
    free(cfg->devices);
    free(cfg->redis.host);
    free(cfg->redis.password);
    free(cfg->redis.prefix);
    free(cfg->gateway.listen_host);
    free(cfg->gateway.web_root);
    free_list(cfg->gateway.allowed_origins, cfg->gateway.nallowed_origins);
    free(cfg->gateway.token);
    for (i = 0; i < cfg->gateway.ntokens; i++) {
        free(cfg->gateway.tokens[i].token);
        free_list(cfg->gateway.tokens[i].channels, cfg->gateway.tokens[i].nchannels);
    }
    free(cfg->gateway.tokens);
    free(cfg->path);
    free(cfg);
}

void config_errors_free(struct config_errors *errs)
{
    size_t i;

    for (i = 0; i < errs->count; i++)
        free(errs->lines[i]);
    free(errs->lines);
    errs->lines = NULL;
    errs->count = 0;
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int config_device_equal(const struct config_device *a, const struct config_device *b)
{
    size_t i;

    if (!str_eq(a->name, b->name) || !str_eq(a->site, b->site) || !str_eq(a->host, b->host) ||
        !str_eq(a->address, b->address) || a->port != b->port || a->version != b->version ||
        !str_eq(a->community, b->community) || a->interval_ms != b->interval_ms ||
        a->timeout_ms != b->timeout_ms || a->retries != b->retries ||
        a->max_varbinds != b->max_varbinds || a->rediscover_ms != b->rediscover_ms ||
        a->ninterfaces != b->ninterfaces || !str_eq(a->user, b->user) ||
        a->security_level != b->security_level || a->auth_protocol != b->auth_protocol ||
        !str_eq(a->auth_password, b->auth_password) || a->priv_protocol != b->priv_protocol ||
        !str_eq(a->priv_password, b->priv_password) || !str_eq(a->context, b->context))
        return 0;
    for (i = 0; i < a->ninterfaces; i++)
        if (strcmp(a->interfaces[i], b->interfaces[i]) != 0)
            return 0;
    return 1;
}
