/* response.c -- the varbinds of a poll GET: the list asked for a chunk of
 * interfaces and the reading of the answer into counters, speed and
 * ifOperStatus, then rates (rate.c). Nothing here sends, receives or
 * publishes: poller.c does, through the sample callback. */

#include "response.h"

#include <string.h>

#include "log.h"
#include "mib.h"

/* ------------------------------------------------------------ varbinds */

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

/* A net-snmp varbind's value as a response_var. */
static void var_from_netsnmp(const netsnmp_variable_list *v, struct response_var *out)
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

size_t response_vars_from_list(const struct device *dev, const struct chunk *ch,
                               const netsnmp_variable_list *list, struct response_var *vars,
                               size_t max)
{
    size_t n = 0, asked = RESPONSE_VARBINDS(ch);
    oid name[MAX_OID_LEN];

    for (; list && n < max; list = list->next_variable, n++) {
        var_from_netsnmp(list, &vars[n]);
        vars[n].asked = 0;
        if (n < asked) {
            size_t len = response_var_name(dev, ch, n, name);

            vars[n].asked = snmp_oid_compare(list->name, list->name_length, name, len) == 0;
        }
    }
    return n;
}

static int var_number(const struct response_var *v, uint64_t *out)
{
    if (v == NULL || !v->asked || !v->numeric)
        return -1;
    *out = v->value;
    return 0;
}

/* Read one interface's four varbinds (v[k] NULL when the answer is short)
 * into ifc->sample. Returns 0, or -1 when the counters are missing (and
 * says whether the ifIndex is gone). */
static int iface_read(struct device *dev, struct iface *ifc, const struct response_var **v,
                      uint64_t now_ns, uint32_t uptime, int have_uptime)
{
    uint64_t in, out, speed = 0, oper = 0;

    if (var_number(v[3], &oper) == 0)
        ifc->oper = (int)oper;
    /* A loopback's speed is made up (Linux says 10 Mb/s): unknown, so it
     * is neither shown nor used for the over-speed check. */
    if (var_number(v[2], &speed) == 0 && !ifc->loopback)
        ifc->speed_bps = ifc->width == 64 ? speed * 1000000u : speed == UINT32_MAX ? 0 : speed;
    if (var_number(v[0], &in) < 0 || var_number(v[1], &out) < 0) {
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

void response_read(struct device *dev, const struct chunk *ch, const struct response_var *vars,
                   size_t n, uint64_t now_ns, response_sample_fn sample, void *ctx)
{
    uint64_t uptime = 0, hold;
    int have_uptime = 0, moved = 0;
    size_t i, k;

    if (n > 0 && vars[0].type == ASN_TIMETICKS && var_number(&vars[0], &uptime) == 0)
        have_uptime = 1;
    for (i = ch->first; i < ch->first + ch->count; i++) {
        struct iface *ifc = &dev->ifaces[i];
        const struct response_var *v[RESPONSE_VARBINDS_PER_IFACE];
        size_t at = 1 + (i - ch->first) * RESPONSE_VARBINDS_PER_IFACE;

        for (k = 0; k < RESPONSE_VARBINDS_PER_IFACE; k++)
            v[k] = at + k < n ? &vars[at + k] : NULL;
        ifc->sample_ok = iface_read(dev, ifc, v, now_ns, (uint32_t)uptime, have_uptime) == 0;
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
