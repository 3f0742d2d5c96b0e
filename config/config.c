/* config.c -- the ifmon YAML file as a whole (see config.h): its top-level
 * sections, `redis:`, `gateway:` with its `tokens:`, and the public load
 * and free functions.
 *
 * The device entries (`defaults:`, `devices:`) are config_device.c's, and
 * the machinery both read sections with (positions, scalars, getters,
 * unknown keys) is config_loader.c's. */

#include "config_loader.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keys.h"
#include "log.h"
#include "util.h"

#define CONFIG_MAX_FILE (16 * 1024 * 1024)

/* The top-level sections: their index in top_keys[] and in load_document()'s sect[]. */
enum { SECT_REDIS, SECT_DEFAULTS, SECT_DEVICES, SECT_GATEWAY, SECT_COLLECTOR, NSECT };

static const char *const top_keys[] = {"redis",   "defaults",  "devices",
                                       "gateway", "collector", NULL};
static const char *const collector_keys[] = {"listen", "id", "shared", "poll_grid", NULL};
static const char *const redis_keys[] = {"host",    "port",      "password",    "prefix",
                                         "history", "sentinels", "master_name", NULL};
static const char *const gateway_keys[] = {
    "listen", "web_root", "allowed_origins", "token", "tokens", "max_connections", "max_channels",
    "max_frame", "flush_ms", "io_uring",
    /* hostile clients: the Host check and who may read /metrics */
    "hosts", "metrics_listen", "metrics_token",
    /* limits per client address, and who says which address that is */
    "max_connections_per_address", "max_subscriptions", "max_subscriptions_per_address",
    "trusted_proxies", NULL};
static const char *const token_keys[] = {"token", "channels", NULL};

/* `gateway:` is read after `redis:`, whose prefix the tokens' channels
 * must start with. */
struct gateway_ctx {
    struct config_gateway *g;
    const char *prefix;        /* redis.prefix */
    enum config_reader reader; /* the gateway checks what only it uses (CONFIG_TOKEN_MIN) */
    yaml_node_t *metrics_node; /* where metrics_listen or metrics_token was */
};

/* One entry of gateway.tokens. */
struct token_ctx {
    struct config_token *t;
    const char *prefix;      /* redis.prefix */
    yaml_node_t *token_node; /* where `token:` was, for messages */
};

static int token_too_short(struct config_loader *ld, yaml_node_t *at, const char *what,
                           const char *token);

/* -------------------------------------------------------------- redis */

static int parse_listen(const char *text, char **host, int *port, const char **why);

/* redis.sentinels: a list of HOST:PORT. */
static void load_sentinels(struct config_loader *ld, yaml_node_t *v, struct config_redis *r)
{
    char **list;
    size_t n, i;

    if (config_get_string_list(ld, v, "sentinels", &list, &n) < 0)
        return;
    if (n > CONFIG_SENTINELS_MAX)
        config_problem(ld, v, "sentinels: %zu entries; at most %d", n, CONFIG_SENTINELS_MAX);
    for (i = 0; i < r->nsentinels; i++)
        free((char *)r->sentinels[i].host);
    free(r->sentinels);
    r->sentinels = ifmon_xcalloc(n ? n : 1, sizeof(*r->sentinels));
    r->nsentinels = 0;
    for (i = 0; i < n; i++) {
        const char *why = "";
        char *host;
        int port;

        if (parse_listen(list[i], &host, &port, &why) < 0) {
            config_problem(ld, v, "sentinels: \"%s\" is not HOST:PORT or [IPV6]:PORT: %s", list[i],
                           why);
            continue;
        }
        r->sentinels[r->nsentinels].host = host;
        r->sentinels[r->nsentinels].port = port;
        r->nsentinels++;
    }
    config_free_list(list, n);
}

