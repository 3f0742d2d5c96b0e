/* counters.c -- see counters.h. Nothing here sends, receives or
 * publishes: the poll's I/O paths do, and the sample callback hands each
 * result on.
 *
 * The objects, RFC 2863 (RFC 1213 for what an SNMPv1 agent has):
 *
 *   group     64-bit (ifXTable)              32-bit
 *   octets    ifHCIn/OutOctets, ifHighSpeed  ifIn/OutOctets, ifSpeed (ifTable)
 *   packets   ifHCIn/OutUcastPkts            ifIn/OutUcastPkts (ifTable)
 *           + ifHCIn/OutMulticastPkts      + ifIn/OutMulticastPkts (ifXTable)
 *           + ifHCIn/OutBroadcastPkts      + ifIn/OutBroadcastPkts (ifXTable)
 *             without ifXTable, or SNMPv1:   ifIn/OutUcastPkts + ifIn/OutNUcastPkts
 *   errors    --                             ifIn/OutErrors (ifTable)
 *   discards  --                             ifIn/OutDiscards (ifTable)
 *
 * plus ifOperStatus. SNMPv1 asks only ifTable's packet counters: on v1 an
 * object the agent lacks fails the whole GET (noSuchName), and every
 * RFC 1213 agent has those. */

#include "counters.h"

#include <string.h>

#include "device.h"
#include "log.h"
#include "mib.h"
#include "util.h"

/* How a slot is named: its ifXTable column when the group's width is 64
 * (0: none), else its 32-bit column, in ifTable or (x32) in ifXTable. */
struct slot_name {
    unsigned char col64;
    unsigned char x32;
    unsigned char col32;
    unsigned char packets; /* its width is the packets group's, else the octets' */
};

static const struct slot_name slot_names[SLOT_COUNT] = {
    [SLOT_IN_OCTETS] = {COL_IF_HC_IN_OCTETS, 0, COL_IF_IN_OCTETS, 0},
    [SLOT_OUT_OCTETS] = {COL_IF_HC_OUT_OCTETS, 0, COL_IF_OUT_OCTETS, 0},
    [SLOT_SPEED] = {COL_IF_HIGH_SPEED, 0, COL_IF_SPEED, 0},
    [SLOT_OPER] = {0, 0, COL_IF_OPER_STATUS, 0},
    [SLOT_IN_UCAST] = {COL_IF_HC_IN_UCAST_PKTS, 0, COL_IF_IN_UCAST_PKTS, 1},
    [SLOT_IN_MCAST] = {COL_IF_HC_IN_MULTICAST_PKTS, 1, COL_IF_IN_MULTICAST_PKTS, 1},
    [SLOT_IN_BCAST] = {COL_IF_HC_IN_BROADCAST_PKTS, 1, COL_IF_IN_BROADCAST_PKTS, 1},
    [SLOT_OUT_UCAST] = {COL_IF_HC_OUT_UCAST_PKTS, 0, COL_IF_OUT_UCAST_PKTS, 1},
    [SLOT_OUT_MCAST] = {COL_IF_HC_OUT_MULTICAST_PKTS, 1, COL_IF_OUT_MULTICAST_PKTS, 1},
    [SLOT_OUT_BCAST] = {COL_IF_HC_OUT_BROADCAST_PKTS, 1, COL_IF_OUT_BROADCAST_PKTS, 1},
    [SLOT_IN_NUCAST] = {0, 0, COL_IF_IN_NUCAST_PKTS, 1},
    [SLOT_OUT_NUCAST] = {0, 0, COL_IF_OUT_NUCAST_PKTS, 1},
    [SLOT_IN_ERRORS] = {0, 0, COL_IF_IN_ERRORS, 0},
    [SLOT_OUT_ERRORS] = {0, 0, COL_IF_OUT_ERRORS, 0},
    [SLOT_IN_DISCARDS] = {0, 0, COL_IF_IN_DISCARDS, 0},
    [SLOT_OUT_DISCARDS] = {0, 0, COL_IF_OUT_DISCARDS, 0},
};

/* Each group's counters, inbound then outbound, per packets layout. */
static const unsigned char packets_slots[] = {SLOT_IN_UCAST,  SLOT_IN_MCAST,  SLOT_IN_BCAST,
                                              SLOT_OUT_UCAST, SLOT_OUT_MCAST, SLOT_OUT_BCAST};
