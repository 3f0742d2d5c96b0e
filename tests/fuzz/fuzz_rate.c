/* fuzz_rate.c -- libFuzzer target: counter sequences going anywhere
 * (resets, wraps, jumps, clocks going back, speeds changing, random
 * widths) must never give NaN, a negative rate or one above the over-speed
 * bound. Each 32-byte record of the input is one reading. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/rate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rate_state st;
    uint64_t t = 1000000000ULL;

    rate_reset(&st);
    for (; size >= 32; data += 32, size -= 32) {
        struct rate_sample s;
        struct rate_result r;
        uint64_t in, out, dt;
        uint32_t up, speed;

        memcpy(&in, data, 8);
        memcpy(&out, data + 8, 8);
        memcpy(&dt, data + 16, 8);
        memcpy(&up, data + 24, 4);
        memcpy(&speed, data + 28, 4);
        t += dt % 30000000000ULL; /* up to 30 s, possibly 0 */
        memset(&s, 0, sizeof(s));
        s.width = (speed & 1) ? 32 : 64;
        s.in_octets = s.width == 32 ? (uint32_t)in : in;
        s.out_octets = s.width == 32 ? (uint32_t)out : out;
        s.mono_ns = t;
        s.uptime = up;
        s.have_uptime = (speed & 2) != 0;
        s.speed_bps = (uint64_t)(speed >> 2) * 1000;
        rate_update(&st, &s, (speed & 4) != 0, rate_hold_ns(1000000000ULL),
                    (speed & 8) ? 500000000ULL : 0, &r);
        if (r.status == RATE_GAP)
            continue;
        if (isnan(r.in_bps) || isnan(r.out_bps) || r.in_bps < 0 || r.out_bps < 0 ||
            !(r.interval > 0))
            abort();
        if (s.speed_bps && (r.in_bps > s.speed_bps * RATE_OVER_SPEED_FACTOR ||
                            r.out_bps > s.speed_bps * RATE_OVER_SPEED_FACTOR))
            abort();
    }
    return 0;
}
