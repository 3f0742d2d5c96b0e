/* device.h -- what the collector knows about one polled device and its
 * interfaces. Shared by the poller (which fills it), the message formatter
 * and the inventory snapshot (which read it). */

#ifndef IFMON_DEVICE_H
#define IFMON_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "config.h"
#include "rate.h"

struct poller;

enum device_status {
    DEVICE_UNKNOWN = 0, /* not answered yet */
    DEVICE_UP,
    DEVICE_DOWN,
};

/* What a device is busy with. */
enum device_phase {
    PHASE_IDLE = 0, /* nothing in flight */
    PHASE_PROBE,    /* SNMPv3 engineID discovery (RFC 3414 4) */
    PHASE_DISCOVER, /* walking ifName/ifDescr */
    PHASE_POLL,     /* counter GETs in flight */
};

/* One polled interface. The strings are built once at discovery, so that
 * publishing a sample only appends numbers. */
struct iface {
    char *name;  /* identity: ifName, or ifDescr when that matched */
    char *descr; /* ifDescr ("" when the agent has none) */
    long ifindex;
    int width;          /* counter width: 64 (ifHC*Octets) or 32 */
    int loopback;       /* ifType softwareLoopback(24): its speed means nothing */
    int oper;           /* RFC 2863 ifOperStatus, 0 before the first poll */
    uint64_t speed_bps; /* 0 when unknown */
    uint64_t seq;       /* messages published for this interface */
    struct rate_state rate;
    struct rate_sample sample; /* scratch: the reading being processed */
    int sample_ok;             /* scratch: sample holds both counters */
    char *channel;             /* "<prefix>:<device>:<name>" */
    char *history_key;         /* "<prefix>:history:<device>:<name>" */
    char *json_head;           /* '{"device":...,"ifindex":N,' */
    size_t channel_len, history_key_len, json_head_len;
};

/* A group of interfaces polled in one GET PDU; the PDU callback's magic. */
struct chunk {
    struct device *dev;
    size_t first; /* index into dev->ifaces */
    size_t count;
    /* SNMPv1/v2c: the GET, encoded by request.c and sent by poller.c. */
    unsigned char *msg;   /* room for the header, then the varbind list */
    size_t head_room;     /* bytes of msg before the varbind list */
    size_t varbinds_len;  /* 0 until encoded */
    size_t wide;          /* interfaces at width 64 when it was encoded */
    long reqid;           /* request-id of the GET in flight */
    int tries;            /* sends of the GET in flight, 0 when none is */
    uint64_t deadline_ns; /* when the current try times out */
};

struct device {
    struct poller *poller;
    const struct config_device *cfg; /* owned by the poller's current config */
    char *channel;                   /* "<prefix>:<device>" */

    void *sessp; /* net-snmp single session, NULL when not open */
    int sock;
    int direct;                   /* poll GETs sent and read by poller.c */
    struct sockaddr_storage peer; /* the agent, when direct */
    socklen_t peer_len;
    uv_poll_t io;          /* readability of the session's socket */
    uv_timer_t tick;       /* the poll schedule */
    uv_timer_t snmp_timer; /* net-snmp retransmissions and timeouts */
    int open_handles;      /* uv handles not closed yet */
    int closing;           /* being removed; freed when handles are closed */

    enum device_phase phase;
    enum device_status status;
    char error[160];        /* the last failure, while a phase runs */
    char status_error[160]; /* the published reason, "" when up */
    int need_probe;         /* SNMPv3: (re)discover the engineID */
    int need_discovery;     /* (re)walk the interface table */
    uint64_t discovered_ns;
    int outstanding;   /* requests in flight */
    int failures;      /* requests of the current phase that failed */
    int answers;       /* requests of the current phase answered */
    int max_varbinds;  /* may shrink when the agent says tooBig */
    int replan;        /* re-split the chunks when the poll is over */
    uint64_t events;   /* callbacks seen, to tell a retransmission */
    struct walk *walk; /* discovery state, NULL outside PHASE_DISCOVER */

    uint64_t interval_ns;
    uint64_t due_ns; /* next scheduled poll, uv_hrtime() clock */

    struct iface *ifaces;
    size_t nifaces;
    struct chunk *chunks;
    size_t nchunks;

    uint64_t polls, polls_skipped, timeouts;
};

#endif