static const unsigned char nucast_slots[] = {SLOT_IN_UCAST, SLOT_IN_NUCAST, SLOT_OUT_UCAST,
                                             SLOT_OUT_NUCAST};
static const unsigned char octets_slots[] = {SLOT_IN_OCTETS, SLOT_OUT_OCTETS};
static const unsigned char errors_slots[] = {SLOT_IN_ERRORS, SLOT_OUT_ERRORS};
static const unsigned char discards_slots[] = {SLOT_IN_DISCARDS, SLOT_OUT_DISCARDS};

/* ------------------------------------------------------------- layout */

int counters_start_width(const struct device *dev, int has_ifxtable)
{
    return has_ifxtable && dev->cfg->version != CONFIG_SNMP_V1 ? 64 : 32;
}

#define GROUP_BIT(g) (1u << (g))
#define ERRORS_BITS (GROUP_BIT(COUNTERS_ERRORS) | GROUP_BIT(COUNTERS_DISCARDS))

/* The slots of what l asks. */
static void layout_slots(struct counters_layout *l)
{
    unsigned asked = l->groups & ~l->missing;
    size_t k;

    l->vars = 0;
    l->slot[l->vars++] = SLOT_IN_OCTETS;
    l->slot[l->vars++] = SLOT_OUT_OCTETS;
    l->slot[l->vars++] = SLOT_SPEED;
    l->slot[l->vars++] = SLOT_OPER;
    if (asked & GROUP_BIT(COUNTERS_PACKETS)) {
        if (l->packets_nucast)
            for (k = 0; k < sizeof(nucast_slots); k++)
                l->slot[l->vars++] = nucast_slots[k];
        else
            for (k = 0; k < sizeof(packets_slots); k++)
                l->slot[l->vars++] = packets_slots[k];
    }
    if (asked & ERRORS_BITS) {
        l->slot[l->vars++] = SLOT_IN_ERRORS;
        l->slot[l->vars++] = SLOT_OUT_ERRORS;
        l->slot[l->vars++] = SLOT_IN_DISCARDS;
        l->slot[l->vars++] = SLOT_OUT_DISCARDS;
    }
    IFMON_ASSERT(l->vars <= COUNTERS_PER_IFACE_MAX);
}

void counters_layout(struct device *dev, int has_ifxtable)
{
    struct counters_layout *l = &dev->layout;
    int want = dev->cfg->counters;

    memset(l, 0, sizeof(*l));
    l->groups = GROUP_BIT(COUNTERS_OCTETS);
    if (want & CONFIG_COUNTERS_PACKETS)
        l->groups |= GROUP_BIT(COUNTERS_PACKETS);
    if (want & CONFIG_COUNTERS_ERRORS)
        l->groups |= ERRORS_BITS;
    l->packets_nucast = counters_start_width(dev, has_ifxtable) == 32;
    layout_slots(l);
}

void counters_gap_result(const struct device *dev, enum rate_gap gap, struct rate_result *res)
{
    const struct counters_layout *l = &dev->layout;
    int g;

    memset(res, 0, sizeof(*res));
    for (g = 0; g < RATE_GROUPS; g++) {
        res->group[g].status = RATE_GAP;
        res->group[g].gap = !(l->groups & GROUP_BIT(g)) ? RATE_GAP_NOT_POLLED
                            : l->missing & GROUP_BIT(g) ? RATE_GAP_NO_DATA
                                                        : gap;
    }
}

/* Where varbind k (>= 1) of chunk ch's GET is: the interface (its index
 * in the chunk) and the index of its slot in the layout (the order of
 * struct counters_layout's comment). */
static void position_of(const struct device *dev, const struct chunk *ch, size_t k, size_t *iface,
                        size_t *slot)
{
    const size_t extra = (size_t)dev->layout.vars - COUNTERS_BASE_VARS, head = ch->count * extra;

    IFMON_ASSERT(k >= 1 && k < COUNTERS_VARBINDS(ch));
    k--;
    if (k < head) {
        *iface = k / extra;
        *slot = COUNTERS_BASE_VARS + k % extra;
    } else {
        *iface = (k - head) / COUNTERS_BASE_VARS;
        *slot = (k - head) % COUNTERS_BASE_VARS;
    }
}

/* The inverse: the varbind of slot index `slot` of the chunk's interface
 * `iface`. */
