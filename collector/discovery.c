/* discovery.c -- see discovery.h. The walk asks the four columns side by
 * side (RFC 3416 GETBULK with max-repetitions, or GETNEXT for SNMPv1) and
 * follows each until it leaves its column; an agent that does not move
 * forward, or more than WALK_MAX_ROWS rows, ends it.
 *
 * Everything here is linear (or n log n) in the rows walked, whatever
 * order the agent answers in: rows are found by ifIndex through a hash
 * index, and names are matched through sorted arrays. A device with
 * WALK_MAX_ROWS interfaces costs the loop one pass, not n^2
 * (docs/RELIABILITY.md has the measured figures).
 *
 * Names are the agent's ifName and ifDescr, and the description its
 * ifAlias, as UTF-8 (ifmon_utf8_or_latin1: text that is not valid UTF-8 is
 * read as Latin-1), at most IFMON_IFNAME_MAX bytes: the same text in the
 * channel, the messages and the inventory, and what the inventory's globs
 * (`interfaces`, `site_total`) are matched against. */

#include "discovery.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "device.h"
#include "json_text.h"
#include "keys.h"
#include "log.h"
#include "mib.h"
#include "poller.h"
#include "util.h"

#define WALK_COLS 4 /* ifName, ifDescr, ifType, ifAlias */
#define COL_TYPE 2
#define COL_ALIAS 3
#define WALK_MAX_ROWS 100000
#define WALK_REPETITIONS 24
#define IFTYPE_SOFTWARE_LOOPBACK 24 /* IANAifType-MIB */

/* One column being walked. */
struct walk_col {
    const oid *prefix;
    size_t prefix_len;
    oid last[MAX_OID_LEN];
    size_t last_len;
    int done;
};

/* ifIndex -> names collected by the walk. */
struct walk_row {
    long ifindex;
    char *name;
    char *descr;
    char *alias;
    long type; /* ifType (IANAifType), 0 when unknown */
};

struct walk {
    struct walk_col cols[WALK_COLS]; /* ifName, ifDescr, ifType, ifAlias */
    struct walk_row *rows;
    size_t nrows, cap;
    uint32_t *index;   /* open addressing by ifIndex: row number + 1, 0 = free */
    size_t index_size; /* a power of two, at least twice cap */
};

/* ----------------------------------------------------------------- walk */

static size_t index_slot(const struct walk *w, long ifindex)
{
    uint64_t h = (uint64_t)ifindex * 0x9e3779b97f4a7c15ULL; /* Fibonacci hashing */

    return (size_t)(h >> 32) & (w->index_size - 1);
}

/* Index every row again in a table of twice the rows' capacity. */
static void index_rebuild(struct walk *w)
{
    size_t i;

    free(w->index);
    w->index_size = 2 * w->cap;
    w->index = ifmon_xcalloc(w->index_size, sizeof(*w->index));
    for (i = 0; i < w->nrows; i++) {
        size_t b = index_slot(w, w->rows[i].ifindex);

        while (w->index[b])
            b = (b + 1) & (w->index_size - 1);
        w->index[b] = (uint32_t)(i + 1);
    }
}

/* The row of ifindex, created when new: O(1) whatever the order the agent
 * answers in. */
static struct walk_row *walk_row(struct walk *w, long ifindex)
{
    struct walk_row *r;
    size_t b;

    if (w->index_size) {
        for (b = index_slot(w, ifindex); w->index[b]; b = (b + 1) & (w->index_size - 1))
            if (w->rows[w->index[b] - 1].ifindex == ifindex)
                return &w->rows[w->index[b] - 1];
    }
    if (w->nrows == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->rows = ifmon_xrealloc(w->rows, w->cap * sizeof(*w->rows));
        index_rebuild(w);
    }
    r = &w->rows[w->nrows++];
    r->ifindex = ifindex;
    r->name = NULL;
    r->descr = NULL;
    r->alias = NULL;
    r->type = 0;
    for (b = index_slot(w, ifindex); w->index[b]; b = (b + 1) & (w->index_size - 1))
        ;
    w->index[b] = (uint32_t)w->nrows;
    return r;
}

