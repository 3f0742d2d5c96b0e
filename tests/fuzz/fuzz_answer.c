/* fuzz_answer.c -- libFuzzer target: the collector's decoding of SNMPv1/v2c
 * poll answers straight from the datagram (collector/ber.c), then the
 * reading of what it decoded into rates (counters.c, rate.c), answer after
 * answer on the same interfaces as direct_poll.c and the poller do, so
 * that real rates, held rates and every kind of gap are computed. It must
 * never read outside a datagram, never fill more varbinds than there is
 * room for, call back once per interface per answer read and never give a
 * rate that is NaN, infinite or negative, or one over no time.
 *
 * Input: one byte choosing the chunk (bits 0-2: 1 to 8 interfaces; bit 3:
 * 32-bit counters; bits 4-5: the counter groups polled, 0 octets, 1 and
 * errors, 2 and packets, 3 all; bit 6: an agent without ifXTable), then
 * answers, each a 3-byte header (the time since the
 * previous answer in 10 ms steps, less one; the datagram's length, big
 * endian) and the datagram; the last one takes what is left when its
 * length says more. Every input feeds at least two answers: when it holds
 * only one, that one comes again a second later (a cached answer). An
 * answer that does not decode is dropped, as direct_poll.c drops it; one
 * with an error-status is a gap (poller.c) and is not read. Seeds
 * (corpus/answer/): two to four answers each, v1 and v2c, with counters
 * moving, a cached answer, a counter reset, an agent restart, a Counter32
 * wrap, a missing ifHCInOctets, answers short, longer than asked, tooBig
 * (octets alone), and answers with packets, errors and discards, some of
 * them noSuchObject. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/device.h"
#include "log.h"

#define MAX_IFACES 8
#define STEP_NS 10000000ULL /* the header's time unit */

static const int counter_sets[4] = {
    CONFIG_COUNTERS_OCTETS,
    CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_ERRORS,
    CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_PACKETS,
    CONFIG_COUNTERS_OCTETS | CONFIG_COUNTERS_PACKETS | CONFIG_COUNTERS_ERRORS,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct expect {
    const struct device *dev;
    size_t next;
};

static void on_sample(void *ctx, struct device *dev, struct iface *ifc,
                      const struct rate_result *res)
{
    struct expect *e = ctx;
    int g;

    if (e->next >= dev->nifaces || ifc != &dev->ifaces[e->next])
        abort(); /* not once per interface, in order */
    e->next++;
    for (g = 0; g < RATE_GROUPS; g++) {
        const struct rate_group_result *r = &res->group[g];

        if (r->status == RATE_GAP)
            continue;
        if (!isfinite(r->in) || !isfinite(r->out) || r->in < 0 || r->out < 0 ||
            !isfinite(res->interval) || !(res->interval > 0))
            abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ifmon_log_init("fuzz_answer", LOG_LEVEL_ERR);
    return 0;
}

/* One answer to ch's GET, arrived at now_ns, read as direct_poll.c and
 * poller_poll_answered() read it. */
static void take_answer(struct device *dev, struct chunk *ch, const uint8_t *data, size_t len,
                        uint64_t now_ns)
{
    struct ber_var vars[1 + MAX_IFACES * COUNTERS_PER_IFACE_MAX + 1];
    struct ber_answer a;
    struct expect e;
    unsigned char *pkt;
    size_t n, max = COUNTERS_VARBINDS(ch);

    /* The datagram in a buffer of its own size, so that ASan sees any
     * read past its end. */
    pkt = malloc(len ? len : 1);
    if (pkt == NULL)
        abort();
    memcpy(pkt, data, len);
    memset(vars, 0xa5, sizeof(vars));
    if (ber_parse_answer(pkt, len, &a) == 0 &&
        ber_parse_varbinds(&ch->get, &a, vars, max, &n) == 0) {
        if (n > max || vars[max].type != 0xa5)
            abort(); /* more varbinds than room */
        if (a.varbinds < pkt || a.varbinds + a.varbinds_len > pkt + len)
            abort();
        if (a.errstat == SNMP_ERR_NOERROR) {
            e.dev = dev;
            e.next = 0;
            counters_read(dev, ch, vars, n, now_ns, on_sample, &e);
            if (e.next != dev->nifaces)
                abort();
        }
    }
    free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_device cfg;
    struct device dev;
    struct iface ifaces[MAX_IFACES];
    struct chunk ch;
    const uint8_t *last = NULL;
    size_t i, last_len = 0, fed = 0;
    uint64_t now = 2000000000ULL;

    if (size < 1)
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = "fuzz";
    memset(&dev, 0, sizeof(dev));
    memset(&ch, 0, sizeof(ch));
    memset(ifaces, 0, sizeof(ifaces));
    cfg.version = CONFIG_SNMP_V2C;
    cfg.counters = counter_sets[(data[0] >> 4) & 3];
    dev.cfg = &cfg;
    dev.ifaces = ifaces;
    dev.nifaces = 1 + data[0] % MAX_IFACES;
    dev.interval_ns = 1000000000ULL;
    counters_layout(&dev, !(data[0] & 0x40));
    for (i = 0; i < dev.nifaces; i++) {
        ifaces[i].name = "eth";
        ifaces[i].ifindex = (long)(i + 1);
        ifaces[i].rd.width = (data[0] >> 3) & 1 ? 32 : 64;
        ifaces[i].rd.packets_width = ifaces[i].rd.width;
        rate_reset(&ifaces[i].rd.rate);
    }
    ch.dev = &dev;
    ch.count = dev.nifaces;
    data++;
    size--;
    while (size >= 3) {
        size_t len = (size_t)data[1] << 8 | data[2];

        now += (uint64_t)(data[0] + 1) * STEP_NS;
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        /* Asked anew each time, as direct_poll_start() does: the list
         * changes when an interface falls back to 32-bit counters. */
        if (counters_prepare_get(&dev, &ch, "public") < 0)
            abort();
        take_answer(&dev, &ch, data, len, now);
        last = data;
        last_len = len;
        fed++;
        data += len;
        size -= len;
    }
    if (fed == 0) { /* not even one header: the rest is the datagram */
        last = data;
        last_len = size;
        if (counters_prepare_get(&dev, &ch, "public") < 0)
            abort();
        take_answer(&dev, &ch, last, last_len, now);
        fed = 1;
    }
    if (fed == 1) {
        if (counters_prepare_get(&dev, &ch, "public") < 0)
            abort();
        take_answer(&dev, &ch, last, last_len, now + dev.interval_ns);
    }
    ber_get_free(&ch.get);
    return 0;
}
