/* ratelimit.c -- see ratelimit.h. */

#include "ratelimit.h"

int ratelimit_take(struct ratelimit *rl, uint64_t now_ms, double rate, double burst)
{
    if (!rl->started) {
        rl->started = 1;
        rl->tokens = burst;
        rl->last_ms = now_ms;
    }
    if (now_ms > rl->last_ms) {
        rl->tokens += (double)(now_ms - rl->last_ms) * rate / 1000.0;
        if (rl->tokens > burst)
            rl->tokens = burst;
        rl->last_ms = now_ms;
    }
    if (rl->tokens < 1.0) {
        rl->over++;
        return -1;
    }
    rl->tokens -= 1.0;
    return 0;
}
