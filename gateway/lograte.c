/* lograte.c -- see lograte.h. */

#include "lograte.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

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

void lograte_log(struct lograte *r, uint64_t now_ms, const char *fmt, ...)
{
    char line[512];
    uint64_t suppressed;
    va_list ap;

    if (!lograte_allow(r, now_ms, &suppressed))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (suppressed)
        log_info("%s (and %" PRIu64 " more like it not logged)", line, suppressed);
    else
        log_info("%s", line);
}