static void redis_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct config_redis *r = arg;
    char *s;

    if (strcmp(key, "sentinels") == 0) {
        load_sentinels(ld, v, r);
    } else if (strcmp(key, "port") == 0) {
        config_get_int(ld, v, key, 1, 65535, &r->port);
    } else if (strcmp(key, "history") == 0) {
        config_get_int(ld, v, key, 1, 100000, &r->history);
    } else if (config_get_string(ld, v, key, &s) == 0) {
        if (strcmp(key, "host") == 0) {
            if (s[0] == '\0')
                config_problem(ld, v, "host: empty");
            config_set_string(&r->host, s);
        } else if (strcmp(key, "password") == 0) {
            /* An empty password is no password. */
            if (s[0] == '\0') {
                free(s);
                s = NULL;
            }
            config_set_string(&r->password, s);
        } else if (strcmp(key, "master_name") == 0) {
            if (s[0] == '\0' || strlen(s) > 128 || strpbrk(s, " \t\r\n"))
                config_problem(ld, v,
                               "master_name: \"%.40s\" must be 1 to 128 characters, no "
                               "white space",
                               s);
            config_set_string(&r->master_name, s);
        } else {
            if (s[0] == '\0' || strpbrk(s, "*?[] \t\r\n:"))
                config_problem(ld, v,
                               "prefix: \"%s\" must be non-empty, without ':', '*', '?', '[', "
                               "']' or white space",
                               s);
            else if (strlen(s) > IFMON_PREFIX_MAX)
                config_problem(ld, v,
                               "prefix: \"%.20s...\" is %zu bytes; a prefix may have at most %d "
                               "(IFMON_PREFIX_MAX)",
                               s, strlen(s), IFMON_PREFIX_MAX);
            config_set_string(&r->prefix, s);
        }
    }
}

/* ------------------------------------------------------------ gateway */

/* A host name (RFC 1123 section 2.1): labels of letters, digits and '-',
 * 1 to 63 bytes, not starting or ending with '-', at most 253 bytes in all;
 * the last label not all digits (RFC 3696 section 2), so that "1.2.3.4.5"
 * is neither an address nor a name. An interface name such as "eth0"
 * passes too (libwebsockets binds to an interface's address). */
static int is_host_name(const char *s, size_t len)
{
    size_t i, label = 0;
    int digits_only = 1;

    if (len == 0 || len > 253)
        return 0;
    for (i = 0; i <= len; i++) {
        char c = i < len ? s[i] : '.';

        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return 0;
            if (i == len && digits_only)
                return 0;
            label = 0;
            digits_only = 1;
            continue;
        }
        if (!(isalnum((unsigned char)c) || c == '-') || (label == 0 && c == '-'))
            return 0;
        if (!isdigit((unsigned char)c))
            digits_only = 0;
        label++;
    }
    return 1;
}

/* gateway.listen, strictly: "HOST:PORT" with HOST an IPv4 address or a
 * name, or "[IPV6]:PORT"; the port is required (1 to 65535, digits only).
 * Returns 0 with a new *host (without brackets) and *port, or -1 with
 * what is wrong in why. config_parse_address() is the lenient syntax of
 * device addresses (a port may be left out there). */
static int parse_listen(const char *text, char **host, int *port, const char **why)
{
    const char *h = text, *colon, *p;
    size_t hlen;
    long n = 0;
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[sizeof(struct in6_addr)];

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL) {
            *why = "a '[' without ']'";
            return -1;
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        if (hlen == 0 || hlen >= sizeof(buf)) {
            *why = "not an IPv6 address between '[' and ']'";
            return -1;
        }
        memcpy(buf, h, hlen);
        buf[hlen] = '\0';
        if (inet_pton(AF_INET6, buf, addr) != 1) {
            *why = "not an IPv6 address between '[' and ']'";
            return -1;
        }
        if (close[1] != ':') {
            *why = close[1] ? "expected ':' and a port after ']'" : "a port is required";
            return -1;
        }
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            *why = "a port is required";
            return -1;
        }
        if (strchr(text, ':') != colon) {
            *why = "an IPv6 address is written in brackets: \"[ADDRESS]:PORT\"";
            return -1;
        }
        hlen = (size_t)(colon - text);
        if (hlen == 0) {
            *why = "the host is missing";
            return -1;
        }
        if (strspn(text, "0123456789.") == hlen) {
            /* Only digits and dots: it must be an IPv4 address. */
            int ok = hlen < sizeof(buf);

            if (ok) {
                memcpy(buf, text, hlen);
                buf[hlen] = '\0';
                ok = inet_pton(AF_INET, buf, addr) == 1;
            }
            if (!ok) {
                *why = "not an IPv4 address";
                return -1;
            }
        } else if (!is_host_name(text, hlen)) {
            *why = "the host is neither an IP address nor a host name";
            return -1;
        }
    }
    p = colon + 1;
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 ||
        (n = strtol(p, NULL, 10)) < 1 || n > 65535) {
        *why = "the port must be a number from 1 to 65535";
        return -1;
    }
    *host = ifmon_xstrndup(h, hlen);
    *port = (int)n;
    return 0;
}

