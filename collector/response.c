/* response.c -- the varbinds of a poll GET: the list asked for a chunk of
 * interfaces and the reading of the answer into counters, speed and
 * ifOperStatus, then rates (rate.c). Nothing here sends, receives or
 * publishes: poller.c does, through the sample callback. */

#include "response.h"

#include <string.h>

#include "log.h"
#include "mib.h"

/* ------------------------------------------------------------ varbinds */

static int var_uint(const netsnmp_variable_list *v, uint64_t *out)
{
    switch (v->type) {
    case ASN_COUNTER64:
        *out = ((uint64_t)v->val.counter64->high << 32) | (uint32_t)v->val.counter64->low;
        return 0;
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
    case ASN_UINTEGER:
        *out = (uint32_t)*v->val.integer;
        return 0;
    case ASN_INTEGER:
        if (*v->val.integer < 0)
            return -1;
        *out = (uint64_t)*v->val.integer;
        return 0;
    default:
        return -1;
    }
}

/* Does varbind v carry column `col` of table prefix (len) for ifindex? */
static int var_is(const netsnmp_variable_list *v, const oid *table, size_t len, oid col,
                  long ifindex)
{
    return v->name_length == len + 1 && v->name[len - 1] == col && v->name[len] == (oid)ifindex &&
           memcmp(v->name, table, (len - 1) * sizeof(oid)) == 0;
}