static size_t varbind_of(const struct device *dev, const struct chunk *ch, size_t iface,
                         size_t slot)
{
    const size_t extra = (size_t)dev->layout.vars - COUNTERS_BASE_VARS;

    if (slot < COUNTERS_BASE_VARS)
        return 1 + ch->count * extra + iface * COUNTERS_BASE_VARS + slot;
    return 1 + iface * extra + (slot - COUNTERS_BASE_VARS);
}

int counters_agent_lacks(struct device *dev, const struct chunk *ch, long errindex)
{
    struct counters_layout *l = &dev->layout;
    size_t iface, slot;
    unsigned bits;
    int what;

    if (errindex < 2 || (size_t)errindex > COUNTERS_VARBINDS(ch))
        return 0;
    position_of(dev, ch, (size_t)errindex - 1, &iface, &slot);
    what = l->slot[slot];
    if (what >= SLOT_IN_ERRORS)
        bits = ERRORS_BITS;
    else if (slot >= COUNTERS_BASE_VARS)
        bits = GROUP_BIT(COUNTERS_PACKETS);
    else
        return 0;
    if (!((l->dropping | l->missing) & bits))
        log_warn("device %s: the agent has no %s (noSuchName for \"%s\"): %s no longer asked, "
                 "their rates stay null",
                 dev->cfg->name, bits == ERRORS_BITS ? "ifInErrors" : "ifInUcastPkts",
                 dev->ifaces[ch->first + iface].name,
                 bits == ERRORS_BITS ? "errors and discards" : "packets");
    l->dropping |= bits;
    return 1;
}

void counters_replan(struct device *dev)
{
    struct counters_layout *l = &dev->layout;

    if (l->dropping == 0)
        return;
    l->missing |= l->dropping;
    l->dropping = 0;
    layout_slots(l);
}

/* ------------------------------------------------------------ varbinds */

size_t counters_var_name(const struct device *dev, const struct chunk *ch, size_t k, oid *name)
{
    const struct iface *ifc;
    const struct slot_name *sn;
    size_t len, i, slot;
    int width;

    if (k == 0) {
        memcpy(name, oid_sys_uptime, sizeof(oid_sys_uptime));
        return OID_LENGTH(oid_sys_uptime);
    }
    position_of(dev, ch, k, &i, &slot);
    ifc = &dev->ifaces[ch->first + i];
    sn = &slot_names[dev->layout.slot[slot]];
    width = !sn->packets ? ifc->rd.width : dev->layout.packets_nucast ? 32 : ifc->rd.packets_width;
    if (sn->col64 && width == 64) {
        memcpy(name, oid_if_name, sizeof(oid_if_name));
        len = IFX_TABLE_COL_LEN;
        name[len - 1] = sn->col64;
    } else if (sn->x32) {
        memcpy(name, oid_if_name, sizeof(oid_if_name));
        len = IFX_TABLE_COL_LEN;
        name[len - 1] = sn->col32;
    } else {
        memcpy(name, oid_if_descr, sizeof(oid_if_descr));
        len = IF_TABLE_COL_LEN;
        name[len - 1] = sn->col32;
    }
    name[len] = (oid)ifc->ifindex;
    return len + 1;
}

struct name_ctx {
    const struct device *dev;
    const struct chunk *ch;
};

static size_t name_of(const void *ctx, size_t k, oid *name)
{
    const struct name_ctx *c = ctx;

    return counters_var_name(c->dev, c->ch, k, name);
}

int counters_prepare_get(const struct device *dev, struct chunk *ch, const char *community)
{
    struct name_ctx ctx = {dev, ch};
    size_t i, wide = 0;

    /* A width only ever drops from 64 to 32 until the next discovery,
     * which plans new chunks: the count of wide groups tells a change,
     * and is the list's plan tag. */
    for (i = ch->first; i < ch->first + ch->count; i++)
        wide += (size_t)(dev->ifaces[i].rd.width == 64) +
                (size_t)(dev->ifaces[i].rd.packets_width == 64);
    return ber_get_prepare(&ch->get, wide, strlen(community), COUNTERS_VARBINDS(ch), name_of, &ctx);
}

void counters_add_vars(const struct device *dev, const struct chunk *ch, netsnmp_pdu *pdu)
{
    oid name[BER_NAME_MAX];
    size_t k, n = COUNTERS_VARBINDS(ch);

    for (k = 0; k < n; k++)
        snmp_add_null_var(pdu, name, counters_var_name(dev, ch, k, name));
}

/* ------------------------------------------------------------- answers */

