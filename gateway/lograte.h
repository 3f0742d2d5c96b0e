/* lograte.h -- a log line that a client can cause, at a bounded rate: a
 * token bucket of LOGRATE_BURST lines refilled at one line per
 * LOGRATE_INTERVAL_MS, and a count of the lines held back, said on the
 * next line written. Without it, one client sending wrong tokens as fast
 * as it can wrote about a megabyte of log a second.
 *
 * The caller gives the time. */

#ifndef IFMON_GATEWAY_LOGRATE_H
#define IFMON_GATEWAY_LOGRATE_H

#include <stdint.h>

#define LOGRATE_BURST 5
#define LOGRATE_INTERVAL_MS 1000

/* Zero it to start (a full bucket on first use). */
struct lograte {
    uint64_t refilled_ms; /* when `lines` was last brought up to date */
    uint32_t lines;       /* lines that may be written now */
    uint32_t started;
    uint64_t suppressed; /* held back since the last line written */
};

/* 1 when a line may be written at now_ms; then *suppressed is the number
 * held back before it (the count restarts). 0 when it must be dropped
 * (counted). */
int lograte_allow(struct lograte *r, uint64_t now_ms, uint64_t *suppressed);

/* An info line (log.h) when r allows one at now_ms, saying how many were
 * held back before it: " (and N more like it not logged)". */
void lograte_log(struct lograte *r, uint64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
