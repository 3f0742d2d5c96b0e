/* fuzz_rate.c -- libFuzzer target: counter sequences going anywhere
 * (resets, wraps, jumps, clocks going back, speeds changing, random
 * widths, counter groups coming and going) must never give NaN, a
 * negative rate or one above the over-speed bound of its group (bits per
 * second for octets, packets per second for packets, errors, discards),
 * a rate for a group the reading did not hold, or a rate over no time.
 *
 * Each 64-byte record of the input is one reading:
 *   0  octets in (8), 8 octets out (8), 16 time since the last reading
 *      (8, modulo 30 s), 24 sysUpTime (4),
 *   28 flags and speed (4): bit 0 octets of 32 bits, bit 1 sysUpTime
 *      given, bit 2 the response moved, bit 3 a minimum span of 0.5 s;
 *      the speed is (value >> 2) x 1000 b/s,
 *   32 packets in (8), 40 packets out (8): the first counter of each
 *      direction, the others derived from it,
 *   48 errors in (4), 52 errors out (4), 56 discards in (4),
 *   60 groups (4): bits 0-2 packets, errors, discards present; bits 3-4
 *      packet counters per direction less one; bit 5 packets of 32 bits;
 *      bits 8-31 the step between the packet counters of a direction.
 * Seeds (corpus/rate/): octets alone (steady, wrap_reset: no group
 * present), and every group steady, wrapping, reset, missing in turns. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/rate.h"

#define RECORD 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t u32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static uint64_t u64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

/* Group g of s from the record's bytes. */
static void set_group(struct rate_counters *c, int width, int terms, enum rate_unit unit,
                      uint64_t in, uint64_t out, uint64_t step)
{
    int k;

    c->present = 1;
    c->width = width;
    c->terms = terms;
    c->unit = unit;
    for (k = 0; k < terms; k++) {
        c->in[k] = in + step * (uint64_t)k;
        c->out[k] = out ^ (step << k);
        if (width == 32) {
            c->in[k] = (uint32_t)c->in[k];
            c->out[k] = (uint32_t)c->out[k];
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rate_state st;
    uint64_t t = 1000000000ULL;

    rate_reset(&st);
    for (; size >= RECORD; data += RECORD, size -= RECORD) {
        struct rate_sample s;
        struct rate_result r;
        uint32_t flags = u32(data + 28), groups = u32(data + 60);
        int g, any = 0;

        t += u64(data + 16) % 30000000000ULL; /* up to 30 s, possibly 0 */
        memset(&s, 0, sizeof(s));
        set_group(&s.group[0], (flags & 1) ? 32 : 64, 1, RATE_UNIT_OCTETS, u64(data), u64(data + 8),
                  0);
        if (groups & 1)
            set_group(&s.group[1], (groups & 32) ? 32 : 64, 1 + (int)((groups >> 3) & 3) % 3,
                      RATE_UNIT_PACKETS, u64(data + 32), u64(data + 40), groups >> 8);
        if (groups & 2)
            set_group(&s.group[2], 32, 1, RATE_UNIT_PACKETS, u32(data + 48), u32(data + 52), 0);
        if (groups & 4)
            set_group(&s.group[3], 32, 1, RATE_UNIT_PACKETS, u32(data + 56),
                      (uint32_t)(u32(data + 56) * 3u + u32(data + 52)), 0);
        s.mono_ns = t;
        s.uptime = u32(data + 24);
        s.have_uptime = (flags & 2) != 0;
        s.speed_bps = (uint64_t)(flags >> 2) * 1000;
        rate_update(&st, &s, (flags & 4) != 0, rate_hold_ns(1000000000ULL),
                    (flags & 8) ? 500000000ULL : 0, &r);
        for (g = 0; g < RATE_GROUPS; g++) {
            const struct rate_group_result *x = &r.group[g];

            if (x->status == RATE_GAP) {
                if (x->gap == RATE_GAP_NONE || (!s.group[g].present && x->gap != RATE_GAP_NO_DATA))
                    abort();
                continue;
            }
            any = 1;
            if (!s.group[g].present)
                abort(); /* a rate for counters the reading did not hold */
            if (isnan(x->in) || isnan(x->out) || x->in < 0 || x->out < 0 || !(r.interval > 0))
                abort();
            if (x->status == RATE_OK && (x->in > rate_limit(s.group[g].unit, s.speed_bps) ||
                                         x->out > rate_limit(s.group[g].unit, s.speed_bps)))
                abort();
        }
        if (!any && r.interval != 0)
            abort();
    }
    return 0;
}