/* A net-snmp varbind's value as a ber_var. */
static void var_from_netsnmp(const netsnmp_variable_list *v, struct ber_var *out)
{
    out->type = v->type;
    out->numeric = 0;
    out->value = 0;
    switch (v->type) {
    case ASN_COUNTER64:
        if (v->val.counter64 == NULL)
            break;
        out->value =
            ((uint64_t)(uint32_t)v->val.counter64->high << 32) | (uint32_t)v->val.counter64->low;
        out->numeric = 1;
        break;
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
    case ASN_UINTEGER:
        if (v->val.integer == NULL)
            break;
        out->value = (uint32_t)*v->val.integer;
        out->numeric = 1;
        break;
    case ASN_INTEGER:
        if (v->val.integer == NULL || *v->val.integer < 0)
            break;
        out->value = (uint64_t)*v->val.integer;
        out->numeric = 1;
        break;
    default:
        break;
    }
}

size_t counters_vars_from_list(const struct device *dev, const struct chunk *ch,
                               const netsnmp_variable_list *list, struct ber_var *vars, size_t max)
{
    size_t n = 0, asked = COUNTERS_VARBINDS(ch);
    oid name[MAX_OID_LEN];

    for (; list && n < max; list = list->next_variable, n++) {
        var_from_netsnmp(list, &vars[n]);
        vars[n].asked = 0;
        if (n < asked) {
            size_t len = counters_var_name(dev, ch, n, name);

            vars[n].asked = snmp_oid_compare(list->name, list->name_length, name, len) == 0;
        }
    }
    return n;
}

static int var_number(const struct ber_var *v, uint64_t *out)
{
    if (v == NULL || !v->asked || !v->numeric)
        return -1;
    *out = v->value;
    return 0;
}

/* One interface's varbinds, by slot: the number each holds (have[] says
 * which do), and its ifOperStatus varbind (NULL when the answer is
 * short). */
struct iface_vars {
    uint64_t value[SLOT_COUNT];
    unsigned char have[SLOT_COUNT];
    const struct ber_var *oper;
};

/* Group g's counters from the slots `slots` (inbound then outbound, n of
 * them) into the sample; 0, or -1 when one of them is missing. */
static int group_take(struct rate_counters *c, const struct iface_vars *iv,
                      const unsigned char *slots, size_t n, int width, enum rate_unit unit)
{
    size_t k, terms = n / 2;

    for (k = 0; k < n; k++)
        if (!iv->have[slots[k]])
            return -1;
    c->present = 1;
    c->width = width;
    c->terms = (int)terms;
    c->unit = unit;
    for (k = 0; k < terms; k++) {
        c->in[k] = iv->value[slots[k]];
        c->out[k] = iv->value[slots[terms + k]];
    }
    return 0;
}

/* A group of 64-bit counters the agent did not give for an interface it
 * has: RFC 2863 lets it leave them out (on slow interfaces); ask the
 * 32-bit ones from the next poll on. */
static void fall_back(struct device *dev, struct iface *ifc, int *width, const char *what)
{
    if (*width != 64)
        return;
    log_info("device %s: \"%s\" has no %s; using 32-bit counters", dev->cfg->name, ifc->name, what);
    *width = 32;
}

/* Read one interface's varbinds (v[k] NULL when the answer is short) into
 * ifc->rd.sample, group by group. Returns how many groups it holds (and
 * says when the ifIndex is gone). */
