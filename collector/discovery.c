/* discovery.c -- see discovery.h. The walk asks the three columns side by
 * side (RFC 3416 GETBULK with max-repetitions, or GETNEXT for SNMPv1) and
 * follows each until it leaves its column; an agent that does not move
 * forward, or more than WALK_MAX_ROWS rows, ends it. */

#include "discovery.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include "device.h"
#include "log.h"
#include "mib.h"
#include "poller.h"
#include "util.h"

#define WALK_COLS 3
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
    long type; /* ifType (IANAifType), 0 when unknown */
};

struct walk {
    struct walk_col cols[WALK_COLS]; /* ifName, ifDescr, ifType */
    struct walk_row *rows;
    size_t nrows, cap;
};

/* ----------------------------------------------------------------- walk */

static struct walk_row *walk_row(struct walk *w, long ifindex)
{
    size_t i;

    /* Agents return rows in ifIndex order: the row is nearly always last. */
    for (i = w->nrows; i > 0; i--)
        if (w->rows[i - 1].ifindex == ifindex)
            return &w->rows[i - 1];
    if (w->nrows == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->rows = ifmon_xrealloc(w->rows, w->cap * sizeof(*w->rows));
    }
    w->rows[w->nrows].ifindex = ifindex;
    w->rows[w->nrows].name = NULL;
    w->rows[w->nrows].descr = NULL;
    w->rows[w->nrows].type = 0;
    return &w->rows[w->nrows++];
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
    }
    free(w->rows);
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
    if (c == 2) {
        if (v->type == ASN_INTEGER)
            walk_row(w, (long)v->name[v->name_length - 1])->type = *v->val.integer;
        return 1;
    }
    if (v->type != ASN_OCTET_STR)
        return 1;
    row = walk_row(w, (long)v->name[v->name_length - 1]);
    slot = c == 0 ? &row->name : &row->descr;
    free(*slot);
    *slot = ifmon_xstrndup((const char *)v->val.string, v->val_len);
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
    w->cols[2].prefix = oid_if_type;
    w->cols[2].prefix_len = OID_LENGTH(oid_if_type);
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

static int name_wanted(const struct config_device *c, const char *name)
{
    size_t i;

    if (name == NULL || name[0] == '\0')
        return 0;
    for (i = 0; i < c->ninterfaces; i++)
        if (fnmatch(c->interfaces[i], name, 0) == 0)
            return 1;
    return 0;
}

static int iface_cmp_index(const void *a, const void *b)
{
    const struct iface *x = a, *y = b;

    return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

/* The interfaces of the walk that the inventory asks for, each with a
 * name, no two with the same name; *n of them, unsorted. */
static struct iface *wanted_ifaces(const struct device *dev, size_t *n)
{
    const struct config_device *c = dev->cfg;
    const struct walk *w = dev->walk;
    struct iface *list = ifmon_xcalloc(w->nrows, sizeof(*list));
    int has_ifx = 0;
    size_t i, j, k = 0;

    for (i = 0; i < w->nrows; i++)
        if (w->rows[i].name && w->rows[i].name[0])
            has_ifx = 1;
    for (i = 0; i < w->nrows; i++) {
        const struct walk_row *r = &w->rows[i];
        const char *name = NULL;

        if (c->ninterfaces == 0)
            name = r->name && r->name[0] ? r->name : r->descr;
        else if (name_wanted(c, r->name))
            name = r->name;
        else if (name_wanted(c, r->descr))
            name = r->descr;
        if (name == NULL || name[0] == '\0')
            continue;
        for (j = 0; j < k && strcmp(list[j].name, name) != 0; j++)
            ;
        if (j < k) {
            log_warn("device %s: interfaces %ld and %ld are both named \"%s\"; polling %ld",
                     c->name, list[j].ifindex, r->ifindex, name, list[j].ifindex);
            continue;
        }
        list[k].name = ifmon_xstrdup(name);
        list[k].descr = ifmon_xstrdup(r->descr ? r->descr : "");
        list[k].ifindex = r->ifindex;
        list[k].loopback = r->type == IFTYPE_SOFTWARE_LOOPBACK;
        list[k].rd.width = has_ifx && c->version != CONFIG_SNMP_V1 ? 64 : 32;
        k++;
    }
    *n = k;
    return list;
}

void discovery_apply(struct device *dev)
{
    const struct config_device *c = dev->cfg;
    const char *prefix = poller_config(dev->poller)->redis.prefix;
    size_t n, i, j, kept = 0;
    struct iface *list = wanted_ifaces(dev, &n);
    int changed;

    qsort(list, n, sizeof(*list), iface_cmp_index);
    changed = n != dev->nifaces;
    for (i = 0; i < n; i++) {
        struct iface *ifc = &list[i];

        for (j = 0; j < dev->nifaces; j++)
            if (strcmp(dev->ifaces[j].name, ifc->name) == 0)
                break;
        if (j < dev->nifaces && dev->ifaces[j].ifindex == ifc->ifindex) {
            /* The same interface: its reading and rate state go on. */
            ifc->rd = dev->ifaces[j].rd;
            ifc->out.seq = dev->ifaces[j].out.seq;
            ifc->loopback = dev->ifaces[j].loopback;
        } else {
            changed = 1;
            if (j < dev->nifaces) {
                ifc->out.seq = dev->ifaces[j].out.seq;
                log_info("device %s: interface \"%s\" moved from ifIndex %ld to %ld", c->name,
                         ifc->name, dev->ifaces[j].ifindex, ifc->ifindex);
            }
        }
        if (output_iface_init(&ifc->out, prefix, c, ifc->name, ifc->ifindex) < 0) {
            log_warn("device %s: interface \"%.80s...\" (ifIndex %ld): name too long for a Redis "
                     "channel; not polled",
                     c->name, ifc->name, ifc->ifindex);
            free(ifc->name);
            free(ifc->descr);
            changed = 1;
            continue;
        }
        list[kept++] = *ifc;
    }
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
