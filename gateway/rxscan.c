/* rxscan.c -- see rxscan.h. A byte-at-a-time state machine for heads
 * (the way lws reads them: a line ends at LF, a CR before it is dropped,
 * an empty line ends the head) and for frame headers (RFC 6455 section
 * 5.2); frame payloads are skipped by their length. */

#include "rxscan.h"

/* Where in a frame header the scan is. */
enum {
    FRAME_OPCODE = 0, /* FIN, RSV, opcode */
    FRAME_LENGTH,     /* MASK and the 7-bit length */
    FRAME_EXT_LENGTH, /* 16- or 64-bit length */
    FRAME_MASK_KEY,   /* 4 bytes */
    FRAME_PAYLOAD,
};

#define MASK_KEY_BYTES 4

static const char upgrade_name[] = "upgrade:";

static void head_reset(struct rxscan *s)
{
    s->mode = RXSCAN_HEAD;
    s->head_bytes = 0;
    s->line_bytes = 0;
    s->lines = 0;
    s->args = 0;
    s->name_at = 0;
    s->line_empty = 1;
    s->upgrade = 0;
}

void rxscan_init(struct rxscan *s)
{
    head_reset(s);
    s->verdict = RXSCAN_OK;
    s->frame_state = FRAME_OPCODE;
    s->ext_left = 0;
    s->payload_left = 0;
    s->heads = 0;
    proxyproto_init(&s->proxy);
}

void rxscan_init_proxied(struct rxscan *s)
{
    rxscan_init(s);
    s->mode = RXSCAN_PROXY;
}

void rxscan_proxied(struct rxscan *s)
{
    if (s->mode == RXSCAN_PROXIED)
        head_reset(s);
}

static void stop(struct rxscan *s, enum rxscan_verdict v)
{
    s->mode = RXSCAN_VERDICT;
    s->verdict = v;
}

/* One byte of a head. */
static void head_byte(struct rxscan *s, unsigned char c)
{
    if (++s->head_bytes > RXSCAN_HEAD_MAX) {
        stop(s, s->lines == 0 ? RXSCAN_URI_TOO_LONG : RXSCAN_HEAD_TOO_LARGE);
        return;
    }
    if (c == '\n') {
        if (s->line_empty) {
            /* Empty lines before a request line are skipped (RFC 9112
             * section 2.2); after one, an empty line ends the head. */
            if (s->lines == 0) {
                s->head_bytes = 0;
                return;
            }
            s->heads++;
            if (s->upgrade) {
                s->mode = RXSCAN_DECIDE;
                return;
            }
            head_reset(s); /* the next request, on the same connection */
            return;
        }
        if (++s->lines > RXSCAN_FIELDS_MAX + 1) {
            stop(s, RXSCAN_HEAD_TOO_LARGE);
            return;
        }
        s->line_empty = 1;
        s->name_at = 0;
        return;
    }
    if (c == '\r')
        return;
    s->line_empty = 0;
    if (s->lines == 0) {
        if (++s->line_bytes > RXSCAN_LINE_MAX ||
            ((c == '&' || c == ';') && ++s->args > RXSCAN_ARGS_MAX))
            stop(s, RXSCAN_URI_TOO_LONG);
        return;
    }
    if (s->name_at < sizeof(upgrade_name) - 1) {
        unsigned char lower = (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;

        if (lower == (unsigned char)upgrade_name[s->name_at]) {
            if (++s->name_at == sizeof(upgrade_name) - 1)
                s->upgrade = 1;
        } else {
            s->name_at = ~0u;
        }
    }
}

/* Frame bytes from p (len > 0): returns how many were used. */
static size_t frame_bytes(struct rxscan *s, const unsigned char *p, size_t len)
{
    unsigned char c = p[0];

    switch (s->frame_state) {
    case FRAME_OPCODE:
        s->frame_state = FRAME_LENGTH;
        return 1;
    case FRAME_LENGTH:
        if (!(c & 0x80)) {
            stop(s, RXSCAN_UNMASKED);
            return 1;
        }
        s->payload_left = c & 0x7f;
        s->ext_left = s->payload_left == 126 ? 2 : s->payload_left == 127 ? 8 : 0;
        if (s->ext_left)
            s->payload_left = 0;
        s->frame_state = s->ext_left ? FRAME_EXT_LENGTH : FRAME_MASK_KEY;
        s->ext_left = s->ext_left ? s->ext_left : MASK_KEY_BYTES;
        return 1;
    case FRAME_EXT_LENGTH:
        s->payload_left = (s->payload_left << 8) | c;
        if (--s->ext_left == 0) {
            s->frame_state = FRAME_MASK_KEY;
            s->ext_left = MASK_KEY_BYTES;
        }
        return 1;
    case FRAME_MASK_KEY:
        if (--s->ext_left == 0)
            s->frame_state = s->payload_left ? FRAME_PAYLOAD : FRAME_OPCODE;
        return 1;
    default: { /* FRAME_PAYLOAD */
        size_t n = s->payload_left < len ? (size_t)s->payload_left : len;

        s->payload_left -= n;
        if (s->payload_left == 0)
            s->frame_state = FRAME_OPCODE;
        return n;
    }
    }
}

size_t rxscan_feed(struct rxscan *s, const unsigned char *p, size_t len)
{
    size_t i = 0;

    if (s->mode == RXSCAN_PROXY) {
        i = proxyproto_feed(&s->proxy, p, len);
        if (s->proxy.state == PROXYPROTO_DONE)
            s->mode = RXSCAN_PROXIED;
        else if (s->proxy.state == PROXYPROTO_INVALID)
            stop(s, RXSCAN_BAD_PROXY);
        return i;
    }
    while (i < len) {
        if (s->mode == RXSCAN_HEAD)
            head_byte(s, p[i++]);
        else if (s->mode == RXSCAN_FRAMES)
            i += frame_bytes(s, p + i, len - i);
        else
            break;
    }
    return i;
}

void rxscan_websocket(struct rxscan *s)
{
    if (s->mode != RXSCAN_DECIDE)
        return;
    s->mode = RXSCAN_FRAMES;
    s->frame_state = FRAME_OPCODE;
    s->payload_left = 0;
}

void rxscan_http(struct rxscan *s)
{
    if (s->mode == RXSCAN_DECIDE)
        head_reset(s);
}