static void token_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct token_ctx *tc = arg;
    struct config_token *t = tc->t;
    yaml_node_item_t *it;
    size_t plen = strlen(tc->prefix), i;
    char *s;

    if (strcmp(key, "token") == 0) {
        if (config_get_string(ld, v, key, &s) == 0) {
            config_set_string(&t->token, s);
            tc->token_node = v;
        }
        return;
    }
    if (config_get_string_list(ld, v, key, &t->channels, &t->nchannels) < 0)
        return;
    /* The subscribe rules of docs/PROTOCOL.md: "<prefix>:" first, and
     * '*' only as the last character. */
    for (i = 0, it = v->data.sequence.items.start; i < t->nchannels; i++, it++) {
        const char *c = t->channels[i], *star = strchr(c, '*');

        if (strncmp(c, tc->prefix, plen) != 0 || c[plen] != ':' || c[plen + 1] == '\0')
            config_problem(ld, yaml_document_get_node(&ld->doc, *it),
                           "channels: \"%s\" must start with \"%s:\" (redis.prefix)", c,
                           tc->prefix);
        else if (star && star[1] != '\0')
            config_problem(ld, yaml_document_get_node(&ld->doc, *it),
                           "channels: \"%s\": '*' may only be the last character", c);
    }
}

static void load_tokens(struct config_loader *ld, yaml_node_t *seq, struct config_gateway *g,
                        const char *prefix, enum config_reader reader)
{
    yaml_node_item_t *it;
    size_t n, j;

    if (seq->type != YAML_SEQUENCE_NODE) {
        config_problem(ld, seq, "tokens: expected a list of {token:, channels:}");
        return;
    }
    n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    g->tokens = ifmon_xcalloc(n, sizeof(*g->tokens));
    for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *map = yaml_document_get_node(&ld->doc, *it);
        struct config_token *t = &g->tokens[g->ntokens];
        struct token_ctx tc = {.t = t, .prefix = prefix};
        size_t problems = ld->nerrors;

        if (map == NULL || map->type != YAML_MAPPING_NODE) {
            config_problem(ld, map, "tokens: expected a mapping (token:, channels:)");
            continue;
        }
        t->line = (int)map->start_mark.line + 1;
        g->ntokens++;
        config_each_pair(ld, map, "tokens entry", token_keys, token_pair, &tc);
        if (t->token == NULL || t->token[0] == '\0') {
            config_problem(ld, tc.token_node ? tc.token_node : map,
                           "tokens: missing or empty \"token\"");
            continue;
        }
        if (t->nchannels == 0) {
            config_problem(ld, map,
                           "tokens: missing or empty \"channels\" (what this token may see)");
            continue;
        }
        for (j = 0; j + 1 < g->ntokens; j++)
            if (g->tokens[j].token && strcmp(g->tokens[j].token, t->token) == 0) {
                config_problem(ld, tc.token_node, "tokens: the same token as the entry at line %d",
                               g->tokens[j].line);
                break;
            }
        /* One problem per entry: a weak token is worth saying once the
         * entry is otherwise right. */
        if (reader == CONFIG_READER_GATEWAY && ld->nerrors == problems)
            token_too_short(ld, tc.token_node, "tokens", t->token);
    }
}

/* The gateway's rule for a token it accepts (CONFIG_TOKEN_MIN): report a
 * shorter one at `at`. 1 when reported. */
static int token_too_short(struct config_loader *ld, yaml_node_t *at, const char *what,
                           const char *token)
{
    size_t len = strlen(token);

    if (len >= CONFIG_TOKEN_MIN)
        return 0;
    config_problem(ld, at,
                   "%s: a token of %zu characters is too easy to guess; use at least %d "
                   "(e.g. the output of `openssl rand -base64 24`)",
                   what, len, CONFIG_TOKEN_MIN);
    return 1;
}

/* gateway.hosts: host names or IP addresses (an IPv6 one with or without
 * brackets), kept lower case, without brackets and without a trailing
 * '.', as access_host_allowed() compares them. */