void discovery_free(struct device *dev)
{
    struct walk *w = dev->walk;
    size_t i;

    if (w == NULL)
        return;
    for (i = 0; i < w->nrows; i++) {
        free(w->rows[i].name);
        free(w->rows[i].descr);
        free(w->rows[i].alias);
    }
    free(w->rows);
    free(w->index);
    free(w);
    dev->walk = NULL;
}

static int walk_send(struct device *dev);

/* Take one varbind of a walk response for column c. Returns 1 when the
 * column goes on, 0 when it is finished. */
static int walk_take(struct walk *w, int c, const netsnmp_variable_list *v)
{
    struct walk_col *col = &w->cols[c];
    struct walk_row *row;
    char **slot;

    if (v->type == SNMP_ENDOFMIBVIEW || v->type == SNMP_NOSUCHOBJECT ||
        v->type == SNMP_NOSUCHINSTANCE || v->name_length != col->prefix_len + 1 ||
        snmp_oid_ncompare(v->name, v->name_length, col->prefix, col->prefix_len, col->prefix_len) !=
            0)
        return 0;
    /* The agent must move forward, or we would walk forever. */
    if (snmp_oid_compare(v->name, v->name_length, col->last, col->last_len) <= 0 ||
        w->nrows >= WALK_MAX_ROWS)
        return 0;
    memcpy(col->last, v->name, v->name_length * sizeof(oid));
    col->last_len = v->name_length;
    if (c == COL_TYPE) {
        if (v->type == ASN_INTEGER)
            walk_row(w, (long)v->name[v->name_length - 1])->type = *v->val.integer;
        return 1;
    }
    if (v->type != ASN_OCTET_STR)
        return 1;
    row = walk_row(w, (long)v->name[v->name_length - 1]);
    slot = c == 0 ? &row->name : c == 1 ? &row->descr : &row->alias;
    free(*slot);
    *slot = ifmon_utf8_or_latin1((const char *)v->val.string, v->val_len, IFMON_IFNAME_MAX, NULL);
    return 1;
}

static int on_walk(int op, netsnmp_session *sp, int reqid, netsnmp_pdu *pdu, void *magic)
{
    struct device *dev = magic;
    struct walk *w = dev->walk;
    netsnmp_variable_list *v;
    int active[WALK_COLS], nactive = 0, i = 0, c;
    enum session_answer got = session_answer(dev, op, pdu);

    if (got == SESSION_RESENT)
        return 1;
    if (got == SESSION_USABLE && w != NULL) {
        for (c = 0; c < WALK_COLS; c++)
            if (!w->cols[c].done)
                active[nactive++] = c;
        if (pdu->errstat == SNMP_ERR_NOSUCHNAME && pdu->errindex >= 1 && pdu->errindex <= nactive) {
            /* SNMPv1 end of column. */
            w->cols[active[pdu->errindex - 1]].done = 1;
        } else if (pdu->errstat != SNMP_ERR_NOERROR) {
            dev->failures++;
            device_error(dev, "discovery: %s", snmp_errstring((int)pdu->errstat));
        } else {
            int going[WALK_COLS] = {0};

            for (v = pdu->variables; v != NULL && nactive > 0; v = v->next_variable, i++) {
                c = active[i % nactive];
                if (!w->cols[c].done && walk_take(w, c, v))
                    going[c] = 1;
                else
                    w->cols[c].done = 1;
            }
            /* A column that got no varbind at all is finished too. */
            for (c = 0; c < nactive; c++)
                if (!going[active[c]])
                    w->cols[active[c]].done = 1;
        }
        for (c = 0; c < WALK_COLS && w->cols[c].done; c++)
            ;
        if (dev->failures == 0 && c < WALK_COLS) {
            if (walk_send(dev) == 0)
                return 1;
            dev->failures++;
        }
    }
    if (dev->outstanding == 0)
        poller_phase_done(dev);
    return 1;
}

