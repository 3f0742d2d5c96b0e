/* fuzz_snmp.c -- libFuzzer target: the collector's reading of poll answers
 * (collector/counters.c) on made-up net-snmp varbind lists (as SNMPv3
 * answers reach it; tests/fuzz/fuzz_answer.c feeds raw datagrams), answer
 * after answer, so that rates get computed (rate.c), for every layout of
 * counter groups (octets alone, with packets, with errors and discards,
 * with no ifXTable, SNMPv1). Varbinds come in any number, with the right,
 * a wrong or a truncated name and any type (Counter32, Counter64, Integer,
 * Gauge32, TimeTicks, OctetString, NULL, noSuchObject, noSuchInstance,
 * endOfMibView...). It must never crash, call back exactly once per
 * interface in order, never give a rate for a group the device does not
 * poll, and never publish a rate that is NaN, infinite or negative, or
 * above its group's over-speed bound.
 *
 * Input: a 2-byte header (byte 0: interfaces and their counter width,
 * loopback, ifIndex; byte 1: poll interval, and bits 4-7: SNMPv1, no
 * ifXTable, then the counter groups: 0 octets, 1 and errors, 2 and
 * packets, 3 all), then answers: 4 bytes (arrival delta, chunk, varbind
 * count), then per varbind 1 byte of name choice, 1 of type, 8 of value
 * and 1 to spoil the name with. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/device.h"
#include "../../collector/mib.h"
#include "log.h"

#define MAX_IFACES 4
#define MAX_VARBINDS (1 + COUNTERS_PER_IFACE_MAX * MAX_IFACES + 3)
#define VARBIND_BYTES 11

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Types an agent may answer with (RFC 3416 and the exceptions). */
static const u_char var_types[] = {
    ASN_COUNTER,       ASN_COUNTER64, ASN_INTEGER,   ASN_GAUGE,         ASN_TIMETICKS,
    ASN_UINTEGER,      ASN_OCTET_STR, ASN_NULL,      SNMP_NOSUCHOBJECT, SNMP_NOSUCHINSTANCE,
    SNMP_ENDOFMIBVIEW, ASN_IPADDRESS, ASN_OBJECT_ID, ASN_OPAQUE,
};

static const int counter_sets[4] = {
    CONFIG_COUNTERS_OCTETS,
    CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_ERRORS,
    CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_PACKETS,
    CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_PACKETS | CONFIG_COUNTERS_ERRORS,
};

struct expect {
    const struct device *dev;
    size_t next; /* the interface the next callback must be about */
    size_t end;
};

static void on_sample(void *ctx, struct device *dev, struct iface *ifc,
                      const struct rate_result *res)
{
    struct expect *e = ctx;
    int g, any = 0;

    if (dev != e->dev || e->next >= e->end || ifc != &dev->ifaces[e->next])
        abort(); /* not once per interface, in order */
    e->next++;
    if (ifc->rd.width != 32 && ifc->rd.width != 64)
        abort();
    for (g = 0; g < RATE_GROUPS; g++) {
        const struct rate_group_result *r = &res->group[g];
        double limit = rate_limit(g == COUNTERS_OCTETS ? RATE_UNIT_OCTETS : RATE_UNIT_PACKETS,
                                  ifc->rd.sample.speed_bps);

        if (!(dev->layout.groups & (1u << g)) && r->gap != RATE_GAP_NOT_POLLED)
            abort(); /* a group the device does not poll */
        if (r->status == RATE_GAP)
            continue;
        any = 1;
        if (!isfinite(r->in) || !isfinite(r->out) || r->in < 0 || r->out < 0)
            abort();
        if (r->status == RATE_OK && (r->in > limit || r->out > limit))
            abort();
    }
    if (any && (!isfinite(res->interval) || !(res->interval > 0)))
        abort();
}

/* The name of varbind `pos` of chunk ch, as counters_add_vars asks it, or
 * a wrong one depending on `choice`. */
static size_t var_name(const struct device *dev, const struct chunk *ch, size_t pos, uint8_t choice,
                       uint8_t extra, oid *name)
{
    size_t len;
    int ifx;

    if (pos == 0 || choice % 8 == 3 || pos >= COUNTERS_VARBINDS(ch)) {
        memcpy(name, oid_sys_uptime, sizeof(oid_sys_uptime));
        return OID_LENGTH(oid_sys_uptime);
    }
    len = counters_var_name(dev, ch, pos, name);
    ifx = len == IFX_TABLE_COL_LEN + 1;
    switch (choice % 8) {
    case 1: /* wrong column */
        name[len - 2] = extra;
        break;
    case 2: /* wrong ifIndex */
        name[len - 1] = extra;
        break;
    case 4: /* truncated, possibly to nothing */
        return extra % len;
    case 5: /* one arc too many */
        name[len] = extra;
        return len + 1;
    case 6: { /* the other table, same column */
        oid col = name[len - 2], index = name[len - 1];

        memcpy(name, ifx ? oid_if_descr : oid_if_name,
               (ifx ? IF_TABLE_COL_LEN - 1 : IFX_TABLE_COL_LEN - 1) * sizeof(oid));
        len = ifx ? IF_TABLE_COL_LEN + 1 : IFX_TABLE_COL_LEN + 1;
        name[len - 2] = col;
        name[len - 1] = index;
        return len;
    }
    default:
        break;
    }
    return len;
}

/* The type the agent is expected to answer varbind `pos` with, from the
 * object asked: Counter64 (ifXTable's HC columns), Gauge32 (speeds),
 * INTEGER (ifOperStatus), TimeTicks, else Counter32. */