static void load_hosts(struct config_loader *ld, yaml_node_t *v, struct config_gateway *g)
{
    unsigned char addr[sizeof(struct in6_addr)];
    yaml_node_item_t *it;
    char **list;
    size_t n, i, j;

    if (config_get_string_list(ld, v, "hosts", &list, &n) < 0)
        return;
    for (i = 0, it = v->data.sequence.items.start; i < n; i++, it++) {
        char *h = list[i];
        size_t len = strlen(h);

        if (h[0] == '[' && len > 2 && h[len - 1] == ']') {
            memmove(h, h + 1, len - 2);
            h[len -= 2] = '\0';
        }
        if (len > 1 && h[len - 1] == '.')
            h[--len] = '\0';
        for (j = 0; j < len; j++)
            h[j] = (char)tolower((unsigned char)h[j]);
        if (inet_pton(AF_INET, h, addr) != 1 && inet_pton(AF_INET6, h, addr) != 1 &&
            !is_host_name(h, len))
            config_problem(ld, yaml_document_get_node(&ld->doc, *it),
                           "hosts: \"%s\" is neither a host name nor an IP address", list[i]);
    }
    config_free_list(g->hosts, g->nhosts);
    g->hosts = list;
    g->nhosts = n;
}

/* One entry of gateway.trusted_proxies: an IPv4 or IPv6 address, or a
 * block written ADDRESS/BITS with no bit set past BITS. 0, or -1 with
 * what is wrong in why. */
static int parse_cidr(const char *text, struct config_cidr *out, const char **why)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text), i;
    int max;
    long bits;

    memset(out, 0, sizeof(*out));
    *why = "not an IP address, nor ADDRESS/BITS";
    if (alen == 0 || alen >= sizeof(buf))
        return -1;
    memcpy(buf, text, alen);
    buf[alen] = '\0';
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    out->bits = max;
    if (slash == NULL)
        return 0;
    if (slash[1] == '\0' || strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
        strlen(slash + 1) > 3 || (bits = strtol(slash + 1, NULL, 10)) > max) {
        *why = out->family == AF_INET ? "the prefix length of an IPv4 block is 0 to 32"
                                      : "the prefix length of an IPv6 block is 0 to 128";
        return -1;
    }
    out->bits = (int)bits;
    for (i = 0; i < (size_t)max / 8; i++) {
        int keep = out->bits - (int)i * 8; /* bits of this byte inside the prefix */
        unsigned char mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));

        if (out->addr[i] & ~mask) {
            *why = "bits are set past the prefix length (write the block's first address)";
            return -1;
        }
    }
    return 0;
}

/* gateway.trusted_proxies: addresses or ADDRESS/BITS blocks. */
static void load_trusted_proxies(struct config_loader *ld, yaml_node_t *v, struct config_gateway *g)
{
    yaml_node_item_t *it;
    char **list;
    size_t n, i;

    if (config_get_string_list(ld, v, "trusted_proxies", &list, &n) < 0)
        return;
    free(g->trusted_proxies);
    g->trusted_proxies = ifmon_xcalloc(n ? n : 1, sizeof(*g->trusted_proxies));
    g->ntrusted_proxies = 0;
    for (i = 0, it = v->data.sequence.items.start; i < n; i++, it++) {
        const char *why;

        if (parse_cidr(list[i], &g->trusted_proxies[g->ntrusted_proxies], &why) == 0)
            g->ntrusted_proxies++;
        else
            config_problem(ld, yaml_document_get_node(&ld->doc, *it), "trusted_proxies: \"%s\": %s",
                           list[i], why);
    }
    config_free_list(list, n);
}

/* "true" or "false" (YAML 1.2 core schema), into *out. */
static void get_bool(struct config_loader *ld, yaml_node_t *v, const char *key, int *out)
{
    char *s;

    if (config_get_string(ld, v, key, &s) < 0)
        return;
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
        *out = strcmp(s, "true") == 0;
    else
        config_problem(ld, v, "%s: expected true or false, not \"%s\"", key, s);
    free(s);
}

/* What holds between gateway keys, once the section is read. */
static void check_gateway(struct config_loader *ld, yaml_node_t *sect, struct gateway_ctx *gc)
{
    const struct config_gateway *g = gc->g;
    size_t i;

    for (i = 0; i < g->ntokens; i++)
        if (g->tokens[i].token && strcmp(g->tokens[i].token, g->token) == 0)
            config_problem(ld, sect,
                           "gateway: the tokens entry at line %d repeats gateway.token, "
                           "which already sees every channel",
                           g->tokens[i].line);
    if (g->metrics_token && g->token[0] == '\0')
        config_problem(ld, gc->metrics_node ? gc->metrics_node : sect,
                       "metrics_token: true needs gateway.token, the token /metrics asks for");
    if (g->metrics_port && g->metrics_port == g->listen_port &&
        strcmp(g->metrics_host, g->listen_host) == 0)
        config_problem(ld, gc->metrics_node ? gc->metrics_node : sect,
                       "metrics_listen: the same address as listen; leave it out to serve "
                       "/metrics there");
}

