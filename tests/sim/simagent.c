/* simagent.c -- a small, fast SNMPv1/v2c agent simulator for benchmarks.
 *
 * snmpsimd (Python) saturates a core long before the collector does, so a
 * benchmark on it measures the simulator. This serves the same .snmprec
 * files (the community selects DIR/<community>.snmprec), with the numeric
 * variation's counters (initial + rate x seconds since start, optional
 * wrap), over UDP on 127.0.0.1: GetRequest, GetNextRequest, GetBulkRequest.
 * It is a test tool, not a product agent: no SNMPv3, no SET, no traps.
 * One file on purpose: a test tool built with one cc command, read top to
 * bottom as a request goes (datagram, BER, lookup, answer).
 *
 *   simagent --data-dir DIR --listen 127.0.0.1:PORT [--max-varbinds N]
 *            [--drop-community NAME]...
 */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_OID 64
#define MAX_PACKET 65536
#define MAX_RESPONSE 8192
#define RCVBUF_BYTES (16 * 1024 * 1024)

enum {
    T_INTEGER = 0x02,
    T_OCTETS = 0x04,
    T_NULL = 0x05,
    T_OID = 0x06,
    T_SEQ = 0x30,
    T_IPADDR = 0x40,
    T_COUNTER32 = 0x41,
    T_GAUGE32 = 0x42,
    T_TIMETICKS = 0x43,
    T_COUNTER64 = 0x46,
    T_NOSUCHOBJECT = 0x80,
    T_NOSUCHINSTANCE = 0x81,
    T_ENDOFMIBVIEW = 0x82,
    PDU_GET = 0xa0,
    PDU_GETNEXT = 0xa1,
    PDU_RESPONSE = 0xa2,
    PDU_GETBULK = 0xa5
};

struct record {
    uint32_t oid[MAX_OID];
    int oid_len;
    unsigned char *ber; /* the OID's BER contents, encoded once at load */
    size_t ber_len;
    int type;
    int numeric; /* value = initial + rate * t */
    double initial, rate, max;
    int wrap;
    int64_t integer;
    unsigned char *octets; /* OCTET STRING, OID or IpAddress bytes (already encoded) */
    size_t octets_len;
};

struct community {
    char *name;
    size_t name_len;
    struct record *recs;
    size_t n, cap;
    uint32_t *by_ber; /* open addressing on the OIDs' BER: record index + 1, 0 empty */
    size_t by_ber_size; /* a power of two, at least twice n */
    int dropped;
};

static struct community *communities;
static size_t ncommunities;

static int community_cmp(const void *a, const void *b)
{
    const struct community *x = a, *y = b;

    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return memcmp(x->name, y->name, x->name_len);
}
static double start_time;
static int max_varbinds = 64;
static volatile sig_atomic_t stopping;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int oid_cmp(const uint32_t *a, int la, const uint32_t *b, int lb)
{
    int i;

    for (i = 0; i < la && i < lb; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return (la > lb) - (la < lb);
}

static int rec_cmp(const void *x, const void *y)
{
    const struct record *a = x, *b = y;

    return oid_cmp(a->oid, a->oid_len, b->oid, b->oid_len);
}

static int parse_oid_text(const char *s, uint32_t *oid)
{
    int n = 0;

    while (*s && n < MAX_OID) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);

        if (end == s)
            return -1;
        oid[n++] = (uint32_t)v;
        s = end;
        if (*s == '.')
            s++;
        else if (*s)
            return -1;
    }
    return n >= 2 ? n : -1;
}

/* FNV-1a of a record's (or a request's) OID bytes. */
static uint32_t ber_hash(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;

    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h ^ (h >> 15);
}

/* The record whose OID is exactly these BER bytes, or -1: a GET is
 * answered without decoding its OIDs or searching. */
static long ber_lookup(const struct community *c, const unsigned char *p, size_t n)
{
    size_t mask = c->by_ber_size - 1, i;

    if (c->by_ber_size == 0)
        return -1;
    for (i = ber_hash(p, n) & mask; c->by_ber[i]; i = (i + 1) & mask) {
        const struct record *r = &c->recs[c->by_ber[i] - 1];

        if (r->ber_len == n && memcmp(r->ber, p, n) == 0)
            return (long)(c->by_ber[i] - 1);
    }
    return -1;
}

