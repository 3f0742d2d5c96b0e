/* config_loader.c -- the machinery every section of the YAML file is read
 * with (see config_loader.h): problems reported as FILE:LINE:COLUMN,
 * scalars and ${VAR} expansion, typed getters, the walk of a mapping with
 * unknown-key suggestions, and the duration and address syntax.
 *
 * libyaml's document API gives every node its position, so each problem is
 * reported where it is and loading goes on to find the others. What a
 * section accepts is not here: config_device.c and config.c say that. */

#include "config_loader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* The longest environment variable name ${...} may hold. */
#define ENV_NAME_MAX 255
/* Keys longer than this get no suggestion (and no work). */
#define SUGGEST_KEY_MAX 62

/* ------------------------------------------------------------ problems */

static void add_line(struct config_loader *ld, char *line)
{
    struct config_errors *e = ld->errs;

    e->lines = ifmon_xrealloc(e->lines, (e->count + 1) * sizeof(*e->lines));
    e->lines[e->count++] = line;
    ld->nerrors++;
}

static void vproblem(struct config_loader *ld, const yaml_mark_t *mark, const char *fmt, va_list ap)
{
    char msg[512], *line;
    size_t size;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* The file name, two positions of at most 20 digits, the message. */
    size = strlen(ld->file) + strlen(msg) + 48;
    line = ifmon_xmalloc(size);
    if (mark)
        snprintf(line, size, "%s:%zu:%zu: %s", ld->file, mark->line + 1, mark->column + 1, msg);
    else
        snprintf(line, size, "%s: %s", ld->file, msg);
    add_line(ld, line);
}

void config_problem(struct config_loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vproblem(ld, node ? &node->start_mark : NULL, fmt, ap);
    va_end(ap);
}

void config_problem_at(struct config_loader *ld, const yaml_mark_t *mark, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vproblem(ld, mark, fmt, ap);
    va_end(ap);
}

/* Where a problem line points: (line, column), (0, 0) when it has no
 * position ("FILE: message"). */
struct problem_pos {
    unsigned long line, column;
    size_t index; /* order of report, for a stable sort */
    char *text;
};

static int cmp_problem(const void *a, const void *b)
{
    const struct problem_pos *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->column != y->column)
        return x->column < y->column ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void config_problems_sort(struct config_loader *ld, size_t first)
{
    struct config_errors *e = ld->errs;
    size_t n = e->count > first ? e->count - first : 0, i, flen = strlen(ld->file);
    struct problem_pos *pos;

    if (n < 2)
        return;
    pos = ifmon_xcalloc(n, sizeof(*pos));
    for (i = 0; i < n; i++) {
        char *t = e->lines[first + i], *end;

        pos[i].index = i;
        pos[i].text = t;
        if (strncmp(t, ld->file, flen) != 0 || t[flen] != ':')
            continue;
        pos[i].line = strtoul(t + flen + 1, &end, 10);
        if (end == t + flen + 1 || *end != ':') {
            pos[i].line = 0;
            continue;
        }
        pos[i].column = strtoul(end + 1, NULL, 10);
    }
    qsort(pos, n, sizeof(*pos), cmp_problem);
    for (i = 0; i < n; i++)
        e->lines[first + i] = pos[i].text;
    free(pos);
}

/* -------------------------------------------------------------- values */

const char *config_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Expand ${VAR}, ${VAR:-default} and $$ in scalar node `node`. Returns a
 * new string, or NULL after reporting every problem of the scalar. */
