/* rxstamp.c -- see rxstamp.h. */

#include "rxstamp.h"

#include <string.h>
#include <time.h>

#include <uv.h>

int rxstamp_enable(int sock)
{
    int on = 1;

    return setsockopt(sock, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
}

void rxstamp_clock_now(struct rxstamp_clock *now)
{
    struct timespec ts;

    now->mono_ns = uv_hrtime();
    clock_gettime(CLOCK_REALTIME, &ts);
    now->real_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The kernel's stamp in m, in ns since the epoch; 0 when there is none. */
static int64_t stamp_of(const struct msghdr *m)
{
    struct cmsghdr *c;

    if (m->msg_control == NULL || (m->msg_flags & MSG_CTRUNC))
        return 0;
    for (c = CMSG_FIRSTHDR((struct msghdr *)m); c != NULL; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec ts;

            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        }
    }
    return 0;
}

static double unix_seconds(int64_t ns)
{
    return (double)(ns / 1000000000) + (double)(ns % 1000000000) / 1e9;
}

uint64_t rxstamp_arrival(const struct msghdr *m, const struct rxstamp_clock *now, double *wall)
{
    int64_t stamp = stamp_of(m), age = now->real_ns - stamp;

    if (stamp <= 0 || age < 0 || (uint64_t)age > RXSTAMP_MAX_AGE_NS || (uint64_t)age > now->mono_ns) {
        if (wall)
            *wall = unix_seconds(now->real_ns);
        return now->mono_ns;
    }
    if (wall)
        *wall = unix_seconds(stamp);
    return now->mono_ns - (uint64_t)age;
}
