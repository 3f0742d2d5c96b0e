/* session.h -- a device's net-snmp session on the collector's loop: the
 * library set-up, opening the session (SNMPv3 keys included), the uv_poll
 * on its socket and the timer that drives retransmissions and timeouts,
 * sending a PDU and accounting its callback, the SNMPv3 engine probe and
 * the SNMPv3 poll GETs.
 *
 * net-snmp does the probe, the walks (discovery.c) and everything SNMPv3;
 * v1/v2c poll GETs go out on the same socket without its PDUs
 * (direct_poll.c), so the socket's readability and the timer are handed
 * to direct_poll.c while such a poll is in flight. Nothing here blocks
 * the loop once the session is open (opening it still resolves a host
 * name and derives SNMPv3 keys synchronously: docs/RELIABILITY.md). */

#ifndef IFMON_COLLECTOR_SESSION_H
#define IFMON_COLLECTOR_SESSION_H

#include <stdint.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <uv.h>

struct device;
struct chunk;

/* A device's part (device.h). */
struct session {
    void *sessp;      /* net-snmp single session, NULL when not open */
    int sock;         /* its socket, -1 when not open */
    uv_poll_t io;     /* readability of sock */
    uv_timer_t timer; /* retransmissions and timeouts of what is in flight */
    uint64_t events;  /* net-snmp callbacks seen, to tell a retransmission */
};

/* What a net-snmp callback brought (session_answer()). */
enum session_answer {
    SESSION_RESENT = -1, /* a retransmission went out: still in flight */
    SESSION_FAILED = 0,  /* timeout, error or report: counted, dev->error set */
    SESSION_USABLE = 1,  /* a response PDU: counted as answered */
};

/* Initialise net-snmp for the process (no MIB loading, no config files,
 * no persistent state written) and raise the descriptor limit. Call once
 * before any session_open(). */
void session_library_init(void);
void session_library_shutdown(void);

/* Set up dev->sess (its timer) on loop; counts the handle in
 * dev->open_handles. */
void session_init(struct device *dev, uv_loop_t *loop);

/* Open the device's session and watch its socket. Returns 0, or -1 with
 * dev->error set (the caller retries later). */
int session_open(struct device *dev);
int session_is_open(const struct device *dev);

/* Close the session (requests in flight are dropped without callbacks)
 * and its handles, each calling on_closed. */
void session_close(struct device *dev, uv_close_cb on_closed);

/* Run the timer delay_ms from now, or stop it when nothing is in flight
 * (dev->outstanding is 0). The loop's time is refreshed first, so the
 * timer cannot fire before a deadline computed from the real clock. */
void session_arm_timer(struct device *dev, uint64_t delay_ms);

/* Send a PDU on the session; it belongs to net-snmp from here on, also on
 * failure (then freed here, dev->error set). Counts it in
 * dev->outstanding. Returns 0 or -1. */
int session_send(struct device *dev, netsnmp_pdu *pdu, snmp_callback cb, void *magic);

/* The accounting every net-snmp callback starts with: counts the answer
 * or the failure in the device's phase and says which it was. */
enum session_answer session_answer(struct device *dev, int op, netsnmp_pdu *pdu);

/* SNMPv3 engine discovery (RFC 3414 4) without blocking; ends the phase
 * when answered. */
void session_probe_start(struct device *dev);

/* SNMPv3: send every chunk's poll GET through net-snmp. */
void session_poll_start(struct device *dev);

#endif
