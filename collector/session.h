/* session.h -- a device's net-snmp session on the collector's loop: the
 * library set-up, opening the session, the uv_poll on its socket and the
 * timer that drives retransmissions and timeouts, sending a PDU and
 * accounting its callback, the SNMPv3 engine probe and the SNMPv3 poll
 * GETs.
 *
 * Opening never blocks the loop: a host name is looked up on libuv's
 * thread pool (resolve.c) and net-snmp is handed the numeric address;
 * SNMPv3 keys are derived there too, once per password (usm_keys.c). The
 * name is looked up again on each rediscovery and on SIGHUP, and the
 * session reopened on the new address when it changed. Only datagrams
 * from the address a request went to are read as answers, on both
 * receive paths (net-snmp's, here, and direct_poll.c's).
 *
 * net-snmp does the probe, the walks (discovery.c) and everything SNMPv3;
 * v1/v2c poll GETs go out on the same socket without its PDUs
 * (direct_poll.c), so the socket's readability and the timer are handed
 * to direct_poll.c while such a poll is in flight. */

#ifndef IFMON_COLLECTOR_SESSION_H
#define IFMON_COLLECTOR_SESSION_H

#include <stdint.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <uv.h>

#include "resolve.h"
#include "usm_keys.h"

struct device;
struct chunk;

/* A device's part (device.h). */
struct session {
    void *sessp;        /* net-snmp single session, NULL when not open */
    int sock;           /* its socket, -1 when not open */
    uv_poll_t *io;      /* readability of sock; closed and freed apart from the device */
    uv_timer_t timer;   /* retransmissions and timeouts of what is in flight */
    uint64_t events;    /* net-snmp callbacks seen, to tell a retransmission */
    int in_send;        /* inside snmp_sess_async_send() (session_send()) */
    int report_pending; /* a REPORT was accounted; net-snmp's SEC_ERROR for it follows */
    long report_reqid;  /* its request-id */

    /* Where the agent is: the address the session is (to be) opened on,
     * port included; addr_len 0 while unknown. */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int numeric;               /* the configured host is an address: never looked up */
    int moved;                 /* addr changed under an open session: reopen when idle */
    int in_open;               /* inside session_open() (a refused lookup answers there) */
    int lookup_failed;         /* the last lookup of an unopened session failed */
    uint64_t resolved_ns;      /* end of the last lookup (uv_hrtime()), 0 before */
    struct resolve_waiter dns; /* a lookup of the host name in flight */
    struct usm_key *auth_key;  /* SNMPv3 Ku of the auth password (usm_keys.c), or NULL */
    struct usm_key *priv_key;  /* and of the privacy password */
    struct usm_key_waiter auth_wait, priv_wait;
};

/* What session_open() did. */
enum session_open_result {
    SESSION_OPEN_FAILED = -1, /* dev->error says why; retry after a backoff */
    SESSION_OPEN_DONE = 0,    /* the session is open */
    SESSION_OPEN_PENDING = 1, /* waiting for the name or the keys: poller_session_failed()
                                 if that fails; when it is there, the next session_open()
                                 (the device's next tick) opens the session */
};

/* What a net-snmp callback brought (session_answer()). */
enum session_answer {
    SESSION_RESENT = -1, /* nothing to account: a retransmission went out (still in
                            flight), or a second word on a request already accounted */
    SESSION_FAILED = 0,  /* timeout, error or report: counted, dev->error set */
    SESSION_USABLE = 1,  /* a response PDU: counted as answered */
};

/* Initialise net-snmp for the process (no MIB loading, no config files,
 * no persistent state written) and raise the descriptor limit. Call once
 * before any session_open(). */
void session_library_init(void);
void session_library_shutdown(void);

/* Set up dev->sess (its timer) on loop; counts the handle in
 * dev->open_handles. A numeric host is taken as the address here. */
void session_init(struct device *dev, uv_loop_t *loop);

/* Open the device's session and watch its socket, or start what opening
 * it waits for: the lookup of its host name, the derivation of its
 * SNMPv3 keys. See enum session_open_result. */
enum session_open_result session_open(struct device *dev);
int session_is_open(const struct device *dev);

/* 1 while an open waits for a lookup or a key derivation. */
int session_opening(const struct device *dev);

/* Look the host name up again (rediscovery, SIGHUP), unless it is an
 * address or a lookup is in flight. When the answer no longer contains
 * the address the session is open on, the session moves to the first
 * address of the answer (session_follow()); a failed lookup keeps the
 * open session where it is. */
void session_refresh_address(struct device *dev);

/* Reopen the session on its new address if a lookup moved it and no
 * request is in flight (dev->outstanding is 0). The device's interfaces
 * and rate state stay (sysUpTime tells a different agent); it is
 * discovered (and SNMPv3 probed) again. Returns what session_open()
 * returned, or SESSION_OPEN_DONE when nothing moved. */
enum session_open_result session_follow(struct device *dev);

/* Close the session (requests in flight are dropped without callbacks)
 * and stop waiting for a lookup or keys; the timer is closed calling
 * on_closed (the socket's watcher is freed apart, not counted). */
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

/* 1 when pdu is an SNMPv3 REPORT handed to a callback with op. */
int session_is_report(int op, const netsnmp_pdu *pdu);

/* Whether a net-snmp callback ends a request of ours and is to be
 * accounted (once: net-snmp hands a REPORT over twice, and calls back for
 * retransmissions); session_answer() starts with it, and a callback that
 * does its own accounting (snmpv3.c's probe) calls it first. */
int session_callback_ends(struct device *dev, int op, const netsnmp_pdu *pdu);

/* SNMPv3, and v1/v2c devices set to `snmp_engine: net-snmp`: send every
 * chunk's poll GET through net-snmp. */
void session_poll_start(struct device *dev);

#endif