static void gateway_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct gateway_ctx *gc = arg;
    struct config_gateway *g = gc->g;
    char *s;

    if (strcmp(key, "tokens") == 0) {
        load_tokens(ld, v, g, gc->prefix, gc->reader);
    } else if (strcmp(key, "hosts") == 0) {
        load_hosts(ld, v, g);
    } else if (strcmp(key, "metrics_token") == 0) {
        get_bool(ld, v, key, &g->metrics_token);
        gc->metrics_node = v;
    } else if (strcmp(key, "max_connections") == 0) {
        config_get_int(ld, v, key, 1, 1000000, &g->max_connections);
    } else if (strcmp(key, "max_channels") == 0) {
        config_get_int(ld, v, key, 1, 100000, &g->max_channels);
    } else if (strcmp(key, "max_frame") == 0) {
        config_get_int(ld, v, key, 128, 16777216, &g->max_frame);
    } else if (strcmp(key, "flush_ms") == 0) {
        config_get_int(ld, v, key, 0, CONFIG_FLUSH_MS_MAX, &g->flush_ms);
    } else if (strcmp(key, "io_uring") == 0) {
        config_get_bool(ld, v, key, &g->io_uring);
    } else if (strcmp(key, "max_connections_per_address") == 0) {
        config_get_int(ld, v, key, 1, 1000000, &g->max_connections_per_address);
    } else if (strcmp(key, "max_subscriptions") == 0) {
        config_get_int(ld, v, key, 1, 100000000, &g->max_subscriptions);
    } else if (strcmp(key, "max_subscriptions_per_address") == 0) {
        config_get_int(ld, v, key, 1, 100000000, &g->max_subscriptions_per_address);
    } else if (strcmp(key, "trusted_proxies") == 0) {
        load_trusted_proxies(ld, v, g);
    } else if (strcmp(key, "allowed_origins") == 0) {
        char **list;
        size_t n;

        if (config_get_string_list(ld, v, key, &list, &n) == 0) {
            config_free_list(g->allowed_origins, g->nallowed_origins);
            g->allowed_origins = list;
            g->nallowed_origins = n;
        }
    } else if (config_get_string(ld, v, key, &s) == 0) {
        if (strcmp(key, "listen") == 0 || strcmp(key, "metrics_listen") == 0) {
            const char *why = "";
            char *host;
            int port;

            if (parse_listen(s, &host, &port, &why) < 0) {
                config_problem(ld, v, "%s: \"%s\" is not HOST:PORT or [IPV6]:PORT: %s", key, s,
                               why);
            } else if (strcmp(key, "listen") == 0) {
                config_set_string(&g->listen_host, host);
                g->listen_port = port;
            } else {
                config_set_string(&g->metrics_host, host);
                g->metrics_port = port;
                gc->metrics_node = v;
            }
            free(s);
        } else if (strcmp(key, "web_root") == 0) {
            config_set_string(&g->web_root, s);
        } else {
            if (gc->reader == CONFIG_READER_GATEWAY && s[0] != '\0')
                token_too_short(ld, v, "token", s);
            config_set_string(&g->token, s);
        }
    }
}

/* ---------------------------------------------------------- collector */

static void collector_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct config_collector *c = arg;
    unsigned char addr[sizeof(struct in6_addr)];
    const char *why = "";
    char *s, *host;
    int port;

    if (strcmp(key, "shared") == 0) {
        config_get_bool(ld, v, key, &c->shared);
        return;
    }
    if (strcmp(key, "poll_grid") == 0) {
        config_get_duration(ld, v, key, 0, CONFIG_POLL_GRID_MAX_MS, &c->poll_grid_ms);
        return;
    }
    if (config_get_string(ld, v, key, &s) < 0)
        return;
    if (strcmp(key, "id") == 0) {
        if (s[0] == '\0' || strlen(s) > CONFIG_COLLECTOR_ID_MAX ||
            strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") !=
                strlen(s))
            config_problem(ld, v,
                           "id: \"%.80s\" must be 1 to %d of the characters A-Z a-z 0-9 . _ : -", s,
                           CONFIG_COLLECTOR_ID_MAX);
        config_set_string(&c->id, s);
        return;
    }
    if (parse_listen(s, &host, &port, &why) < 0) {
        config_problem(ld, v, "listen: \"%s\" is not ADDRESS:PORT or [IPV6]:PORT: %s", s, why);
    } else if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1) {
        config_problem(ld, v,
                       "listen: \"%s\": an address is required, not a name (the collector "
                       "looks no name up to start)",
                       s);
        free(host);
    } else {
        config_set_string(&c->listen_host, host);
        c->listen_port = port;
    }
    free(s);
}