static int walk_send(struct device *dev)
{
    struct walk *w = dev->walk;
    netsnmp_pdu *pdu;
    int c;

    if (dev->cfg->version == CONFIG_SNMP_V1) {
        pdu = snmp_pdu_create(SNMP_MSG_GETNEXT);
    } else {
        pdu = snmp_pdu_create(SNMP_MSG_GETBULK);
        pdu->non_repeaters = 0;
        pdu->max_repetitions = WALK_REPETITIONS;
    }
    for (c = 0; c < WALK_COLS; c++)
        if (!w->cols[c].done)
            snmp_add_null_var(pdu, w->cols[c].last, w->cols[c].last_len);
    return session_send(dev, pdu, on_walk, dev);
}

void discovery_start(struct device *dev)
{
    struct walk *w = ifmon_xcalloc(1, sizeof(*w));
    int c;

    w->cols[0].prefix = oid_if_name;
    w->cols[0].prefix_len = OID_LENGTH(oid_if_name);
    w->cols[1].prefix = oid_if_descr;
    w->cols[1].prefix_len = OID_LENGTH(oid_if_descr);
    w->cols[COL_TYPE].prefix = oid_if_type;
    w->cols[COL_TYPE].prefix_len = OID_LENGTH(oid_if_type);
    w->cols[COL_ALIAS].prefix = oid_if_alias;
    w->cols[COL_ALIAS].prefix_len = OID_LENGTH(oid_if_alias);
    for (c = 0; c < WALK_COLS; c++) {
        memcpy(w->cols[c].last, w->cols[c].prefix, w->cols[c].prefix_len * sizeof(oid));
        w->cols[c].last_len = w->cols[c].prefix_len;
    }
    dev->walk = w;
    if (walk_send(dev) < 0) {
        dev->failures++;
        poller_phase_done(dev);
    }
}

/* ---------------------------------------------------- the walk's result */

/* The first of the n globs that text matches, or NULL. */
static const char *glob_match(char *const *globs, size_t n, const char *text)
{
    size_t i;

    if (text == NULL || text[0] == '\0')
        return NULL;
    for (i = 0; i < n; i++)
        if (fnmatch(globs[i], text, 0) == 0)
            return globs[i];
    return NULL;
}

