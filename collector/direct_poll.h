/* direct_poll.h -- SNMPv1/v2c poll GETs sent and read without net-snmp's
 * PDU objects, which are nearly all the collector's traffic: each chunk's
 * GET is encoded once (ber.c), a device's GETs leave in one sendmmsg(2) on
 * the session's socket, answers are read with recvmmsg(2) and decoded in
 * place, and retransmissions and timeouts follow the device's timeout and
 * retries here. Request-ids come from net-snmp's counter, so they never
 * collide with its own requests (walks) on the same socket. */

#ifndef IFMON_COLLECTOR_DIRECT_POLL_H
#define IFMON_COLLECTOR_DIRECT_POLL_H

#include <stdint.h>
#include <sys/socket.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

struct device;

/* A device's part (device.h): where its GETs go. */
struct direct_peer {
    int on; /* polls go this way (v1/v2c over UDP) */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    size_t next_chunk; /* the next chunk whose GET this poll sends */
    long reqid_base;   /* chunk i's request-id is reqid_base + i (mod 2^31, 0 skipped) */
};

/* A chunk's part (device.h): its GET in flight. */
struct direct_inflight {
    long reqid;           /* request-id of the GET in flight */
    int tries;            /* sends of that GET, 0 when none is in flight */
    uint64_t deadline_ns; /* when the current try times out (uv_hrtime()) */
};

/* Decide, once the session is open on transport t, whether dev's polls go
 * this way, and take the agent's address from t. */
void direct_poll_init(struct device *dev, const netsnmp_transport *t);

/* At most this many GETs of one device are in flight: an agent (and the
 * collector's socket buffer) gets a window of requests, not a flood.
 * Nearly every device has fewer chunks (60 varbinds each, 15 interfaces:
 * 240 interfaces fit one window); a larger one is polled in waves, each
 * answer sending the next GET. */
#define DIRECT_POLL_WINDOW 16

/* Send the first GETs of a poll (DIRECT_POLL_WINDOW at most; the rest as
 * answers come); counted in dev->outstanding. */
void direct_poll_start(struct device *dev);

/* The session's socket is readable during a direct poll: read every
 * datagram waiting. */
void direct_poll_read(struct device *dev);

/* The session's timer fired during a direct poll: resend what timed out
 * while retries are left, give up on the rest. */
void direct_poll_expire(struct device *dev);

/* Free the receive buffer (at exit). */
void direct_poll_cleanup(void);

#endif