static int iface_read(struct device *dev, struct iface *ifc, const struct ber_var **v,
                      uint64_t now_ns, uint32_t uptime, int have_uptime)
{
    const struct counters_layout *l = &dev->layout;
    struct rate_sample *s = &ifc->rd.sample;
    struct iface_vars iv;
    int k, gone, groups = 0;

    memset(&iv, 0, sizeof(iv));
    for (k = 0; k < l->vars; k++) {
        if (l->slot[k] == SLOT_OPER)
            iv.oper = v[k];
        if (var_number(v[k], &iv.value[l->slot[k]]) == 0)
            iv.have[l->slot[k]] = 1;
    }
    gone = iv.oper == NULL || iv.oper->type == SNMP_NOSUCHINSTANCE ||
           iv.oper->type == SNMP_NOSUCHOBJECT;
    if (iv.have[SLOT_OPER])
        ifc->rd.oper = (int)iv.value[SLOT_OPER];
    /* A loopback's speed is made up (Linux says 10 Mb/s): unknown, so it
     * is neither shown nor used for the over-speed check. */
    if (iv.have[SLOT_SPEED] && !ifc->loopback) {
        uint64_t speed = iv.value[SLOT_SPEED];

        ifc->rd.speed_bps = ifc->rd.width == 64   ? speed * 1000000u
                            : speed == UINT32_MAX ? 0
                                                  : speed;
    }
    memset(s->group, 0, sizeof(s->group));
    if (group_take(&s->group[COUNTERS_OCTETS], &iv, octets_slots, sizeof(octets_slots),
                   ifc->rd.width, RATE_UNIT_OCTETS) == 0) {
        groups++;
    } else if (gone) {
        /* No octets and no ifOperStatus: the ifIndex is no more. */
        dev->need_discovery = 1;
        return 0;
    } else {
        fall_back(dev, ifc, &ifc->rd.width, "ifHCInOctets");
    }
    if (l->groups & ~l->missing & GROUP_BIT(COUNTERS_PACKETS)) {
        int ok = l->packets_nucast
                     ? group_take(&s->group[COUNTERS_PACKETS], &iv, nucast_slots,
                                  sizeof(nucast_slots), 32, RATE_UNIT_PACKETS)
                     : group_take(&s->group[COUNTERS_PACKETS], &iv, packets_slots,
                                  sizeof(packets_slots), ifc->rd.packets_width, RATE_UNIT_PACKETS);

        if (ok == 0)
            groups++;
        else if (!l->packets_nucast)
            fall_back(dev, ifc, &ifc->rd.packets_width, "ifHC*Pkts");
    }
    if (l->groups & ~l->missing & GROUP_BIT(COUNTERS_ERRORS)) {
        groups += group_take(&s->group[COUNTERS_ERRORS], &iv, errors_slots, sizeof(errors_slots),
                             32, RATE_UNIT_PACKETS) == 0;
        groups += group_take(&s->group[COUNTERS_DISCARDS], &iv, discards_slots,
                             sizeof(discards_slots), 32, RATE_UNIT_PACKETS) == 0;
    }
    s->mono_ns = now_ns;
    s->uptime = uptime;
    s->have_uptime = have_uptime;
    s->speed_bps = ifc->rd.speed_bps;
    return groups;
}

void counters_read(struct device *dev, const struct chunk *ch, const struct ber_var *vars, size_t n,
                   uint64_t now_ns, counters_sample_fn sample, void *ctx)
{
    const size_t per = (size_t)dev->layout.vars;
    uint64_t uptime = 0, hold;
    int have_uptime = 0, moved = 0, g;
    size_t i, k;

    IFMON_ASSERT(per > 0 && per <= COUNTERS_PER_IFACE_MAX);
    if (n > 0 && vars[0].type == ASN_TIMETICKS && var_number(&vars[0], &uptime) == 0)
        have_uptime = 1;
    for (i = ch->first; i < ch->first + ch->count; i++) {
        struct iface *ifc = &dev->ifaces[i];
        const struct ber_var *v[COUNTERS_PER_IFACE_MAX];

        for (k = 0; k < per; k++) {
            size_t at = varbind_of(dev, ch, i - ch->first, k);

            v[k] = at < n ? &vars[at] : NULL;
        }
        ifc->rd.sample_ok = iface_read(dev, ifc, v, now_ns, (uint32_t)uptime, have_uptime) > 0;
        if (ifc->rd.sample_ok && rate_moved(&ifc->rd.rate, &ifc->rd.sample))
            moved = 1;
    }
    hold = rate_hold_ns(dev->interval_ns);
    for (i = ch->first; i < ch->first + ch->count; i++) {
        struct iface *ifc = &dev->ifaces[i];
        struct rate_result res;

        if (!ifc->rd.sample_ok) {
            counters_gap_result(dev, RATE_GAP_NO_DATA, &res);
            rate_reset(&ifc->rd.rate);
            sample(ctx, dev, ifc, &res);
            continue;
        }
        rate_update(&ifc->rd.rate, &ifc->rd.sample, moved, hold, dev->interval_ns / 2, &res);
        for (g = 0; g < RATE_GROUPS; g++) {
            if (!(dev->layout.groups & GROUP_BIT(g)))
                res.group[g].gap = RATE_GAP_NOT_POLLED;
            else if (res.group[g].gap == RATE_GAP_AGENT_RESTART)
                dev->need_discovery = 1;
        }
        sample(ctx, dev, ifc, &res);
    }
}
