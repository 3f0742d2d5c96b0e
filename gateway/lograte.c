/* lograte.c -- see lograte.h. */

#include "lograte.h"

int lograte_allow(struct lograte *r, uint64_t now_ms, uint64_t *suppressed)
{
    uint64_t earned;

    if (!r->started) {
        r->started = 1;
        r->lines = LOGRATE_BURST;
        r->refilled_ms = now_ms;
    }
    earned = now_ms > r->refilled_ms ? (now_ms - r->refilled_ms) / LOGRATE_INTERVAL_MS : 0;
    if (earned > 0) {
        r->lines = earned >= LOGRATE_BURST - r->lines ? LOGRATE_BURST : r->lines + (uint32_t)earned;
        r->refilled_ms += earned * LOGRATE_INTERVAL_MS;
    }
    if (r->lines == 0) {
        r->suppressed++;
        return 0;
    }
    r->lines--;
    *suppressed = r->suppressed;
    r->suppressed = 0;
    return 1;
}
