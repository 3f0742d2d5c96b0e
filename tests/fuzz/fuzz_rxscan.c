/* fuzz_rxscan.c -- libFuzzer target: the scan of what a client sends
 * before libwebsockets parses it (gateway/rxscan.c), with the PROXY
 * protocol header of a trusted balancer in front (gateway/proxyproto.c).
 * Whatever the bytes, and however they are cut into reads, the scan
 * reaches the same end: the same mode, verdict and header length, and the
 * same number of bytes read, fed whole or in pieces; it never reads past
 * what it is given; a header it accepts is at most its bound long, and a
 * client it names is an IPv4 or IPv6 address.
 *
 * Input: byte 0 says whether the connection is a balancer's (bit 0) and
 * what the server decides after an upgrade head (bit 1: a WebSocket, else
 * HTTP); byte 1 the size of the pieces (1 to 16); the rest is what the
 * client sends. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../gateway/rxscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    enum rxscan_mode mode;
    enum rxscan_verdict verdict;
    size_t read;       /* bytes the scan took */
    size_t header;     /* the PROXY header's length, 0 when none */
    int has_client, family;
};

static void run(const uint8_t *p, size_t len, int proxied, int websocket, size_t piece,
                struct outcome *out)
{
    struct rxscan s;
    size_t off = 0;

    if (proxied)
        rxscan_init_proxied(&s);
    else
        rxscan_init(&s);
    memset(out, 0, sizeof(*out));
    while (off < len) {
        size_t n = len - off < piece ? len - off : piece;
        enum rxscan_mode before = s.mode;
        size_t used = rxscan_feed(&s, p + off, n);

        if (used > n)
            abort();
        off += used;
        if (s.mode == RXSCAN_PROXIED) {
            if (out->header)
                abort(); /* one header per connection */
            out->header = off;
            out->has_client = s.proxy.has_client;
            out->family = ((struct sockaddr *)&s.proxy.client)->sa_family;
            if (out->has_client && out->family != AF_INET && out->family != AF_INET6)
                abort();
            if (s.proxy.version == 1 && off > PROXYPROTO_V1_MAX)
                abort();
            if (s.proxy.version == 2 && off > PROXYPROTO_V2_HEAD + 65535)
                abort();
            rxscan_proxied(&s);
        } else if (s.mode == RXSCAN_DECIDE) {
            if (websocket)
                rxscan_websocket(&s);
            else
                rxscan_http(&s);
        } else if (s.mode == RXSCAN_VERDICT) {
            break;
        } else if (used < n || (used == 0 && s.mode == before)) {
            abort(); /* stopped without a reason */
        }
    }
    out->mode = s.mode;
    out->verdict = s.verdict;
    out->read = off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome whole, pieces;
    int proxied, websocket;
    size_t piece;

    if (size < 2)
        return 0;
    proxied = data[0] & 1;
    websocket = (data[0] >> 1) & 1;
    piece = 1 + data[1] % 16;
    run(data + 2, size - 2, proxied, websocket, size, &whole);
    run(data + 2, size - 2, proxied, websocket, piece, &pieces);
    if (whole.mode != pieces.mode || whole.verdict != pieces.verdict ||
        whole.read != pieces.read || whole.header != pieces.header ||
        whole.has_client != pieces.has_client || whole.family != pieces.family)
        abort();
    if (!proxied && (whole.header || whole.verdict == RXSCAN_BAD_PROXY))
        abort(); /* only a balancer's connection has a header */
    return 0;
}