/* BER contents of an OID (X.690 8.19): the first two arcs in one
 * subidentifier, each in base 128. out holds MAX_OID * 5 bytes. */
static size_t encode_oid(const uint32_t *oid, int len, unsigned char *out)
{
    size_t n = 0;
    int i;

    for (i = 1; i < len; i++) {
        uint32_t v = i == 1 ? oid[0] * 40 + oid[1] : oid[i];
        unsigned char tmp[5];
        int k = 0;

        do {
            tmp[k++] = v & 0x7f;
            v >>= 7;
        } while (v);
        while (k > 1)
            out[n++] = tmp[--k] | 0x80;
        out[n++] = tmp[0];
    }
    return n;
}

/* Each record's OID in BER, and the table ber_lookup() searches. */
static void index_community(struct community *c)
{
    unsigned char b[MAX_OID * 5];
    size_t i, size = 16;

    while (size < 2 * c->n)
        size *= 2;
    c->by_ber = calloc(size, sizeof(*c->by_ber));
    if (c->by_ber == NULL) {
        perror("simagent");
        exit(1);
    }
    c->by_ber_size = size;
    for (i = 0; i < c->n; i++) {
        struct record *r = &c->recs[i];
        size_t k;

        r->ber_len = encode_oid(r->oid, r->oid_len, b);
        r->ber = malloc(r->ber_len ? r->ber_len : 1);
        if (r->ber == NULL) {
            perror("simagent");
            exit(1);
        }
        memcpy(r->ber, b, r->ber_len);
        if (ber_lookup(c, r->ber, r->ber_len) >= 0)
            continue; /* a duplicate OID: the first one answers, as the search gives */
        for (k = ber_hash(r->ber, r->ber_len) & (size - 1); c->by_ber[k]; k = (k + 1) & (size - 1))
            ;
        c->by_ber[k] = (uint32_t)(i + 1);
    }
}

static void parse_numeric(struct record *r, const char *v)
{
    char buf[512], *tok, *save;

    r->numeric = 1;
    r->max = r->type == T_COUNTER64 ? 18446744073709551615.0 : 4294967295.0;
    snprintf(buf, sizeof(buf), "%s", v);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');

        if (eq == NULL)
            continue;
        *eq = '\0';
        if (strcmp(tok, "rate") == 0)
            r->rate = atof(eq + 1);
        else if (strcmp(tok, "initial") == 0)
            r->initial = atof(eq + 1);
        else if (strcmp(tok, "max") == 0)
            r->max = atof(eq + 1);
        else if (strcmp(tok, "wrap") == 0)
            r->wrap = atoi(eq + 1);
    }
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* One "OID|TAG|VALUE" line. Returns 0, or -1 to skip it. */
static int parse_line(char *line, struct record *r)
{
    char *p1 = strchr(line, '|'), *p2, *tag, *value;
    int base, hex = 0;

    if (p1 == NULL || (p2 = strchr(p1 + 1, '|')) == NULL)
        return -1;
    *p1 = *p2 = '\0';
    tag = p1 + 1;
    value = p2 + 1;
    value[strcspn(value, "\r\n")] = '\0';
    memset(r, 0, sizeof(*r));
    if ((r->oid_len = parse_oid_text(line, r->oid)) < 0)
        return -1;
    base = atoi(tag);
    if (strchr(tag, 'x') && strchr(tag, 'x') < (strchr(tag, ':') ? strchr(tag, ':') : tag + 99))
        hex = 1;
    /* snmpsim's tags are the BER types in decimal (SMIv2 application
     * types 64-70 are 0x40 + n). */
    if (base == 2 || base == 4 || base == 6)
        r->type = base;
    else if ((base >= 64 && base <= 67) || base == 70)
        r->type = 0x40 + (base - 64);
    else
        return -1;
    if (strstr(tag, ":numeric")) {
        parse_numeric(r, value);
        return 0;
    }
    if (strchr(tag, ':'))
        return -1; /* another variation module: not simulated */
    if (r->type == T_OCTETS) {
        size_t n = strlen(value), i;

        r->octets = malloc(n + 1);
        if (hex) {
            for (i = 0; i + 1 < n + 1 && hexval(value[2 * i]) >= 0 && hexval(value[2 * i + 1]) >= 0;
                 i++)
                r->octets[i] =
                    (unsigned char)(hexval(value[2 * i]) * 16 + hexval(value[2 * i + 1]));
            r->octets_len = i;
        } else {
            memcpy(r->octets, value, n);
            r->octets_len = n;
        }
    } else if (r->type == T_OID) {
        uint32_t o[MAX_OID];
        int n = parse_oid_text(value, o);

        if (n < 2)
            return -1;
        r->octets = malloc(MAX_OID * 5);
        r->octets_len = encode_oid(o, n, r->octets);
    } else if (r->type == T_IPADDR) {
        r->octets = malloc(4);
        if (inet_pton(AF_INET, value, r->octets) != 1) {
            free(r->octets);
            return -1;
        }
        r->octets_len = 4;
    } else {
        r->integer = strtoll(value, NULL, 10);
        if (r->type != T_INTEGER && r->type != T_COUNTER64)
            r->integer = (int64_t)strtoull(value, NULL, 10);
    }
    return 0;
}

