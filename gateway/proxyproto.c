/* proxyproto.c -- see proxyproto.h. Bytes are checked as they come (a
 * connection that does not start like a header is refused at its first
 * wrong byte); v1 is parsed once its CRLF is in, v2 once its addresses
 * are, its TLVs counted past without being kept. */

#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const unsigned char v1_start[] = "PROXY ";
static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* v2 command (low nibble of byte 13) and families (byte 14). */
#define V2_LOCAL 0x0
#define V2_PROXY 0x1
#define V2_TCP4 0x11
#define V2_TCP6 0x21

void proxyproto_init(struct proxyproto *p)
{
    memset(p, 0, sizeof(*p));
}

static void invalid(struct proxyproto *p, const char *why)
{
    p->state = PROXYPROTO_INVALID;
    p->why = why;
}

/* A decimal port, 0 to 65535, no sign, at most 5 digits. -1 otherwise. */
static long port_of(const char *s)
{
    size_t n = strlen(s), i;
    long v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

/* The v1 line in head (CRLF excluded, nhead - 2 bytes): "PROXY TCP4 SRC
 * DST SPORT DPORT", single spaces, or "PROXY UNKNOWN" and anything. */
static void parse_v1(struct proxyproto *p)
{
    char line[PROXYPROTO_V1_MAX], *field[6], *at;
    size_t len = p->nhead - 2, n = 0;
    long sport;
    int family;

    memcpy(line, p->head, len);
    line[len] = '\0';
    if (memchr(line, '\0', len) != NULL) {
        invalid(p, "a NUL byte in a v1 header");
        return;
    }
    if (strncmp(line, "PROXY UNKNOWN", 13) == 0 && (line[13] == '\0' || line[13] == ' ')) {
        p->state = PROXYPROTO_DONE; /* the balancer's own connection */
        return;
    }
    for (at = line; n < 6; n++) {
        field[n] = at;
        at = strchr(at, ' ');
        if (at == NULL) {
            n++;
            break;
        }
        *at++ = '\0';
    }
    if (n != 6 || at != NULL) {
        invalid(p, "a v1 header is PROXY, a protocol, two addresses and two ports");
        return;
    }
    if (strcmp(field[1], "TCP4") == 0) {
        family = AF_INET;
    } else if (strcmp(field[1], "TCP6") == 0) {
        family = AF_INET6;
    } else {
        invalid(p, "a v1 header's protocol is TCP4, TCP6 or UNKNOWN");
        return;
    }
    sport = port_of(field[4]);
    if (sport < 0 || port_of(field[5]) < 0) {
        invalid(p, "a v1 header with a port that is not a number from 0 to 65535");
        return;
    }
    memset(&p->client, 0, sizeof(p->client));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&p->client;
        struct in_addr dst;

        in->sin_family = AF_INET;
        if (inet_pton(AF_INET, field[2], &in->sin_addr) != 1 ||
            inet_pton(AF_INET, field[3], &dst) != 1) {
            invalid(p, "a v1 TCP4 header with an address that is not IPv4");
            return;
        }
        in->sin_port = htons((uint16_t)sport);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->client;
        struct in6_addr dst;

        in6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, field[2], &in6->sin6_addr) != 1 ||
            inet_pton(AF_INET6, field[3], &dst) != 1) {
            invalid(p, "a v1 TCP6 header with an address that is not IPv6");
            return;
        }
        in6->sin6_port = htons((uint16_t)sport);
    }
    p->has_client = 1;
    p->state = PROXYPROTO_DONE;
}

/* The v2 header in head: signature, version and command, family, length,
 * and the address bytes of its family (those kept). */
static void parse_v2(struct proxyproto *p)
{
    const unsigned char *h = p->head;
    unsigned cmd = h[12] & 0x0f;
    size_t len = (size_t)h[14] << 8 | h[15];

    p->state = PROXYPROTO_DONE;
    if (cmd == V2_LOCAL)
        return; /* the balancer's own connection (a health check) */
    memset(&p->client, 0, sizeof(p->client));
    if (h[13] == V2_TCP4 && len >= 12) {
        struct sockaddr_in *in = (struct sockaddr_in *)&p->client;

        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, h + 16, 4);
        memcpy(&in->sin_port, h + 24, 2);
        p->has_client = 1;
    } else if (h[13] == V2_TCP6 && len >= 36) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p->client;

        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, h + 16, 16);
        memcpy(&in6->sin6_port, h + 48, 2);
        p->has_client = 1;
    } else if (h[13] == V2_TCP4 || h[13] == V2_TCP6) {
        invalid(p, "a v2 header shorter than its addresses");
    }
    /* UNSPEC, UDP, UNIX: no TCP client to name; the balancer's. */
}

/* One byte of a v1 header. */
static void v1_byte(struct proxyproto *p, unsigned char c)
{
    if (p->nhead < sizeof(v1_start) - 1 && c != v1_start[p->nhead]) {
        invalid(p, "not a PROXY protocol header");
        return;
    }
    if (p->nhead == PROXYPROTO_V1_MAX) {
        invalid(p, "a v1 header longer than 107 bytes");
        return;
    }
    p->head[p->nhead++] = c;
    if (c != '\n')
        return;
    if (p->nhead < 2 || p->head[p->nhead - 2] != '\r') {
        invalid(p, "a v1 header not ended by CRLF");
        return;
    }
    parse_v1(p);
}

/* One byte of a v2 header. */
static void v2_byte(struct proxyproto *p, unsigned char c)
{
    size_t at = p->consumed; /* this byte's place in the header */

    if (at < sizeof(v2_sig) && c != v2_sig[at]) {
        invalid(p, "not a PROXY protocol header");
        return;
    }
    if (at == 12 && ((c & 0xf0) != 0x20 || ((c & 0x0f) != V2_LOCAL && (c & 0x0f) != V2_PROXY))) {
        invalid(p, "a v2 header of another version or command");
        return;
    }
    if (p->nhead < PROXYPROTO_V2_HEAD + PROXYPROTO_V2_ADDR_MAX)
        p->head[p->nhead++] = c;
    if (at == PROXYPROTO_V2_HEAD - 1)
        p->total = PROXYPROTO_V2_HEAD + ((size_t)p->head[14] << 8 | p->head[15]);
}

size_t proxyproto_feed(struct proxyproto *p, const unsigned char *data, size_t len)
{
    size_t i = 0;

    if (p->state != PROXYPROTO_READING)
        return 0;
    if (len > 0 && p->version == 0) {
        if (data[0] == v1_start[0]) {
            p->version = 1;
        } else if (data[0] == v2_sig[0]) {
            p->version = 2;
        } else {
            invalid(p, "not a PROXY protocol header");
            return 0;
        }
    }
    while (i < len && p->state == PROXYPROTO_READING) {
        if (p->version == 1) {
            v1_byte(p, data[i]);
        } else if (p->total && p->consumed >= PROXYPROTO_V2_HEAD + PROXYPROTO_V2_ADDR_MAX) {
            /* TLVs: counted past, not kept. */
            size_t skip = p->total - p->consumed < len - i ? p->total - p->consumed : len - i;

            p->consumed += skip;
            i += skip;
            if (p->consumed == p->total)
                parse_v2(p);
            continue;
        } else {
            v2_byte(p, data[i]);
        }
        if (p->state == PROXYPROTO_INVALID)
            break;
        p->consumed++;
        i++;
        if (p->version == 2 && p->total && p->consumed == p->total)
            parse_v2(p);
    }
    return i;
}
