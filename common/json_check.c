/* json_check.c -- see json_check.h. One pass, no allocation (but for a
 * number longer than the buffer below), an explicit stack of at most
 * JSON_CHECK_MAX_DEPTH levels. It follows what jansson's json_loadb(...,
 * 0, ...) accepts, rule by rule (tests/fuzz/fuzz_json.c compares them). */

#include "json_check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"

struct scan {
    const unsigned char *p, *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        unsigned c = p[i], d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* A string at s->p (the opening quote). *is_ts: it decodes to "ts". */
static int scan_string(struct scan *s, int *is_ts)
{
    char dec[3];
    size_t ndec = 0, n;
    int too_long = 0;

    s->p++;
    for (;;) {
        unsigned c;

        /* Past the third character only the end matters: printable ASCII
         * in a run (most of a message's keys and values) needs no more. */
        if (ndec == sizeof(dec)) {
            const unsigned char *q = s->p;

            while (q < s->end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
                q++;
            if (q != s->p) {
                too_long = 1;
                s->p = q;
            }
        }
        if (s->p >= s->end)
            return -1;
        c = *s->p;
        if (c == '"') {
            s->p++;
            break;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            unsigned u, lo;

            if (s->end - s->p < 2)
                return -1;
            c = s->p[1];
            s->p += 2;
            if (c == 'u') {
                if (s->end - s->p < 4 || hex4(s->p, &u) < 0)
                    return -1;
                s->p += 4;
                if (u == 0)
                    return -1; /* jansson: \u0000 only with JSON_ALLOW_NUL */
                if (u >= 0xdc00 && u <= 0xdfff)
                    return -1;
                if (u >= 0xd800 && u <= 0xdbff) {
                    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                        hex4(s->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                        return -1;
                    s->p += 6;
                    too_long = 1;
                } else if (u < 0x80 && ndec < sizeof(dec)) {
                    dec[ndec++] = (char)u;
                } else {
                    too_long = 1;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", (int)c) || c == 0)
                return -1;
            if (ndec < sizeof(dec))
                dec[ndec++] = c == 'b'   ? '\b'
                              : c == 'f' ? '\f'
                              : c == 'n' ? '\n'
                              : c == 'r' ? '\r'
                              : c == 't' ? '\t'
                                         : (char)c;
            else
                too_long = 1;
            continue;
        }
        if (c < 0x80) {
            if (ndec < sizeof(dec))
                dec[ndec++] = (char)c;
            else
                too_long = 1;
            s->p++;
            continue;
        }
        n = ifmon_utf8_char(s->p, (size_t)(s->end - s->p));
        if (n == 0)
            return -1;
        s->p += n;
        too_long = 1;
    }
    *is_ts = !too_long && ndec == 2 && dec[0] == 't' && dec[1] == 's';
    return 0;
}

/* The value of a number without an exponent of up to 15 digits and 15
 * decimals (p, len: as scan_number() found it) into *value, exactly as
 * strtod() gives it: the digits make an integer below 2^53 and the power
 * of ten an exact double, so one IEEE division rounds them correctly
 * (Clinger's fast path); an integer as strtoll() gives it. 0 when the
 * number is not that simple. */
static int simple_value(const unsigned char *p, size_t len, double *value)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const unsigned char *end = p + len;
    uint64_t mantissa = 0;
    int neg = 0, digits = 0, decimals = -1;

    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    for (; p < end; p++) {
        if (*p == '.') {
            decimals = 0;
            continue;
        }
        if (*p < '0' || *p > '9' || ++digits > 15)
            return 0;
        mantissa = mantissa * 10 + (uint64_t)(*p - '0');
        if (decimals >= 0)
            decimals++;
    }
    *value = (double)mantissa / pow10[decimals < 0 ? 0 : decimals];
    /* An integer -0 is 0, as strtoll() makes it (jansson reads integers
     * so); a real -0.0 keeps its sign, as strtod() does. */
    if (neg && (mantissa != 0 || decimals >= 0))
        *value = -*value;
    return 1;
}

/* A number at s->p; *value its value when want_value. */
static int scan_number(struct scan *s, int want_value, double *value)
{
    const unsigned char *start = s->p;
    int real = 0, exponent = 0;
    char small[64], *text;
    size_t len;

    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p >= s->end)
        return -1;
    if (*s->p == '0') {
        s->p++;
        if (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            return -1;
    } else if (*s->p >= '1' && *s->p <= '9') {
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    } else {
        return -1;
    }
    if (s->p < s->end && *s->p == '.') {
        real = 1;
        s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return -1;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        real = 1;
        exponent = 1;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return -1;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    len = (size_t)(s->p - start);
    /* An integer of up to 18 digits fits in 64 bits, and needs no
     * conversion unless its value is wanted. */
    if (!real && !want_value && len <= 18)
        return 0;
    /* A real without an exponent, in 300 characters, can neither overflow
     * a double (DBL_MAX is about 1.8e308) nor come below DBL_MIN (about
     * 2.2e-308) unless zero, where strtod() would say ERANGE: nothing to
     * convert unless its value is wanted (strtod() on every real of every
     * message was a fifth of the gateway's JSON check at 50,000
     * interfaces). And a wanted value is often a simple one. */
    if (real && !exponent && len <= 300 && !want_value)
        return 0;
    if (want_value && !exponent && simple_value(start, len, value ? value : &(double){0}))
        return 0;
    text = len < sizeof(small) ? small : malloc(len + 1);
    if (text == NULL)
        return -1;
    memcpy(text, start, len);
    text[len] = '\0';
    errno = 0;
    if (!real) {
        long long v = strtoll(text, NULL, 10);

        if (errno == ERANGE)
            len = 0; /* jansson: too big an integer */
        else if (value)
            *value = (double)v;
    } else {
        double v = strtod(text, NULL);

        if (errno == ERANGE && v != 0)
            len = 0; /* jansson: real number overflow */
        else if (value)
            *value = v;
    }
    if (text != small)
        free(text);
    return len == 0 ? -1 : 0;
}

static int scan_literal(struct scan *s, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

int ifmon_json_check_object(const char *text, size_t len, double *ts)
{
    struct scan s = {(const unsigned char *)text, (const unsigned char *)text + len};
    unsigned char stack[JSON_CHECK_MAX_DEPTH];
    size_t depth = 0;
    int has_ts = 0, is_ts = 0, key_is_ts = 0;

    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return -1;
    /* Each turn: a value is expected at s.p (or a closing bracket where
     * the container may end). */
    for (;;) {
        unsigned c;

        skip_ws(&s);
        if (s.p >= s.end)
            return -1;
        c = *s.p;
        if (c == '{' || c == '[') {
            if (key_is_ts)
                has_ts = 0;
            key_is_ts = 0;
            if (depth == JSON_CHECK_MAX_DEPTH)
                return -1;
            stack[depth++] = (unsigned char)c;
            s.p++;
            skip_ws(&s);
            if (s.p < s.end && *s.p == (c == '{' ? '}' : ']')) {
                s.p++;
                depth--;
                goto after_value;
            }
            if (c == '[')
                continue;
            goto object_key;
        }
        if (c == '"') {
            if (scan_string(&s, &is_ts) < 0)
                return -1;
            if (key_is_ts)
                has_ts = 0;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            double v = 0;

            if (scan_number(&s, key_is_ts, &v) < 0)
                return -1;
            if (key_is_ts) {
                has_ts = 1;
                if (ts)
                    *ts = v;
            }
        } else if (scan_literal(&s, c == 't' ? "true" : c == 'f' ? "false" : "null") < 0) {
            return -1;
        } else if (key_is_ts) {
            has_ts = 0;
        }
    after_value:
        key_is_ts = 0;
        for (;;) {
            if (depth == 0) {
                skip_ws(&s);
                return s.p == s.end ? has_ts : -1;
            }
            skip_ws(&s);
            if (s.p >= s.end)
                return -1;
            c = *s.p++;
            if (c == ',')
                break;
            if (c != (stack[depth - 1] == '{' ? '}' : ']'))
                return -1;
            depth--;
        }
        if (stack[depth - 1] == '[')
            continue;
    object_key:
        skip_ws(&s);
        if (s.p >= s.end || *s.p != '"' || scan_string(&s, &is_ts) < 0)
            return -1;
        skip_ws(&s);
        if (s.p >= s.end || *s.p++ != ':')
            return -1;
        /* The root object's "ts" (the last one wins, as in jansson). */
        key_is_ts = depth == 1 && is_ts;
    }
}
