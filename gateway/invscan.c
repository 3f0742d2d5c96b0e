/* invscan.c -- see invscan.h. A recursive-descent checker of RFC 8259 that
 * knows, for each value, where it sits in the inventory's shape (`where`):
 * only the strings at sites[].devices[].interfaces[].channel (and, when
 * indexing, sites[].devices[].channel) are decoded; everything else is
 * only checked, and, when indexing, the elements of the three lists are
 * recorded with their offsets. */

#include "invscan.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"
#include "keys.h"
#include "util.h"

/* Where a value sits: each level names the key that leads one level down. */
enum where {
    W_OTHER,      /* anything not on the way to an interface's channel */
    W_ROOT,       /* the snapshot: "sites" */
    W_SITES,      /* its array of sites */
    W_SITE,       /* a site: "devices" */
    W_DEVICES,    /* its array of devices */
    W_DEVICE,     /* a device: "interfaces" */
    W_INTERFACES, /* its array of interfaces */
    W_INTERFACE,  /* an interface: "channel" */
    W_CHANNEL,    /* the string wanted */
    W_DEVCHANNEL, /* a device's "channel" (indexing only) */
};

struct scan {
    const unsigned char *start, *p, *end;
    unsigned depth;
    invscan_channel_fn fn; /* NULL when indexing */
    void *arg;
    struct invscan_index *idx;       /* NULL unless indexing */
    size_t cur[INVSCAN_LEVELS];      /* indexing: the node being read at each level */
    char buf[IFMON_CHANNEL_MAX + 1]; /* the channel being decoded */
};

static int value(struct scan *s, enum where w);

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0, i;

    for (i = 0; i < 4; i++) {
        unsigned char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Append code point cp as UTF-8 to out (at *n, room for cap); a string
 * that does not fit is marked too long (*n = cap + 1) and only checked. */
static void put_utf8(char *out, size_t *n, size_t cap, unsigned cp)
{
    unsigned char b[4];
    size_t k, len;

    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        len = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xc0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3f));
        len = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xe0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp & 0x3f));
        len = 3;
    } else {
        b[0] = (unsigned char)(0xf0 | cp >> 18);
        b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        b[3] = (unsigned char)(0x80 | (cp & 0x3f));
        len = 4;
    }
    if (out == NULL || *n > cap)
        return;
    if (*n + len > cap) {
        *n = cap + 1;
        return;
    }
    for (k = 0; k < len; k++)
        out[(*n)++] = (char)b[k];
}

/* A string at s->p (the opening quote). With out, its decoded bytes go
 * there (*n of them, or cap + 1 when it is longer than cap); without,
 * it is only checked. Raw bytes must be valid UTF-8 and control
 * characters escaped; \u0000 and lone surrogates are refused, as jansson
 * does. */
static int string(struct scan *s, char *out, size_t cap, size_t *n)
{
    const unsigned char *p = s->p + 1;

    if (n)
        *n = 0;
    for (;;) {
        const unsigned char *run = p;

        /* A run of plain bytes: checked as UTF-8 in one go. */
        while (p < s->end && *p != '"' && *p != '\\' && *p >= 0x20)
            p++;
        if (p > run) {
            size_t len = (size_t)(p - run);

            if (ifmon_utf8_valid_prefix((const char *)run, len) != len)
                return -1;
            if (out && *n <= cap) {
                if (*n + len > cap) {
                    *n = cap + 1;
                } else {
                    memcpy(out + *n, run, len);
                    *n += len;
                }
            }
        }
        if (p >= s->end || *p < 0x20)
            return -1;
        if (*p == '"')
            break;
        /* An escape. */
        if (++p >= s->end)
            return -1;
        switch (*p) {
        case '"':
        case '\\':
        case '/':
            put_utf8(out, n, cap, *p);
            p++;
            break;
        case 'b':
            put_utf8(out, n, cap, '\b');
            p++;
            break;
        case 'f':
            put_utf8(out, n, cap, '\f');
            p++;
            break;
        case 'n':
            put_utf8(out, n, cap, '\n');
            p++;
            break;
        case 'r':
            put_utf8(out, n, cap, '\r');
            p++;
            break;
        case 't':
            put_utf8(out, n, cap, '\t');
            p++;
            break;
        case 'u': {
            unsigned cp, lo;

            if (s->end - p < 5 || hex4(p + 1, &cp) < 0)
                return -1;
            p += 5;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return -1; /* a low surrogate first */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0)
                return -1; /* jansson refuses NUL in strings */
            put_utf8(out, n, cap, cp);
            break;
        }
        default:
            return -1;
        }
    }
    s->p = p + 1;
    return 0;
}

/* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct scan *s)
{
    const unsigned char *p = s->p;

#define DIGIT(q) ((q) < s->end && *(q) >= '0' && *(q) <= '9')
    if (p < s->end && *p == '-')
        p++;
    if (!DIGIT(p))
        return -1;
    if (*p == '0')
        p++;
    else
        while (DIGIT(p))
            p++;
    if (p < s->end && *p == '.') {
        p++;
        if (!DIGIT(p))
            return -1;
        while (DIGIT(p))
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < s->end && (*p == '+' || *p == '-'))
            p++;
        if (!DIGIT(p))
            return -1;
        while (DIGIT(p))
            p++;
    }
#undef DIGIT
    s->p = p;
    return 0;
}

static int literal(struct scan *s, const char *word)
{
    size_t len = strlen(word);

    if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0)
        return -1;
    s->p += len;
    return 0;
}

/* What the value of `key` in an object at `w` is. */
static enum where child_of_key(enum where w, const char *key, size_t len)
{
    static const struct {
        enum where parent;
        const char *key;
        enum where child;
    } path[] = {
        {W_ROOT, "sites", W_SITES},
        {W_SITE, "devices", W_DEVICES},
        {W_DEVICE, "interfaces", W_INTERFACES},
        {W_INTERFACE, "channel", W_CHANNEL},
        {W_DEVICE, "channel", W_DEVCHANNEL},
    };
    size_t i;

    for (i = 0; i < sizeof(path) / sizeof(path[0]); i++)
        if (path[i].parent == w && strlen(path[i].key) == len && memcmp(path[i].key, key, len) == 0)
            return path[i].child;
    return W_OTHER;
}

static int object(struct scan *s, enum where w)
{
    char key[16];
    size_t klen;
    unsigned seen = 0; /* keys on the way to a channel met in this object */
    enum where child;

    s->p++; /* '{' */
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (s->p >= s->end || *s->p != '"')
            return -1;
        /* Keys that matter are short: decode at most 15 bytes. */
        if (string(s, w == W_OTHER ? NULL : key, sizeof(key) - 1, &klen) < 0)
            return -1;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        child = w == W_OTHER || klen >= sizeof(key) ? W_OTHER : child_of_key(w, key, klen);
        if (child != W_OTHER) {
            if (seen & 1u << child && s->idx)
                s->idx->irregular = 1;
            seen |= 1u << child;
        }
        if (value(s, child) < 0)
            return -1;
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == '}') {
            s->p++;
            return 0;
        }
        if (*s->p != ',')
            return -1;
        s->p++;
        skip_ws(s);
    }
}

/* Indexing: the level of the elements of a list at `w`, or -1. */
static int level_of_list(enum where w)
{
    switch (w) {
    case W_SITES:
        return INVSCAN_SITE;
    case W_DEVICES:
        return INVSCAN_DEVICE;
    case W_INTERFACES:
        return INVSCAN_INTERFACE;
    default:
        return -1;
    }
}

static size_t offset(const struct scan *s)
{
    return (size_t)(s->p - s->start);
}

/* Indexing: a list of `level` elements opens at s->p; note it on its
 * owner (the snapshot, a site or a device). */
static void list_opens(struct scan *s, int level)
{
    struct invscan_index *idx = s->idx;
    struct invscan_node *owner;

    if (level == INVSCAN_SITE) {
        idx->has_sites = 1;
        idx->sites_open = offset(s);
        return;
    }
    owner = &idx->nodes[level - 1][s->cur[level - 1]];
    owner->has_list = 1;
    owner->open = offset(s);
    owner->first = idx->count[level];
    owner->count = 0;
}

/* Indexing: that list closes at s->p. */
static void list_closes(struct scan *s, int level)
{
    struct invscan_index *idx = s->idx;
    struct invscan_node *owner;

    if (level == INVSCAN_SITE) {
        idx->sites_close = offset(s);
        return;
    }
    owner = &idx->nodes[level - 1][s->cur[level - 1]];
    owner->close = offset(s);
    owner->count = idx->count[level] - owner->first;
}