size_t response_var_name(const struct device *dev, const struct chunk *ch, size_t k, oid *name)
{
    const struct iface *ifc;
    size_t len;

    if (k == 0) {
        memcpy(name, oid_sys_uptime, sizeof(oid_sys_uptime));
        return OID_LENGTH(oid_sys_uptime);
    }
    ifc = &dev->ifaces[ch->first + (k - 1) / RESPONSE_VARBINDS_PER_IFACE];
    switch ((k - 1) % RESPONSE_VARBINDS_PER_IFACE) {
    case 0:
    case 1:
    case 2:
        if (ifc->width == 64) {
            static const oid col64[] = {COL_IF_HC_IN_OCTETS, COL_IF_HC_OUT_OCTETS,
                                        COL_IF_HIGH_SPEED};

            memcpy(name, oid_if_name, sizeof(oid_if_name));
            len = IFX_TABLE_COL_LEN;
            name[len - 1] = col64[(k - 1) % RESPONSE_VARBINDS_PER_IFACE];
        } else {
            static const oid col32[] = {COL_IF_IN_OCTETS, COL_IF_OUT_OCTETS, COL_IF_SPEED};

            memcpy(name, oid_if_descr, sizeof(oid_if_descr));
            len = IF_TABLE_COL_LEN;
            name[len - 1] = col32[(k - 1) % RESPONSE_VARBINDS_PER_IFACE];
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

void response_add_vars(const struct device *dev, const struct chunk *ch, netsnmp_pdu *pdu)
{
    oid name[IFX_TABLE_COL_LEN + 1];
    size_t k, n = RESPONSE_VARBINDS(ch);

    for (k = 0; k < n; k++)
        snmp_add_null_var(pdu, name, response_var_name(dev, ch, k, name));
}

/* ------------------------------------------------------------ answers */

/* Read one interface's four varbinds into ifc->sample. Returns 0, or -1
 * when the counters are missing (and says whether the ifIndex is gone). */
static int iface_read(struct device *dev, struct iface *ifc, const netsnmp_variable_list **vp,
                      uint64_t now_ns, uint32_t uptime, int have_uptime)
{
    const netsnmp_variable_list *v[RESPONSE_VARBINDS_PER_IFACE];
    const oid *table = ifc->width == 64 ? oid_if_name : oid_if_descr;
    size_t tlen = ifc->width == 64 ? IFX_TABLE_COL_LEN : IF_TABLE_COL_LEN;
    uint64_t in, out, speed = 0, oper = 0;
    int k;

    for (k = 0; k < RESPONSE_VARBINDS_PER_IFACE; k++) {
        v[k] = *vp;
        if (*vp)
            *vp = (*vp)->next_variable;
    }
    if (v[3] && var_is(v[3], oid_if_descr, IF_TABLE_COL_LEN, COL_IF_OPER_STATUS, ifc->ifindex) &&
        var_uint(v[3], &oper) == 0)
        ifc->oper = (int)oper;
    /* A loopback's speed is made up (Linux says 10 Mb/s): unknown, so it
     * is neither shown nor used for the over-speed check. */
    if (v[2] && var_uint(v[2], &speed) == 0 && !ifc->loopback)
        ifc->speed_bps = ifc->width == 64 ? speed * 1000000u : speed == UINT32_MAX ? 0 : speed;
    if (!v[0] || !v[1] ||
        !var_is(v[0], table, tlen, ifc->width == 64 ? COL_IF_HC_IN_OCTETS : COL_IF_IN_OCTETS,
                ifc->ifindex) ||
        !var_is(v[1], table, tlen, ifc->width == 64 ? COL_IF_HC_OUT_OCTETS : COL_IF_OUT_OCTETS,
                ifc->ifindex) ||
        var_uint(v[0], &in) < 0 || var_uint(v[1], &out) < 0) {
        int gone =
            v[3] == NULL || v[3]->type == SNMP_NOSUCHINSTANCE || v[3]->type == SNMP_NOSUCHOBJECT;

        if (gone) {
            dev->need_discovery = 1;
        } else if (ifc->width == 64) {
            /* The agent has the interface but no 64-bit counters for it
             * (RFC 2863 allows that for slow interfaces): use ifTable. */
            log_info("device %s: \"%s\" has no ifHCInOctets; using 32-bit counters", dev->cfg->name,
                     ifc->name);
            ifc->width = 32;
        }
        return -1;
    }
    ifc->sample.in_octets = in;
    ifc->sample.out_octets = out;
    ifc->sample.width = ifc->width;
    ifc->sample.mono_ns = now_ns;
    ifc->sample.uptime = uptime;
    ifc->sample.have_uptime = have_uptime;
    ifc->sample.speed_bps = ifc->speed_bps;
    return 0;
}

void response_read(struct device *dev, const struct chunk *ch, const netsnmp_variable_list *vars,
                   uint64_t now_ns, response_sample_fn sample, void *ctx)
{
    const netsnmp_variable_list *v = vars;
    uint64_t uptime = 0, hold;
    int have_uptime = 0, moved = 0;
    size_t i;

    if (v &&
        snmp_oid_compare(v->name, v->name_length, oid_sys_uptime, OID_LENGTH(oid_sys_uptime)) ==
            0 &&
        v->type == ASN_TIMETICKS && var_uint(v, &uptime) == 0)
        have_uptime = 1;
    if (v)
        v = v->next_variable;
    for (i = ch->first; i < ch->first + ch->count; i++) {
        struct iface *ifc = &dev->ifaces[i];

        ifc->sample_ok = iface_read(dev, ifc, &v, now_ns, (uint32_t)uptime, have_uptime) == 0;
        if (ifc->sample_ok && rate_moved(&ifc->rate, &ifc->sample))
            moved = 1;
    }
    hold = rate_hold_ns(dev->interval_ns);
    for (i = ch->first; i < ch->first + ch->count; i++) {
        struct iface *ifc = &dev->ifaces[i];
        struct rate_result res;

        if (!ifc->sample_ok) {
            struct rate_result gap = {.status = RATE_GAP, .gap = RATE_GAP_NO_DATA};

            rate_reset(&ifc->rate);
            sample(ctx, dev, ifc, &gap);
            continue;
        }
        rate_update(&ifc->rate, &ifc->sample, moved, hold, dev->interval_ns / 2, &res);
        if (res.gap == RATE_GAP_AGENT_RESTART)
            dev->need_discovery = 1;
        sample(ctx, dev, ifc, &res);
    }
}
