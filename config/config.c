/* config.c -- the ifmon YAML file as a whole (see config.h): its top-level
 * sections, `redis:`, `gateway:` with its `tokens:`, and the public load
 * and free functions.
 *
 * The device entries (`defaults:`, `devices:`) are config_device.c's, and
 * the machinery both read sections with (positions, scalars, getters,
 * unknown keys) is config_loader.c's. */

#include "config_loader.h"

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
enum { SECT_REDIS, SECT_DEFAULTS, SECT_DEVICES, SECT_GATEWAY, NSECT };

static const char *const top_keys[] = {"redis", "defaults", "devices", "gateway", NULL};
static const char *const redis_keys[] = {"host", "port", "password", "prefix", "history", NULL};
static const char *const gateway_keys[] = {"listen",       "web_root",  "allowed_origins",
                                           "token",        "tokens",    "max_connections",
                                           "max_channels", "max_frame", NULL};
static const char *const token_keys[] = {"token", "channels", NULL};

/* `gateway:` is read after `redis:`, whose prefix the tokens' channels
 * must start with. */
struct gateway_ctx {
    struct config_gateway *g;
    const char *prefix; /* redis.prefix */
};

/* One entry of gateway.tokens. */
struct token_ctx {
    struct config_token *t;
    const char *prefix;      /* redis.prefix */
    yaml_node_t *token_node; /* where `token:` was, for messages */
};

/* -------------------------------------------------------------- redis */

static void redis_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct config_redis *r = arg;
    char *s;

    if (strcmp(key, "port") == 0) {
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
                        const char *prefix)
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
    }
}

static void gateway_pair(struct config_loader *ld, const char *key, yaml_node_t *v, void *arg)
{
    struct gateway_ctx *gc = arg;
    struct config_gateway *g = gc->g;
    char *s;

    if (strcmp(key, "tokens") == 0) {
        load_tokens(ld, v, g, gc->prefix);
    } else if (strcmp(key, "max_connections") == 0) {
        config_get_int(ld, v, key, 1, 1000000, &g->max_connections);
    } else if (strcmp(key, "max_channels") == 0) {
        config_get_int(ld, v, key, 1, 100000, &g->max_channels);
    } else if (strcmp(key, "max_frame") == 0) {
        config_get_int(ld, v, key, 128, 16777216, &g->max_frame);
    } else if (strcmp(key, "allowed_origins") == 0) {
        char **list;
        size_t n;

        if (config_get_string_list(ld, v, key, &list, &n) == 0) {
            config_free_list(g->allowed_origins, g->nallowed_origins);
            g->allowed_origins = list;
            g->nallowed_origins = n;
        }
    } else if (config_get_string(ld, v, key, &s) == 0) {
        if (strcmp(key, "listen") == 0) {
            char *host;
            int port;

            if (config_parse_address(s, 8080, &host, &port) < 0) {
                config_problem(ld, v, "listen: \"%s\" is not host:port", s);
            } else {
                config_set_string(&g->listen_host, host);
                g->listen_port = port;
            }
            free(s);
        } else if (strcmp(key, "web_root") == 0) {
            config_set_string(&g->web_root, s);
        } else {
            config_set_string(&g->token, s);
        }
    }
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
}

static void load_document(struct config_loader *ld, struct config *cfg)
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
                           "expected a mapping with redis:, defaults:, devices:, gateway:");
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
    if (sect[SECT_REDIS] && config_is_mapping(ld, sect[SECT_REDIS], "redis"))
        config_each_pair(ld, sect[SECT_REDIS], "redis", redis_keys, redis_pair, &cfg->redis);
    if (sect[SECT_GATEWAY] && config_is_mapping(ld, sect[SECT_GATEWAY], "gateway")) {
        config_each_pair(ld, sect[SECT_GATEWAY], "gateway", gateway_keys, gateway_pair,
                         &(struct gateway_ctx){.g = g, .prefix = cfg->redis.prefix});
        for (i = 0; i < g->ntokens; i++)
            if (g->tokens[i].token && strcmp(g->tokens[i].token, g->token) == 0)
                config_problem(ld, sect[SECT_GATEWAY],
                               "gateway: the tokens entry at line %d repeats gateway.token, "
                               "which already sees every channel",
                               g->tokens[i].line);
    }
    config_load_devices(ld, sect[SECT_DEFAULTS], sect[SECT_DEVICES], cfg);
}

/* ---------------------------------------------------------------- API */

struct config *config_load_buffer(const char *name, const char *text, size_t len,
                                  struct config_errors *errs)
{
    struct config_loader ld = {.file = name, .errs = errs};
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