/* Indexing: an element of a `level` list starts at s->p. */
static void element_starts(struct scan *s, int level)
{
    struct invscan_index *idx = s->idx;
    struct invscan_node *n;

    if (idx->count[level] == idx->cap[level]) {
        idx->cap[level] = idx->cap[level] ? idx->cap[level] * 2 : 64;
        idx->nodes[level] =
            ifmon_xrealloc(idx->nodes[level], idx->cap[level] * sizeof(*idx->nodes[level]));
    }
    s->cur[level] = idx->count[level]++;
    n = &idx->nodes[level][s->cur[level]];
    memset(n, 0, sizeof(*n));
    n->start = offset(s);
    n->channel = -1;
    n->object = *s->p == '{';
}

static int array(struct scan *s, enum where w)
{
    enum where element = w == W_SITES        ? W_SITE
                         : w == W_DEVICES    ? W_DEVICE
                         : w == W_INTERFACES ? W_INTERFACE
                                             : W_OTHER;
    int level = s->idx ? level_of_list(w) : -1;

    if (level >= 0)
        list_opens(s, level);
    s->p++; /* '[' */
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        if (level >= 0)
            list_closes(s, level);
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (level >= 0)
            element_starts(s, level);
        if (value(s, element) < 0)
            return -1;
        if (level >= 0)
            s->idx->nodes[level][s->cur[level]].end = offset(s);
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ']') {
            if (level >= 0)
                list_closes(s, level);
            s->p++;
            return 0;
        }
        if (*s->p != ',')
            return -1;
        s->p++;
    }
}

/* Indexing: keep the channel just decoded (n bytes in s->buf) for the
 * node being read at `level`. */
static void keep_channel(struct scan *s, int level, size_t n)
{
    struct invscan_index *idx = s->idx;

    if (idx->names_len + n + 1 > idx->names_cap) {
        idx->names_cap = idx->names_cap ? idx->names_cap * 2 : 4096;
        while (idx->names_len + n + 1 > idx->names_cap)
            idx->names_cap *= 2;
        idx->names = ifmon_xrealloc(idx->names, idx->names_cap);
    }
    memcpy(idx->names + idx->names_len, s->buf, n + 1);
    idx->nodes[level][s->cur[level]].channel = (long)idx->names_len;
    idx->names_len += n + 1;
}

static int value(struct scan *s, enum where w)
{
    int rc;

    skip_ws(s);
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{':
    case '[':
        if (++s->depth > JSON_PARSER_MAX_DEPTH)
            return -1;
        if (w == W_ROOT && s->idx && *s->p == '{')
            s->idx->root_object = 1;
        if (*s->p == '{')
            rc = object(
                s, w == W_ROOT || w == W_SITE || w == W_DEVICE || w == W_INTERFACE ? w : W_OTHER);
        else
            rc = array(s, w == W_SITES || w == W_DEVICES || w == W_INTERFACES ? w : W_OTHER);
        s->depth--;
        return rc;
    case '"':
        if (w == W_CHANNEL || (w == W_DEVCHANNEL && s->idx)) {
            size_t n;

            if (string(s, s->buf, IFMON_CHANNEL_MAX, &n) < 0)
                return -1;
            if (n <= IFMON_CHANNEL_MAX) {
                s->buf[n] = '\0';
                if (s->fn)
                    s->fn(s->arg, s->buf, n);
                if (s->idx)
                    keep_channel(s, w == W_CHANNEL ? INVSCAN_INTERFACE : INVSCAN_DEVICE, n);
            }
            return 0;
        }
        return string(s, NULL, 0, NULL);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        return number(s);
    }
}

/* The whole text is one value. */
static int scan_text(struct scan *s)
{
    if (value(s, W_ROOT) < 0)
        return -1;
    skip_ws(s);
    return s->p == s->end ? 0 : -1;
}

int invscan_channels(const char *text, size_t len, invscan_channel_fn fn, void *arg)
{
    struct scan s = {.start = (const unsigned char *)text,
                     .p = (const unsigned char *)text,
                     .end = (const unsigned char *)text + len,
                     .fn = fn,
                     .arg = arg};

    IFMON_ASSERT(fn != NULL);
    return scan_text(&s);
}

int invscan_index(const char *text, size_t len, struct invscan_index *idx)
{
    struct scan s = {.start = (const unsigned char *)text,
                     .p = (const unsigned char *)text,
                     .end = (const unsigned char *)text + len,
                     .idx = idx};

    memset(idx, 0, sizeof(*idx));
    if (scan_text(&s) < 0) {
        invscan_index_free(idx);
        return -1;
    }
    return 0;
}

void invscan_index_free(struct invscan_index *idx)
{
    int level;

    for (level = 0; level < INVSCAN_LEVELS; level++)
        free(idx->nodes[level]);
    free(idx->names);
    memset(idx, 0, sizeof(*idx));
}
