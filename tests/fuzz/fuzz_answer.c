/* fuzz_answer.c -- libFuzzer target: the collector's decoding of SNMPv1/v2c
 * poll answers straight from the datagram (collector/ber.c), then the
 * reading of what it decoded into rates (counters.c), as direct_poll.c does for
 * every answer. It must never read outside the datagram, never fill more
 * varbinds than there is room for, call back once per interface and never
 * give a rate that is NaN, infinite or negative.
 *
 * Input: one byte choosing the chunk (interfaces, their counter width),
 * then the datagram. Seeds: answers built by net-snmp (v1 and v2c, whole,
 * short, longer than asked, tooBig). */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/device.h"
#include "log.h"

#define MAX_IFACES 8

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

    if (ifc != &dev->ifaces[e->next])
        abort(); /* not once per interface, in order */
    e->next++;
    if (res->status != RATE_GAP &&
        (!isfinite(res->in_bps) || !isfinite(res->out_bps) || res->in_bps < 0 || res->out_bps < 0))
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ifmon_log_init("fuzz_answer", LOG_LEVEL_ERR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_device cfg;
    struct device dev;
    struct iface ifaces[MAX_IFACES];
    struct chunk ch;
    struct ber_answer a;
    struct ber_var vars[1 + MAX_IFACES * COUNTERS_PER_IFACE + 1];
    struct expect e;
    unsigned char *pkt;
    size_t i, n, max;

    if (size < 1)
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = "fuzz";
    memset(&dev, 0, sizeof(dev));
    memset(&ch, 0, sizeof(ch));
    memset(ifaces, 0, sizeof(ifaces));
    dev.cfg = &cfg;
    dev.ifaces = ifaces;
    dev.nifaces = 1 + data[0] % MAX_IFACES;
    dev.interval_ns = 1000000000ULL;
    for (i = 0; i < dev.nifaces; i++) {
        ifaces[i].name = "eth";
        ifaces[i].ifindex = (long)(i + 1);
        ifaces[i].rd.width = (data[0] >> 3) & 1 ? 32 : 64;
        rate_reset(&ifaces[i].rd.rate);
    }
    ch.dev = &dev;
    ch.count = dev.nifaces;
    if (counters_prepare_get(&dev, &ch, "public") < 0)
        abort();
    /* The datagram in a buffer of its own size, so that ASan sees any
     * read past its end. */
    pkt = malloc(size - 1 ? size - 1 : 1);
    if (pkt == NULL)
        abort();
    memcpy(pkt, data + 1, size - 1);
    max = COUNTERS_VARBINDS(&ch);
    memset(vars, 0xa5, sizeof(vars));
    if (ber_parse_answer(pkt, size - 1, &a) == 0 &&
        ber_parse_varbinds(&ch.get, &a, vars, max, &n) == 0) {
        if (n > max || vars[max].type != 0xa5)
            abort(); /* more varbinds than room */
        if (a.varbinds < pkt || a.varbinds + a.varbinds_len > pkt + size - 1)
            abort();
        e.dev = &dev;
        e.next = 0;
        counters_read(&dev, &ch, vars, n, 2000000000ULL, on_sample, &e);
        if (e.next != dev.nifaces)
            abort();
    }
    free(pkt);
    ber_get_free(&ch.get);
    return 0;
}