static void load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t total = 0;

    if (d == NULL) {
        fprintf(stderr, "simagent: %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[4096], line[8192];
        struct community *c;
        FILE *f;

        if (len < 9 || strcmp(e->d_name + len - 8, ".snmprec") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        communities = realloc(communities, (ncommunities + 1) * sizeof(*communities));
        c = &communities[ncommunities++];
        memset(c, 0, sizeof(*c));
        c->name = strndup(e->d_name, len - 8);
        c->name_len = len - 8;
        while (fgets(line, sizeof(line), f)) {
            if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 64;
                c->recs = realloc(c->recs, c->cap * sizeof(*c->recs));
            }
            if (parse_line(line, &c->recs[c->n]) == 0)
                c->n++;
        }
        fclose(f);
        qsort(c->recs, c->n, sizeof(*c->recs), rec_cmp);
        index_community(c);
        total += c->n;
    }
    closedir(d);
    /* Sorted, to find a request's community in O(log n): with a thousand
     * devices' files, a scan was a tenth of the simulator's time. */
    qsort(communities, ncommunities, sizeof(*communities), community_cmp);
    fprintf(stderr, "simagent: %zu communities, %zu records from %s\n", ncommunities, total, dir);
}

/* By length, then bytes: the order find_community() searches in. */
static int name_cmp(const char *a, size_t alen, const unsigned char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

static struct community *find_community(const unsigned char *s, size_t n)
{
    size_t lo = 0, hi = ncommunities;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int k = name_cmp(communities[mid].name, communities[mid].name_len, s, n);

        if (k == 0)
            return &communities[mid];
        if (k < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The first record after oid (GETNEXT, GETBULK): its index, or -1 past
 * the end. */
static long lookup_next(const struct community *c, const uint32_t *oid, int len)
{
    size_t lo = 0, hi = c->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (oid_cmp(c->recs[mid].oid, c->recs[mid].oid_len, oid, len) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->n ? (long)lo : -1;
}

/* ------------------------------------------------------------------ BER */

struct reader {
    const unsigned char *p, *end;
};

static int rd_tlv(struct reader *r, int *type, const unsigned char **val, size_t *len)
{
    size_t l;

    if (r->end - r->p < 2)
        return -1;
    *type = *r->p++;
    l = *r->p++;
    if (l & 0x80) {
        int n = (int)(l & 0x7f);

        if (n == 0 || n > 4 || r->end - r->p < n)
            return -1;
        for (l = 0; n > 0; n--)
            l = (l << 8) | *r->p++;
    }
    if ((size_t)(r->end - r->p) < l)
        return -1;
    *val = r->p;
    *len = l;
    r->p += l;
    return 0;
}

static int rd_int(struct reader *r, long *out)
{
    const unsigned char *v;
    size_t len, i;
    int type;
    long x;

    if (rd_tlv(r, &type, &v, &len) < 0 || type != T_INTEGER || len == 0 || len > 8)
        return -1;
    x = (v[0] & 0x80) ? -1 : 0;
    for (i = 0; i < len; i++)
        x = (long)(((unsigned long)x << 8) | v[i]);
    *out = x;
    return 0;
}

static int decode_oid(const unsigned char *v, size_t len, uint32_t *oid)
{
    int n = 0;
    uint32_t acc = 0;
    size_t i;

    if (len == 0)
        return -1;
    for (i = 0; i < len; i++) {
        if (acc > (UINT32_MAX >> 7))
            return -1;
        acc = (acc << 7) | (v[i] & 0x7f);
        if (!(v[i] & 0x80)) {
            if (n == 0) {
                oid[n++] = acc < 80 ? acc / 40 : 2;
                oid[n++] = acc < 80 ? acc % 40 : acc - 80;
            } else if (n < MAX_OID) {
                oid[n++] = acc;
            } else {
                return -1;
            }
            acc = 0;
        }
    }
    return (v[len - 1] & 0x80) ? -1 : n;
}

struct writer {
    unsigned char buf[MAX_RESPONSE];
    size_t len;
    int overflow;
};

static void w_bytes(struct writer *w, const void *b, size_t n)
{
    if (w->len + n > sizeof(w->buf)) {
        w->overflow = 1;
        return;
    }
    memcpy(w->buf + w->len, b, n);
    w->len += n;
}

/* Open a constructed value with a 3-byte long-form length, filled later. */
static size_t w_open(struct writer *w, int type)
{
    unsigned char h[4] = {(unsigned char)type, 0x82, 0, 0};

    w_bytes(w, h, 4);
    return w->len;
}

static void w_close(struct writer *w, size_t at)
{
    size_t n = w->len - at;

    if (w->overflow)
        return;
    w->buf[at - 2] = (unsigned char)(n >> 8);
    w->buf[at - 1] = (unsigned char)n;
}

static void w_tlv(struct writer *w, int type, const void *v, size_t n)
{
    unsigned char h[4];
    size_t hl = 0;

    h[hl++] = (unsigned char)type;
    if (n < 128) {
        h[hl++] = (unsigned char)n;
    } else if (n < 256) {
        h[hl++] = 0x81;
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 0x82;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    }
    w_bytes(w, h, hl);
    w_bytes(w, v, n);
}

static void w_int(struct writer *w, int type, int64_t v)
{
    unsigned char b[9];
    int n = 8, i;

    for (i = 0; i < 8; i++)
        b[1 + i] = (unsigned char)((uint64_t)v >> (8 * (7 - i)));
    /* Minimal two's complement. */
    i = 1;
    while (n > 1 && ((b[i] == 0 && !(b[i + 1] & 0x80)) || (b[i] == 0xff && (b[i + 1] & 0x80)))) {
        i++;
        n--;
    }
    w_tlv(w, type, b + i, (size_t)n);
}

static void w_uint(struct writer *w, int type, uint64_t v)
{
    unsigned char b[9];
    int i = 0, n;

    b[0] = 0;
    for (n = 0; n < 8; n++)
        b[1 + n] = (unsigned char)(v >> (8 * (7 - n)));
    i = 1;
    while (i < 8 && b[i] == 0)
        i++;
    if (b[i] & 0x80)
        i--; /* keep it positive */
    w_tlv(w, type, b + i, (size_t)(9 - i));
}

static void w_oid(struct writer *w, const uint32_t *oid, int len)
{
    unsigned char b[MAX_OID * 5];

    w_tlv(w, T_OID, b, encode_oid(oid, len, b));
}

static void w_value(struct writer *w, const struct record *r, double t)
{
    if (r->numeric) {
        double v = r->initial + r->rate * t;

        if (v > r->max)
            v = r->wrap ? fmod(v, r->max + 1.0) : r->max;
        if (r->type == T_INTEGER)
            w_int(w, T_INTEGER, (int64_t)v);
        else
            w_uint(w, r->type, (uint64_t)v);
        return;
    }
    switch (r->type) {
    case T_INTEGER:
        w_int(w, T_INTEGER, r->integer);
        break;
    case T_OCTETS:
    case T_OID:
    case T_IPADDR:
        w_tlv(w, r->type, r->octets, r->octets_len);
        break;
    default:
        w_uint(w, r->type, (uint64_t)r->integer);
    }
}

/* ------------------------------------------------------------- requests */

struct varbind {
    uint32_t oid[MAX_OID];
    int len;
    const unsigned char *ber; /* the request's bytes */
    size_t ber_len;
};

/* Handle one datagram; returns the response length, 0 for no answer. */
static size_t handle(const unsigned char *pkt, size_t n, struct writer *w)
{
    struct reader msg = {pkt, pkt + n}, body, pdu, vbl;
    const unsigned char *v;
    size_t len;
    int type, pdu_type, nvb = 0, i;
    long version, reqid, a, b;
    struct community *c;
    struct varbind vbs[128];
    double t = now_s() - start_time;
    size_t seq, pdu_at, list_at;
    long errstat = 0, errindex = 0;

    if (rd_tlv(&msg, &type, &v, &len) < 0 || type != T_SEQ)
        return 0;
    body.p = v;
    body.end = v + len;
    if (rd_int(&body, &version) < 0 || (version != 0 && version != 1))
        return 0;
    if (rd_tlv(&body, &type, &v, &len) < 0 || type != T_OCTETS)
        return 0;
    c = find_community(v, len);
    if (c == NULL || c->dropped)
        return 0;
    if (rd_tlv(&body, &pdu_type, &v, &len) < 0)
        return 0;
    if (pdu_type != PDU_GET && pdu_type != PDU_GETNEXT &&
        !(pdu_type == PDU_GETBULK && version == 1))
        return 0;
    pdu.p = v;
    pdu.end = v + len;
    if (rd_int(&pdu, &reqid) < 0 || rd_int(&pdu, &a) < 0 || rd_int(&pdu, &b) < 0)
        return 0;
    if (rd_tlv(&pdu, &type, &v, &len) < 0 || type != T_SEQ)
        return 0;
    vbl.p = v;
    vbl.end = v + len;
    while (vbl.p < vbl.end) {
        struct reader vb;

        if (rd_tlv(&vbl, &type, &v, &len) < 0 || type != T_SEQ || nvb >= 128)
            return 0;
        vb.p = v;
        vb.end = v + len;
        if (rd_tlv(&vb, &type, &v, &len) < 0 || type != T_OID)
            return 0;
        if ((vbs[nvb].len = decode_oid(v, len, vbs[nvb].oid)) < 2)
            return 0;
        vbs[nvb].ber = v;
        vbs[nvb].ber_len = len;
        nvb++;
    }

    w->len = 0;
    w->overflow = 0;
    seq = w_open(w, T_SEQ);
    w_int(w, T_INTEGER, version);
    w_tlv(w, T_OCTETS, c->name, c->name_len);
    pdu_at = w_open(w, PDU_RESPONSE);
    w_int(w, T_INTEGER, reqid);
    {
        size_t status_at = w->len;

        w_int(w, T_INTEGER, 0); /* error-status, patched below (one byte) */
        w_int(w, T_INTEGER, 0); /* error-index */
        list_at = w_open(w, T_SEQ);
        if (pdu_type != PDU_GETBULK) {
            if (nvb > max_varbinds)
                errstat = 1; /* tooBig */
            for (i = 0; i < nvb && !errstat; i++) {
                long k = pdu_type == PDU_GET ? ber_lookup(c, vbs[i].ber, vbs[i].ber_len)
                                             : lookup_next(c, vbs[i].oid, vbs[i].len);
                size_t one = w_open(w, T_SEQ);

                if (k < 0) {
                    if (version == 0) {
                        errstat = 2; /* noSuchName */
                        errindex = i + 1;
                        break;
                    }
                    w_oid(w, vbs[i].oid, vbs[i].len);
                    w_tlv(w, pdu_type == PDU_GETNEXT ? T_ENDOFMIBVIEW : T_NOSUCHINSTANCE, NULL, 0);
                } else {
                    w_tlv(w, T_OID, c->recs[k].ber, c->recs[k].ber_len);
                    w_value(w, &c->recs[k], t);
                }
                w_close(w, one);
            }
        } else {
            long nonrep = a < 0 ? 0 : a > nvb ? nvb : a, reps = b < 0 ? 0 : b, r;
            long cur[128];
            int out = 0;

            for (i = 0; i < nvb; i++)
                cur[i] = -2; /* not started */
            for (i = 0; i < nonrep && out < max_varbinds; i++, out++) {
                long k = lookup_next(c, vbs[i].oid, vbs[i].len);
                size_t one = w_open(w, T_SEQ);

                if (k < 0) {
                    w_oid(w, vbs[i].oid, vbs[i].len);
                    w_tlv(w, T_ENDOFMIBVIEW, NULL, 0);
                } else {
                    w_tlv(w, T_OID, c->recs[k].ber, c->recs[k].ber_len);
                    w_value(w, &c->recs[k], t);
                }
                w_close(w, one);
            }
            for (r = 0; r < reps && nvb > nonrep; r++) {
                int ended = 1;

                for (i = (int)nonrep; i < nvb; i++) {
                    size_t before = w->len, one;
                    long k;

                    if (out >= max_varbinds)
                        goto bulk_done;
                    k = cur[i] == -2 ? lookup_next(c, vbs[i].oid, vbs[i].len)
                        : cur[i] < 0 ? -1
                                     : (cur[i] + 1 < (long)c->n ? cur[i] + 1 : -1);
                    one = w_open(w, T_SEQ);
                    if (k < 0) {
                        w_oid(w, vbs[i].oid, vbs[i].len);
                        w_tlv(w, T_ENDOFMIBVIEW, NULL, 0);
                    } else {
                        w_tlv(w, T_OID, c->recs[k].ber, c->recs[k].ber_len);
                        w_value(w, &c->recs[k], t);
                        ended = 0;
                    }
                    w_close(w, one);
                    if (w->overflow || w->len > MAX_RESPONSE - 200) {
                        w->len = before; /* leave it out: the response is full */
                        w->overflow = 0;
                        goto bulk_done;
                    }
                    cur[i] = k < 0 ? -1 : k;
                    out++;
                }
                if (ended)
                    break;
            }
        bulk_done:;
        }
        if (errstat || w->overflow) {
            /* tooBig or noSuchName: echo the request's varbinds, NULL values. */
            if (w->overflow)
                errstat = 1;
            w->overflow = 0;
            w->len = list_at;
            for (i = 0; i < nvb; i++) {
                size_t one = w_open(w, T_SEQ);

                w_oid(w, vbs[i].oid, vbs[i].len);
                w_tlv(w, T_NULL, NULL, 0);
                w_close(w, one);
            }
            if (w->overflow)
                return 0;
        }
        w_close(w, list_at);
        w->buf[status_at + 2] = (unsigned char)errstat;
        w->buf[status_at + 5] = (unsigned char)errindex;
    }
    w_close(w, pdu_at);
    w_close(w, seq);
    return w->overflow ? 0 : w->len;
}

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *listen_at = NULL;
    static unsigned char pkt[MAX_PACKET];
    static struct writer w;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char host[64];
    int fd, i, port;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen_at = argv[++i];
        else if (strcmp(argv[i], "--max-varbinds") == 0 && i + 1 < argc)
            max_varbinds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--drop-community") == 0 && i + 1 < argc)
            i++; /* applied after loading */
        else {
            fprintf(stderr, "usage: simagent --data-dir DIR --listen 127.0.0.1:PORT "
                            "[--max-varbinds N] [--drop-community NAME]...\n");
            return 2;
        }
    }
    if (dir == NULL || listen_at == NULL || sscanf(listen_at, "%63[^:]:%d", host, &port) != 2 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "simagent: --data-dir and --listen ADDR:PORT are required\n");
        return 2;
    }
    load_dir(dir);
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--drop-community") == 0 && i + 1 < argc) {
            struct community *c =
                find_community((const unsigned char *)argv[i + 1], strlen(argv[i + 1]));
            if (c)
                c->dropped = 1;
        }
    start_time = now_s();
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    sa.sin_port = htons((uint16_t)port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "simagent: bind %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    /* One socket stands in for hundreds of devices, each of which would
     * have its own buffer: with the default (about 80 requests) a stall
     * of some 40 ms on a shared machine dropped requests, and the
     * benchmark measured the simulator. Root may pass net.core.rmem_max. */
    {
        int want = RCVBUF_BYTES;

        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
    }
    /* No SA_RESTART: the signal must interrupt recvfrom() so the loop
     * sees `stopping` (signal() would restart the call and wait for the
     * next packet). */
    {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
    fprintf(stderr, "simagent: listening on %s\n", listen_at);
    while (!stopping) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &fl);
        size_t out;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        out = handle(pkt, (size_t)n, &w);
        if (out)
            sendto(fd, w.buf, out, 0, (struct sockaddr *)&from, fl);
    }
    close(fd);
    return 0;
}
