/* request.h -- the bytes of an SNMPv1/v2c poll: the GET a chunk sends and
 * the GetResponse it gets back, without net-snmp's PDU objects.
 *
 * A chunk asks the same names every poll, so its varbind list is encoded
 * once and each send only writes the message header and request-id in
 * front of it; the answer is decoded in place into response_vars, its
 * names compared with the ones asked. No allocation per poll. The bytes are
 * those net-snmp's snmp_build() writes for the PDU response_add_vars()
 * fills, and an answer decodes to what snmp_parse() gives
 * (tests/unit/test_request.c). SNMPv3 messages are authenticated and
 * encrypted per send: they keep net-snmp. Nothing here does I/O. */

#ifndef IFMON_COLLECTOR_REQUEST_H
#define IFMON_COLLECTOR_REQUEST_H

#include <stddef.h>

#include "device.h"
#include "response.h"

/* The parts of a GetResponse message read before its varbinds. */
struct request_answer {
    long version; /* SNMP_VERSION_1 or SNMP_VERSION_2c */
    long reqid;
    long errstat;
    long errindex;
    const unsigned char *varbinds; /* content of the varbind list */
    size_t varbinds_len;
};

/* Make ch's encoded GET match its interfaces: built on first use, again
 * when an interface fell back to 32-bit counters; community is the
 * device's. Returns 0, or -1 when out of memory. */
int request_prepare(const struct device *dev, struct chunk *ch, const char *community);

/* Free what request_prepare() allocated (the chunk itself stays the
 * caller's). */
void request_free(struct chunk *ch);

/* The whole GET message of chunk ch, prepared with the same community, for
 * request-id reqid and version (SNMP_VERSION_1 or SNMP_VERSION_2c):
 * written into the chunk's buffer, valid until the next call for the
 * chunk. Sets *len. */
const unsigned char *request_message(struct chunk *ch, long version, const char *community,
                                     long reqid, size_t *len);

/* Read a datagram's message header: 0 when it is a v1/v2c GetResponse
 * (a filled), -1 when it is anything else or malformed. */
int request_parse_answer(const unsigned char *pkt, size_t len, struct request_answer *a);

/* Decode answer a to chunk ch's GET into vars (room for max): one entry
 * per varbind, in order, `asked` set when its name is the one the GET asked
 * at that position. Sets *n. Returns 0, or -1 when the varbind list is
 * malformed (the datagram is then dropped, as net-snmp drops what it cannot
 * parse). */
int request_parse_varbinds(const struct chunk *ch, const struct request_answer *a,
                           struct response_var *vars, size_t max, size_t *n);

#endif
