/* ber.h -- the bytes of an SNMPv1/v2c GET and of its GetResponse (BER,
 * X.690), without net-snmp's PDU objects: the codec of the direct poll
 * path (direct_poll.c).
 *
 * A chunk of interfaces asks the same names every poll, so its varbind
 * list is encoded once (ber_get_prepare) and each send only writes the
 * message header and request-id in front of it (ber_get_message); an
 * answer is decoded in place into ber_vars, its names compared with the
 * ones asked. No allocation per poll. The bytes are those net-snmp's
 * snmp_build() writes for the same PDU, and an answer decodes to what
 * snmp_parse() gives, non-canonical encodings included
 * (tests/unit/test_ber.c checks both, tests/fuzz/fuzz_ber_netsnmp.c on any
 * bytes; ber.c lists the two malformations it refuses that net-snmp
 * takes). SNMPv3 messages are authenticated and encrypted per send: they
 * stay with net-snmp (session.c). Nothing here does I/O or knows what the
 * names mean. */

#ifndef IFMON_COLLECTOR_BER_H
#define IFMON_COLLECTOR_BER_H

#include <stddef.h>
#include <stdint.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

/* Subidentifiers of the longest name a GET may ask. */
#define BER_NAME_MAX 12

/* A GET's encoded varbind list, with room before it for the header. */
struct ber_get {
    unsigned char *msg;  /* head_room bytes, then the varbind list; NULL before the first prepare */
    size_t head_room;    /* bytes of msg before the varbind list */
    size_t varbinds_len; /* of the list, its SEQUENCE header included */
    size_t plan;         /* the caller's tag of what the list asks (ber_get_prepare) */
};

/* One varbind of an answer, as reading it needs: decoded from a datagram
 * here, or taken from net-snmp's PDU for SNMPv3 (counters.c). */
struct ber_var {
    unsigned char type;    /* ASN_COUNTER64, ..., SNMP_NOSUCHINSTANCE, or net-snmp's
                            * Opaque-wrapped ASN_OPAQUE_COUNTER64... (not numbers) */
    unsigned char asked;   /* its name is the one asked at this position */
    unsigned char numeric; /* value holds it: an unsigned type, or INTEGER >= 0 */
    uint64_t value;        /* unsigned 32-bit types: the low 32 bits; INTEGER: truncated to
                            * 32 bits (as net-snmp does both) */
};

/* The parts of a GetResponse message read before its varbinds; the
 * INTEGERs truncated to 32 bits, as net-snmp reads them. */
struct ber_answer {
    long version; /* SNMP_VERSION_1 or SNMP_VERSION_2c */
    long reqid;
    long errstat;
    long errindex;
    const unsigned char *varbinds; /* content of the varbind list */
    size_t varbinds_len;
};

/* Writes the k-th name a GET asks into name (room for BER_NAME_MAX
 * subidentifiers) and returns its length. */
typedef size_t (*ber_name_fn)(const void *ctx, size_t k, oid *name);

/* Make g hold the varbind list of a GET asking n names (name(ctx, k, ...)
 * for k = 0 .. n-1), with room for a community of community_len bytes.
 * When g already holds a list tagged `plan` with that room, nothing is
 * done: the caller changes `plan` whenever the names change. Returns 0,
 * or -1 when out of memory (g then holds nothing). */
int ber_get_prepare(struct ber_get *g, size_t plan, size_t community_len, size_t n,
                    ber_name_fn name, const void *ctx);

/* Free what ber_get_prepare() allocated (g itself stays the caller's). */
void ber_get_free(struct ber_get *g);

/* The whole GET message for request-id reqid and version (SNMP_VERSION_1
 * or SNMP_VERSION_2c), written into g's buffer in front of its list and
 * valid until the next call for g. community must be no longer than the
 * room g was prepared with. Sets *len. */
const unsigned char *ber_get_message(struct ber_get *g, long version, const char *community,
                                     long reqid, size_t *len);

/* Read a datagram's message header: 0 when it is a v1/v2c GetResponse
 * (a filled), -1 when it is anything else, or malformed as far as
 * net-snmp's snmp_parse() would tell. */
int ber_parse_answer(const unsigned char *pkt, size_t len, struct ber_answer *a);

/* Decode answer a to the GET of g into vars (room for max): one entry per
 * varbind, in order, `asked` set when its name is the one the GET asked
 * at that position (compared by value, as net-snmp). Sets *n. Returns 0,
 * or -1 when the varbind list is malformed or holds what snmp_parse()
 * refuses (a type it does not know, an IpAddress not of 4 bytes...): the
 * datagram is then dropped, as net-snmp drops what it cannot parse. */
int ber_parse_varbinds(const struct ber_get *g, const struct ber_answer *a, struct ber_var *vars,
                       size_t max, size_t *n);

#endif