static int iface_cmp_index(const void *a, const void *b)
{
    const struct iface *x = a, *y = b;

    return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

/* Order of interfaces by name, then by their position in the list (so the
 * first of several with one name comes first). */
static int iface_cmp_name(const void *a, const void *b)
{
    const struct iface *const *x = a, *const *y = b;
    int c = strcmp((*x)->name, (*y)->name);

    return c ? c : (*x > *y) - (*x < *y);
}

/* The interfaces of the walk that the inventory asks for, each with a
 * name, in walk order; *n of them. Of several with one name the first is
 * kept (the others are logged). *has_ifx says whether the agent has the
 * ifXTable. */
static struct iface *wanted_ifaces(const struct device *dev, size_t *n, int *has_ifx)
{
    const struct config_device *c = dev->cfg;
    const struct walk *w = dev->walk;
    struct iface *list = ifmon_xcalloc(w->nrows, sizeof(*list)), **by_name;
    size_t i, j, k = 0, kept;
    int width;

    *has_ifx = 0;
    for (i = 0; i < w->nrows; i++)
        if (w->rows[i].name && w->rows[i].name[0])
            *has_ifx = 1;
    width = counters_start_width(dev, *has_ifx);
    for (i = 0; i < w->nrows; i++) {
        const struct walk_row *r = &w->rows[i];
        const char *name = NULL, *by_alias = NULL;

        if (c->ninterfaces == 0)
            name = r->name && r->name[0] ? r->name : r->descr;
        else if (glob_match(c->interfaces, c->ninterfaces, r->name))
            name = r->name;
        else if (glob_match(c->interfaces, c->ninterfaces, r->descr))
            name = r->descr;
        else if ((by_alias = glob_match(c->interfaces, c->ninterfaces, r->alias)) != NULL)
            name = r->name && r->name[0] ? r->name : r->descr;
        if (name == NULL || name[0] == '\0')
            continue;
        list[k].name = ifmon_xstrdup(name);
        list[k].descr = ifmon_xstrdup(r->descr ? r->descr : "");
        list[k].alias = ifmon_xstrdup(r->alias ? r->alias : "");
        list[k].ifindex = r->ifindex;
        list[k].loopback = r->type == IFTYPE_SOFTWARE_LOOPBACK;
        list[k].site_total = glob_match(c->site_total, c->nsite_total, list[k].name) ||
                             glob_match(c->site_total, c->nsite_total, list[k].descr) ||
                             glob_match(c->site_total, c->nsite_total, list[k].alias);
        list[k].rd.width = width;
        list[k].rd.packets_width = width;
        list[k].picked_by_alias = by_alias;
        k++;
    }
    /* Duplicates by sorting pointers by name: n log n, not n^2. The first
     * of each group is polled; the others are marked with an empty name. */
    by_name = ifmon_xcalloc(k, sizeof(*by_name));
    for (i = 0; i < k; i++)
        by_name[i] = &list[i];
    qsort(by_name, k, sizeof(*by_name), iface_cmp_name);
    for (i = 0; i < k; i = j) {
        for (j = i + 1; j < k && strcmp(by_name[j]->name, by_name[i]->name) == 0; j++) {
            log_warn("device %s: interfaces %ld and %ld are both named \"%s\"; polling %ld",
                     c->name, by_name[i]->ifindex, by_name[j]->ifindex, by_name[i]->name,
                     by_name[i]->ifindex);
            by_name[j]->name[0] = '\0';
        }
    }
    free(by_name);
    for (i = kept = 0; i < k; i++) {
        if (list[i].name[0] == '\0') {
            free(list[i].name);
            free(list[i].descr);
            free(list[i].alias);
            continue;
        }
        list[kept++] = list[i];
    }
    *n = kept;
    return list;
}

static int cmp_name_key(const void *key, const void *elem)
{
    const struct iface *const *x = elem;

    return strcmp(key, (*x)->name);
}

/* The same interface, found again: its alerts go on (their texts move
 * from the old list, which is freed). */
static void take_alerts(struct iface *ifc, struct iface *was)
{
    ifc->alert = was->alert;
    memcpy(ifc->alert_text, was->alert_text, sizeof(ifc->alert_text));
    memset(was->alert_text, 0, sizeof(was->alert_text));
}

/* Put the new text of an identity field in place (the old one goes with
 * the list); 1 when it changed. */
static int take_text(char **mine, char **fresh)
{
    char *t;

    if (strcmp(*mine, *fresh) == 0)
        return 0;
    t = *mine;
    *mine = *fresh;
    *fresh = t;
    return 1;
}

/* The usual rediscovery: the walk found the interfaces already polled, by
 * name and ifIndex (list: n of them, sorted by ifIndex; old: the current
 * ones sorted by name), on an agent that still has (or lacks) the
 * ifXTable. Then nothing is rebuilt (names, chunks and their encoded GETs
 * stay): only a changed ifDescr or ifAlias is taken over (an ifAlias is in
 * every message's head: that head is built again). Returns 1 when that was
 * the case (list freed), 0 otherwise. */
static int keep_unchanged(struct device *dev, struct iface *list, size_t n, struct iface **old,
                          int has_ifx)
{
    const struct config *cfg = poller_config(dev->poller);
    int changed = 0;
    size_t i;

    if (n != dev->nifaces || has_ifx != dev->has_ifxtable)
        return 0;
    for (i = 0; i < n; i++) {
        struct iface **found = bsearch(list[i].name, old, n, sizeof(*old), cmp_name_key);

        if (found == NULL || (*found)->ifindex != list[i].ifindex)
            return 0;
    }
    for (i = 0; i < n; i++) {
        struct iface *was =
            *(struct iface **)bsearch(list[i].name, old, n, sizeof(*old), cmp_name_key);

        changed |= take_text(&was->descr, &list[i].descr);
        if (take_text(&was->alias, &list[i].alias)) {
            struct message_iface msg = was->msg;

            changed = 1;
            /* The same channel and history key, which fit before. */
            if (message_iface_init(&was->msg, cfg, dev->cfg, was->name, was->alias, was->ifindex) ==
                0) {
                was->msg.seq = msg.seq;
                was->msg.listed_speed_bps = msg.listed_speed_bps;
                message_iface_free(&msg);
            } else {
                was->msg = msg;
            }
        }
        if (was->site_total != list[i].site_total) {
            was->site_total = list[i].site_total;
            changed = 1;
        }
        free(list[i].name);
        free(list[i].descr);
        free(list[i].alias);
    }
    free(list);
    dev->need_discovery = 0;
    dev->discovered_ns = uv_hrtime();
    if (changed)
        poller_inventory_changed(dev->poller);
    return 1;
}

void discovery_apply(struct device *dev)
{
    const struct config_device *c = dev->cfg;
    const struct config *cfg = poller_config(dev->poller);
    size_t n, i, kept = 0;
    struct iface *list, **old = ifmon_xcalloc(dev->nifaces, sizeof(*old));
    int changed, has_ifx, relayout;

    list = wanted_ifaces(dev, &n, &has_ifx);
    qsort(list, n, sizeof(*list), iface_cmp_index);
    /* The interfaces polled until now, by name (no two share one). */
    for (i = 0; i < dev->nifaces; i++)
        old[i] = &dev->ifaces[i];
    qsort(old, dev->nifaces, sizeof(*old), iface_cmp_name);
    if (keep_unchanged(dev, list, n, old, has_ifx)) {
        free(old);
        return;
    }
    /* The agent gained or lost the ifXTable: what is asked changes, and no
     * reading goes on. */
    relayout = has_ifx != dev->has_ifxtable || dev->layout.vars == 0;
    dev->has_ifxtable = has_ifx;
    counters_layout(dev, has_ifx);
    changed = n != dev->nifaces;
    for (i = 0; i < n; i++) {
        struct iface *ifc = &list[i];
        struct iface **found = bsearch(ifc->name, old, dev->nifaces, sizeof(*old), cmp_name_key);
        struct iface *was = found ? *found : NULL;
        const char *by_alias = ifc->picked_by_alias;

        ifc->picked_by_alias = NULL; /* the configuration's text: not kept */
        if (was && was->ifindex == ifc->ifindex) {
            /* The same interface: its reading, rate and alert state go on. */
            if (!relayout)
                ifc->rd = was->rd;
            ifc->msg.seq = was->msg.seq;
            ifc->msg.listed_speed_bps = was->msg.listed_speed_bps;
            ifc->loopback = was->loopback;
            take_alerts(ifc, was);
            changed |= strcmp(was->alias, ifc->alias) != 0 || strcmp(was->descr, ifc->descr) ||
                       was->site_total != ifc->site_total;
        } else {
            changed = 1;
            if (was) {
                ifc->msg.seq = was->msg.seq;
                take_alerts(ifc, was);
                log_info("device %s: interface \"%s\" moved from ifIndex %ld to %ld", c->name,
                         ifc->name, was->ifindex, ifc->ifindex);
            } else if (by_alias) {
                log_info("device %s: interface \"%s\" (ifIndex %ld) polled: its ifAlias \"%s\" "
                         "matches \"%s\" of interfaces",
                         c->name, ifc->name, ifc->ifindex, ifc->alias, by_alias);
            }
        }
        if (message_iface_init(&ifc->msg, cfg, c, ifc->name, ifc->alias, ifc->ifindex) < 0) {
            log_warn("device %s: interface \"%.80s...\" (ifIndex %ld): name too long for a Redis "
                     "channel; not polled",
                     c->name, ifc->name, ifc->ifindex);
            free(ifc->name);
            free(ifc->descr);
            free(ifc->alias);
            changed = 1;
            continue;
        }
        list[kept++] = *ifc;
    }
    free(old);
    device_free_ifaces(dev->ifaces, dev->nifaces);
    dev->ifaces = list;
    dev->nifaces = kept;
    device_plan_chunks(dev);
    dev->need_discovery = 0;
    dev->discovered_ns = uv_hrtime();
    if (kept == 0)
        log_warn("device %s: no interface matches (the agent has %zu)", c->name, dev->walk->nrows);
    else
        log_debug("device %s: %zu interfaces, %zu per request", c->name, kept,
                  dev->chunks[0].count);
    if (changed)
        poller_inventory_changed(dev->poller);
}