/* --------------------------------------------------------- the document */

static void config_defaults(struct config *cfg)
{
    cfg->redis.host = ifmon_xstrdup("127.0.0.1");
    cfg->redis.port = CONFIG_DEFAULT_REDIS_PORT;
    cfg->redis.prefix = ifmon_xstrdup("ifmon");
    cfg->redis.history = CONFIG_DEFAULT_HISTORY;
    cfg->gateway.listen_host = ifmon_xstrdup("127.0.0.1");
    cfg->gateway.listen_port = 8080;
    cfg->gateway.web_root = ifmon_xstrdup("web/");
    cfg->gateway.token = ifmon_xstrdup("");
    cfg->gateway.max_connections = 10000;
    cfg->gateway.max_channels = 256;
    cfg->gateway.max_frame = 65536;
    cfg->gateway.io_uring = 1;
    cfg->gateway.max_connections_per_address = CONFIG_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
    cfg->gateway.max_subscriptions = CONFIG_DEFAULT_MAX_SUBSCRIPTIONS;
    cfg->gateway.max_subscriptions_per_address = CONFIG_DEFAULT_MAX_SUBSCRIPTIONS_PER_ADDRESS;
    cfg->collector.poll_grid_ms = CONFIG_DEFAULT_POLL_GRID_MS;
}

static void load_document(struct config_loader *ld, struct config *cfg, enum config_reader reader)
{
    yaml_node_t *root = yaml_document_get_root_node(&ld->doc), *sect[NSECT] = {0};
    struct config_gateway *g = &cfg->gateway;
    yaml_node_pair_t *p;
    size_t i;

    if (root == NULL)
        return; /* empty file: all defaults */
    if (root->type != YAML_MAPPING_NODE) {
        if (!(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
            config_problem(ld, root,
                           "expected a mapping with redis:, defaults:, devices:, gateway:, "
                           "collector:");
        return;
    }
    for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);
        const char *key = config_scalar(k);

        if (key == NULL) {
            config_problem(ld, k, "expected a plain key");
            continue;
        }
        for (i = 0; top_keys[i]; i++)
            if (strcmp(top_keys[i], key) == 0)
                break;
        if (top_keys[i] == NULL)
            config_unknown_key(ld, k, key, "the file", top_keys);
        else if (sect[i])
            config_problem(ld, k, "duplicate key \"%s\"", key);
        else
            sect[i] = yaml_document_get_node(&ld->doc, p->value);
    }
    if (sect[SECT_REDIS] && config_is_mapping(ld, sect[SECT_REDIS], "redis")) {
        config_each_pair(ld, sect[SECT_REDIS], "redis", redis_keys, redis_pair, &cfg->redis);
        if ((cfg->redis.nsentinels > 0) != (cfg->redis.master_name != NULL))
            config_problem(ld, sect[SECT_REDIS],
                           "redis: sentinels and master_name go together (the master is the one "
                           "the Sentinels name)");
    }
    if (sect[SECT_GATEWAY] && config_is_mapping(ld, sect[SECT_GATEWAY], "gateway")) {
        struct gateway_ctx gc = {.g = g, .prefix = cfg->redis.prefix, .reader = reader};

        config_each_pair(ld, sect[SECT_GATEWAY], "gateway", gateway_keys, gateway_pair, &gc);
        check_gateway(ld, sect[SECT_GATEWAY], &gc);
    }
    /* The gateway polls nothing: what these sections say is not its
     * business, and a problem there must not stop it. */
    if (reader != CONFIG_READER_GATEWAY) {
        if (sect[SECT_COLLECTOR] && config_is_mapping(ld, sect[SECT_COLLECTOR], "collector"))
            config_each_pair(ld, sect[SECT_COLLECTOR], "collector", collector_keys, collector_pair,
                             &cfg->collector);
        config_load_devices(ld, sect[SECT_DEFAULTS], sect[SECT_DEVICES], cfg);
    }
}