static char *expand(struct config_loader *ld, const yaml_node_t *node)
{
    const char *s = config_scalar(node), *p;
    size_t cap, len = 0;
    char *out;
    int bad = 0;

    IFMON_ASSERT(s != NULL); /* config_get_string() checked the node */
    cap = strlen(s) + 1;
    out = ifmon_xmalloc(cap);
    for (p = s; *p;) {
        const char *val = NULL;
        size_t vlen = 0, need;
        char name[ENV_NAME_MAX + 1];

        if (p[0] == '$' && p[1] == '$') {
            val = "$";
            vlen = 1;
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}'), *dflt = NULL, *colon;
            size_t nlen;

            if (end == NULL) {
                config_problem(ld, node, "unterminated ${ in \"%s\"", s);
                bad = 1;
                break;
            }
            nlen = (size_t)(end - p - 2);
            colon = memchr(p + 2, ':', nlen);
            if (colon && colon[1] == '-') {
                dflt = colon + 2;
                nlen = (size_t)(colon - p - 2);
            }
            if (nlen == 0 || nlen >= sizeof(name)) {
                config_problem(ld, node, "bad environment variable reference in \"%s\"", s);
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
                config_problem(ld, node, "environment variable %s is not set", name);
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
            out = ifmon_xrealloc(out, cap);
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

int config_get_string(struct config_loader *ld, const yaml_node_t *n, const char *key, char **out)
{
    char *v;

    if (config_scalar(n) == NULL) {
        config_problem(ld, n, "%s: expected a string", key);
        return -1;
    }
    v = expand(ld, n);
    if (v == NULL)
        return -1;
    *out = v;
    return 0;
}

int config_get_bool(struct config_loader *ld, const yaml_node_t *n, const char *key, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", NULL}, *const no[] = {"false", "no",
                                                                                 "off", NULL};
    char *v;
    size_t i;

    if (config_get_string(ld, n, key, &v) < 0)
        return -1;
    for (i = 0; yes[i]; i++)
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            free(v);
            return 0;
        }
    config_problem(ld, n, "%s: expected true or false, not \"%.80s\"", key, v);
    free(v);
    return -1;
}

int config_get_int(struct config_loader *ld, const yaml_node_t *n, const char *key, long min,
                   long max, int *out)
{
    char *v, *end;
    long x;

    if (config_get_string(ld, n, key, &v) < 0)
        return -1;
    errno = 0;
    x = strtol(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno) {
        config_problem(ld, n, "%s: expected a whole number, not \"%s\"", key, v);
        free(v);
        return -1;
    }
    free(v);
    if (x < min || x > max) {
        config_problem(ld, n, "%s: %ld is out of range (%ld to %ld)", key, x, min, max);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int config_get_duration(struct config_loader *ld, const yaml_node_t *n, const char *key, int min_ms,
                        int max_ms, int *out)
{
    char *v;
    int ms;

    if (config_get_string(ld, n, key, &v) < 0)
        return -1;
    if (config_parse_duration(v, &ms) < 0) {
        config_problem(ld, n,
                       "%s: bad duration \"%s\" (a number with unit ms, s or m, like 800ms or 5s)",
                       key, v);
        free(v);
        return -1;
    }
    free(v);
    if (ms < min_ms || ms > max_ms) {
        config_problem(ld, n, "%s: %d ms is out of range (%d ms to %d ms)", key, ms, min_ms,
                       max_ms);
        return -1;
    }
    *out = ms;
    return 0;
}

int config_get_string_list(struct config_loader *ld, const yaml_node_t *n, const char *key,
                           char ***out, size_t *count)
{
    yaml_node_item_t *it;
    char **list;
    size_t k = 0;
    int bad = 0;

    if (n->type != YAML_SEQUENCE_NODE) {
        config_problem(ld, n, "%s: expected a list", key);
        return -1;
    }
    list = ifmon_xcalloc((size_t)(n->data.sequence.items.top - n->data.sequence.items.start) + 1,
                         sizeof(*list));
    for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(&ld->doc, *it);
        char *v;

        if (config_get_string(ld, item, key, &v) < 0) {
            bad = 1;
            continue;
        }
        if (v[0] == '\0') {
            config_problem(ld, item, "%s: empty name", key);
            free(v);
            bad = 1;
            continue;
        }
        list[k++] = v;
    }
    if (bad) {
        config_free_list(list, k);
        return -1;
    }
    *out = list;
    *count = k;
    return 0;
}

void config_set_string(char **slot, char *value)
{
    free(*slot);
    *slot = value;
}

void config_free_list(char **list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* ------------------------------------------------------------ mappings */

/* Levenshtein distance, or 99 for keys too long to be worth a suggestion. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t prev[SUGGEST_KEY_MAX + 2], cur[SUGGEST_KEY_MAX + 2];

    if (la > SUGGEST_KEY_MAX || lb > SUGGEST_KEY_MAX)
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

void config_unknown_key(struct config_loader *ld, const yaml_node_t *node, const char *key,
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
        config_problem(ld, node, "unknown key \"%s\" in %s (did you mean \"%s\"?)", key, where,
                       best);
    else
        config_problem(ld, node, "unknown key \"%s\" in %s", key, where);
}

void config_each_pair(struct config_loader *ld, yaml_node_t *map, const char *where,
                      const char *const *keys, config_pair_fn fn, void *arg)
{
    yaml_node_pair_t *p, *q;

    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&ld->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&ld->doc, p->value);
        const char *key = config_scalar(k);
        int dup = 0;

        if (key == NULL || v == NULL) {
            config_problem(ld, k, "expected a plain key in %s", where);
            continue;
        }
        for (q = map->data.mapping.pairs.start; q < p && !dup; q++) {
            const char *earlier = config_scalar(yaml_document_get_node(&ld->doc, q->key));

            dup = earlier && strcmp(earlier, key) == 0;
        }
        if (dup) {
            config_problem(ld, k, "duplicate key \"%s\" in %s", key, where);
            continue;
        }
        if (!key_known(keys, key)) {
            config_unknown_key(ld, k, key, where, keys);
            continue;
        }
        fn(ld, key, v, arg);
    }
}

int config_is_mapping(struct config_loader *ld, const yaml_node_t *n, const char *what)
{
    if (n->type == YAML_MAPPING_NODE)
        return 1;
    /* An empty section ("redis:" with nothing after it) is fine. */
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
        return 0;
    config_problem(ld, n, "%s: expected a mapping", what);
    return 0;
}

/* ---------------------------------------------- durations and addresses */

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
    *host = ifmon_xstrndup(h, hlen);
    *port = (int)p;
    return 0;
}