static u_char asked_type(const struct device *dev, const struct chunk *ch, size_t pos)
{
    oid name[BER_NAME_MAX];
    size_t len;
    oid col;

    if (pos == 0 || pos >= COUNTERS_VARBINDS(ch))
        return ASN_TIMETICKS;
    len = counters_var_name(dev, ch, pos, name);
    col = name[len - 2];
    if (len == IFX_TABLE_COL_LEN + 1)
        return col == COL_IF_HIGH_SPEED ? ASN_GAUGE : col >= 6 ? ASN_COUNTER64 : ASN_COUNTER;
    return col == COL_IF_SPEED ? ASN_GAUGE : col == COL_IF_OPER_STATUS ? ASN_INTEGER : ASN_COUNTER;
}

/* One varbind of type `type`, its value made from 8 input bytes. */
static netsnmp_variable_list *var_make(const oid *name, size_t name_len, u_char type,
                                       const uint8_t *value)
{
    netsnmp_variable_list *v = calloc(1, sizeof(*v));
    uint64_t u;
    long l;
    struct counter64 c64;

    if (v == NULL)
        abort();
    memcpy(&u, value, 8);
    if (snmp_set_var_objid(v, name, name_len) != 0)
        abort();
    switch (type) {
    case ASN_COUNTER64:
        c64.high = (u_long)(u >> 32);
        c64.low = (u_long)(uint32_t)u;
        snmp_set_var_typed_value(v, type, &c64, sizeof(c64));
        break;
    case ASN_INTEGER:
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
    case ASN_UINTEGER:
        l = (long)(int32_t)u; /* what net-snmp's parser stores, sign included */
        if (type != ASN_INTEGER)
            l = (long)(uint32_t)u;
        snmp_set_var_typed_value(v, type, &l, sizeof(l));
        break;
    case ASN_IPADDRESS:
        snmp_set_var_typed_value(v, type, value, 4);
        break;
    case ASN_OBJECT_ID: {
        oid o[2] = {value[0] % 3, value[1]};

        snmp_set_var_typed_value(v, type, o, sizeof(o));
        break;
    }
    case ASN_OCTET_STR:
    case ASN_OPAQUE:
        snmp_set_var_typed_value(v, type, value, value[0] % 9);
        break;
    default: /* NULL and the exceptions carry no value */
        snmp_set_var_typed_value(v, type, NULL, 0);
        break;
    }
    return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ifmon_log_init("fuzz_snmp", LOG_LEVEL_ERR); /* not "using 32-bit counters" each time */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_device cfg;
    struct device dev;
    struct iface ifaces[MAX_IFACES];
    uint64_t now_ns = 1000000000ULL;
    size_t i;

    if (size < 2)
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = "fuzz";
    cfg.version = data[1] & 0x10 ? CONFIG_SNMP_V1 : CONFIG_SNMP_V2C;
    cfg.counters = counter_sets[data[1] >> 6];
    memset(&dev, 0, sizeof(dev));
    dev.cfg = &cfg;
    dev.nifaces = 1 + data[0] % MAX_IFACES;
    dev.ifaces = ifaces;
    dev.interval_ns = (uint64_t)(1 + data[1] % 60) * 1000000000ULL;
    counters_layout(&dev, !(data[1] & 0x20));
    memset(ifaces, 0, sizeof(ifaces));
    for (i = 0; i < dev.nifaces; i++) {
        ifaces[i].name = "eth";
        ifaces[i].ifindex = (long)(i + 1 + (data[0] >> 4));
        ifaces[i].rd.width = (data[0] >> (2 + i)) & 1 ? 32 : 64;
        ifaces[i].rd.packets_width = (data[0] >> (3 + i)) & 1 ? 32 : 64;
        ifaces[i].loopback = i == 3 && (data[0] & 0x80);
        rate_reset(&ifaces[i].rd.rate);
    }
    data += 2;
    size -= 2;

    while (size >= 4) {
        netsnmp_variable_list *vars = NULL, **tail = &vars;
        struct ber_var rvars[MAX_VARBINDS];
        struct chunk ch;
        struct expect e;
        size_t nvars, pos;

        /* Arrival: 0 to ~65 s after the last answer, never backwards. */
        now_ns += (uint64_t)(data[0] | data[1] << 8) * 1000000ULL;
        ch.dev = &dev;
        ch.first = data[2] % dev.nifaces;
        ch.count = 1 + (data[2] >> 4) % (dev.nifaces - ch.first);
        nvars = data[3] % (MAX_VARBINDS + 1);
        data += 4;
        size -= 4;
        for (pos = 0; pos < nvars && size >= VARBIND_BYTES; pos++) {
            oid name[MAX_OID_LEN];
            size_t name_len = var_name(&dev, &ch, pos, data[0], data[10], name);
            u_char type = var_types[data[1] % sizeof(var_types)];

            /* Half the time the type that was asked, to get past the checks. */
            if (data[1] >= 0x80)
                type = asked_type(&dev, &ch, pos);
            *tail = var_make(name, name_len, type, data + 2);
            tail = &(*tail)->next_variable;
            data += VARBIND_BYTES;
            size -= VARBIND_BYTES;
        }
        e.dev = &dev;
        e.next = ch.first;
        e.end = ch.first + ch.count;
        nvars = counters_vars_from_list(&dev, &ch, vars, rvars, MAX_VARBINDS);
        counters_read(&dev, &ch, rvars, nvars, now_ns, on_sample, &e);
        if (e.next != e.end)
            abort(); /* an interface without its callback */
        snmp_free_varbind(vars);
    }
    return 0;
}