/* ---------------------------------------------------------------- API */

struct config *config_load_buffer_for(const char *name, const char *text, size_t len,
                                      enum config_reader reader, struct config_errors *errs)
{
    struct config_loader ld = {.file = name, .errs = errs};
    size_t first = errs->count;
    yaml_parser_t parser;
    struct config *cfg;

    if (memchr(text, '\0', len)) {
        config_problem_at(&ld, NULL, "contains a NUL byte: not a text file");
        return NULL;
    }
    cfg = ifmon_xcalloc(1, sizeof(*cfg));
    cfg->path = ifmon_xstrdup(name);
    config_defaults(cfg);
    if (!yaml_parser_initialize(&parser))
        abort(); /* libyaml's only failure here: out of memory */
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &ld.doc)) {
        const yaml_mark_t *m = parser.problem_mark.line || parser.problem_mark.column
                                   ? &parser.problem_mark
                                   : &parser.context_mark;

        config_problem_at(&ld, m, "malformed YAML: %s%s%s",
                          parser.problem ? parser.problem : "error", parser.context ? " " : "",
                          parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        config_free(cfg);
        return NULL;
    }
    load_document(&ld, cfg, reader);
    yaml_document_delete(&ld.doc);
    yaml_parser_delete(&parser);
    config_problems_sort(&ld, first);
    if (ld.nerrors) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

struct config *config_load_buffer(const char *name, const char *text, size_t len,
                                  struct config_errors *errs)
{
    return config_load_buffer_for(name, text, len, CONFIG_READER_ALL, errs);
}

struct config *config_load_for(const char *path, enum config_reader reader,
                               struct config_errors *errs)
{
    struct config_loader ld = {.file = path, .errs = errs};
    struct config *cfg = NULL;
    struct stat st;
    char *text = NULL;
    size_t len;
    FILE *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        config_problem_at(&ld, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        config_problem_at(&ld, NULL, "not a regular file");
        goto out;
    }
    if (st.st_size > CONFIG_MAX_FILE) {
        config_problem_at(&ld, NULL, "too large (%lld bytes, at most %d)", (long long)st.st_size,
                          CONFIG_MAX_FILE);
        goto out;
    }
    text = ifmon_xmalloc((size_t)st.st_size + 1);
    len = fread(text, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        config_problem_at(&ld, NULL, "cannot read: %s", strerror(errno));
        goto out;
    }
    cfg = config_load_buffer_for(path, text, len, reader, errs);
out:
    free(text);
    fclose(f);
    return cfg;
}

struct config *config_load(const char *path, struct config_errors *errs)
{
    return config_load_for(path, CONFIG_READER_ALL, errs);
}

struct config *config_load_reported_for(const char *path, enum config_reader reader, int as_log)
{
    struct config_errors errs = {0};
    struct config *cfg = config_load_for(path, reader, &errs);
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

struct config *config_load_reported(const char *path, int as_log)
{
    return config_load_reported_for(path, CONFIG_READER_ALL, as_log);
}

void config_free(struct config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->ndevices; i++)
        config_device_clear(&cfg->devices[i]);
    free(cfg->devices);
    free(cfg->redis.host);
    free(cfg->redis.password);
    free(cfg->redis.prefix);
    free(cfg->gateway.listen_host);
    free(cfg->gateway.web_root);
    config_free_list(cfg->gateway.allowed_origins, cfg->gateway.nallowed_origins);
    free(cfg->gateway.token);
    for (i = 0; i < cfg->gateway.ntokens; i++) {
        free(cfg->gateway.tokens[i].token);
        config_free_list(cfg->gateway.tokens[i].channels, cfg->gateway.tokens[i].nchannels);
    }
    free(cfg->gateway.tokens);
    config_free_list(cfg->gateway.hosts, cfg->gateway.nhosts);
    free(cfg->gateway.metrics_host);
    free(cfg->gateway.trusted_proxies);
    for (i = 0; i < cfg->redis.nsentinels; i++)
        free((char *)cfg->redis.sentinels[i].host);
    free(cfg->redis.sentinels);
    free(cfg->redis.master_name);
    free(cfg->collector.listen_host);
    free(cfg->collector.id);
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
