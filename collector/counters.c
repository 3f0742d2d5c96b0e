/* counters.c -- see counters.h. Nothing here sends, receives or
 * publishes: the poll's I/O paths do, and the sample callback hands each
 * result on. */

#include "counters.h"

#include <string.h>

#include "device.h"
#include "log.h"
#include "mib.h"

/* ------------------------------------------------------------ varbinds */

size_t counters_var_name(const struct device *dev, const struct chunk *ch, size_t k, oid *name)
{
    const struct iface *ifc;
    size_t len;

    if (k == 0) {
        memcpy(name, oid_sys_uptime, sizeof(oid_sys_uptime));
        return OID_LENGTH(oid_sys_uptime);
    }
    ifc = &dev->ifaces[ch->first + (k - 1) / COUNTERS_PER_IFACE];
    switch ((k - 1) % COUNTERS_PER_IFACE) {
    case 0:
    case 1:
    case 2:
        if (ifc->rd.width == 64) {
            static const oid col64[] = {COL_IF_HC_IN_OCTETS, COL_IF_HC_OUT_OCTETS,
                                        COL_IF_HIGH_SPEED};

            memcpy(name, oid_if_name, sizeof(oid_if_name));
            len = IFX_TABLE_COL_LEN;
            name[len - 1] = col64[(k - 1) % COUNTERS_PER_IFACE];
        } else {
            static const oid col32[] = {COL_IF_IN_OCTETS, COL_IF_OUT_OCTETS, COL_IF_SPEED};

            memcpy(name, oid_if_descr, sizeof(oid_if_descr));
            len = IF_TABLE_COL_LEN;
            name[len - 1] = col32[(k - 1) % COUNTERS_PER_IFACE];
        }
        break;
    default:
        memcpy(name, oid_if_descr, sizeof(oid_if_descr));
        len = IF_TABLE_COL_LEN;
        name[len - 1] = COL_IF_OPER_STATUS;
        break;
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
     * which plans new chunks: the count of wide interfaces tells a
     * change, and is the list's plan tag. */
    for (i = ch->first; i < ch->first + ch->count; i++)
        wide += dev->ifaces[i].rd.width == 64;
    return ber_get_prepare(&ch->get, wide, strlen(community), COUNTERS_VARBINDS(ch), name_of, &ctx);
}

void counters_add_vars(const struct device *dev, const struct chunk *ch, netsnmp_pdu *pdu)
{
    oid name[BER_NAME_MAX];
    size_t k, n = COUNTERS_VARBINDS(ch);

    for (k = 0; k < n; k++)
        snmp_add_null_var(pdu, name, counters_var_name(dev, ch, k, name));
}

/* ------------------------------------------------------------ answers */

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

/* Read one interface's four varbinds (v[k] NULL when the answer is short)
 * into ifc->rd.sample. Returns 0, or -1 when the counters are missing (and
 * says whether the ifIndex is gone). */
static int iface_read(struct device *dev, struct iface *ifc, const struct ber_var **v,
                      uint64_t now_ns, uint32_t uptime, int have_uptime)
{
    uint64_t in, out, speed = 0, oper = 0;

    if (var_number(v[3], &oper) == 0)
        ifc->rd.oper = (int)oper;
    /* A loopback's speed is made up (Linux says 10 Mb/s): unknown, so it
     * is neither shown nor used for the over-speed check. */
    if (var_number(v[2], &speed) == 0 && !ifc->loopback)
        ifc->rd.speed_bps = ifc->rd.width == 64   ? speed * 1000000u
                            : speed == UINT32_MAX ? 0
                                                  : speed;
    if (var_number(v[0], &in) < 0 || var_number(v[1], &out) < 0) {
        int gone =
            v[3] == NULL || v[3]->type == SNMP_NOSUCHINSTANCE || v[3]->type == SNMP_NOSUCHOBJECT;

        if (gone) {
            dev->need_discovery = 1;
        } else if (ifc->rd.width == 64) {
            /* The agent has the interface but no 64-bit counters for it
             * (RFC 2863 allows that for slow interfaces): use ifTable. */
            log_info("device %s: \"%s\" has no ifHCInOctets; using 32-bit counters", dev->cfg->name,
                     ifc->name);
            ifc->rd.width = 32;
        }
        return -1;
    }
    ifc->rd.sample.in_octets = in;
    ifc->rd.sample.out_octets = out;
    ifc->rd.sample.width = ifc->rd.width;
    ifc->rd.sample.mono_ns = now_ns;
    ifc->rd.sample.uptime = uptime;
    ifc->rd.sample.have_uptime = have_uptime;
    ifc->rd.sample.speed_bps = ifc->rd.speed_bps;
    return 0;
}

void counters_read(struct device *dev, const struct chunk *ch, const struct ber_var *vars, size_t n,
                   uint64_t now_ns, counters_sample_fn sample, void *ctx)
{
    uint64_t uptime = 0, hold;
    int have_uptime = 0, moved = 0;
    size_t i, k;

    if (n > 0 && vars[0].type == ASN_TIMETICKS && var_number(&vars[0], &uptime) == 0)
        have_uptime = 1;
    for (i = ch->first; i < ch->first + ch->count; i++) {
        struct iface *ifc = &dev->ifaces[i];
        const struct ber_var *v[COUNTERS_PER_IFACE];
        size_t at = 1 + (i - ch->first) * COUNTERS_PER_IFACE;

        for (k = 0; k < COUNTERS_PER_IFACE; k++)
            v[k] = at + k < n ? &vars[at + k] : NULL;
        ifc->rd.sample_ok = iface_read(dev, ifc, v, now_ns, (uint32_t)uptime, have_uptime) == 0;
        if (ifc->rd.sample_ok && rate_moved(&ifc->rd.rate, &ifc->rd.sample))
            moved = 1;
    }
    hold = rate_hold_ns(dev->interval_ns);
    for (i = ch->first; i < ch->first + ch->count; i++) {
        struct iface *ifc = &dev->ifaces[i];
        struct rate_result res;

        if (!ifc->rd.sample_ok) {
            struct rate_result gap = {.status = RATE_GAP, .gap = RATE_GAP_NO_DATA};

            rate_reset(&ifc->rd.rate);
            sample(ctx, dev, ifc, &gap);
            continue;
        }
        rate_update(&ifc->rd.rate, &ifc->rd.sample, moved, hold, dev->interval_ns / 2, &res);
        if (res.gap == RATE_GAP_AGENT_RESTART)
            dev->need_discovery = 1;
        sample(ctx, dev, ifc, &res);
    }
}
