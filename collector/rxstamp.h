/* rxstamp.h -- when an answer reached this host, from the kernel's
 * receive timestamp (SO_TIMESTAMPNS), not from when the loop got round to
 * reading it. A rate divides the counters' difference by the time between
 * two readings; on a busy loop the read can come tens of milliseconds
 * after the arrival, and each such delay moves two rates by as much in
 * opposite directions (12 ms is 1.2% at 1 s). The kernel stamps a
 * datagram as it queues it. */

#ifndef IFMON_COLLECTOR_RXSTAMP_H
#define IFMON_COLLECTOR_RXSTAMP_H

#include <stdint.h>
#include <sys/socket.h>

/* A stamp older than this is not believed (the wall clock was stepped
 * between the stamp and the read): the read's own time is taken. */
#define RXSTAMP_MAX_AGE_NS 2000000000ull

/* Room for the stamp in a message's control buffer. */
#define RXSTAMP_CONTROL_LEN 64

/* Both clocks, read together right after a receive call. */
struct rxstamp_clock {
    uint64_t mono_ns; /* uv_hrtime() */
    int64_t real_ns;  /* CLOCK_REALTIME */
};

/* Ask the kernel to stamp every datagram sock receives. 0, or -1 with
 * errno (the reads then keep the loop's time). */
int rxstamp_enable(int sock);

void rxstamp_clock_now(struct rxstamp_clock *now);

/* The arrival of the datagram received with header m, on the monotonic
 * clock: now's reading less the age the kernel's stamp gives it. Now's
 * reading when m carries no stamp, or one from the future or older than
 * RXSTAMP_MAX_AGE_NS. *wall (may be NULL) gets the same in Unix seconds. */
uint64_t rxstamp_arrival(const struct msghdr *m, const struct rxstamp_clock *now, double *wall);

#endif
