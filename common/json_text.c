/* json_text.c -- see json_text.h. UTF-8 as RFC 3629 defines it: no
 * overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF;
 * the same rule jansson applies to json_string(). */

#include "json_text.h"

#include <string.h>

#include "util.h"

size_t ifmon_utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0], cp;
    size_t len, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0; /* a continuation byte, 0xc0/0xc1 (overlong) or above 0xf4 */
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

size_t ifmon_utf8_valid_prefix(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t at = 0, n;

    while (at < len && (n = ifmon_utf8_char(p + at, len - at)) > 0)
        at += n;
    return at;
}

size_t ifmon_json_quote_into(char *out, const char *s, size_t len, size_t *replaced)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    char *o = out;
    size_t at = 0, bad = 0;

    *o++ = '"';
    while (at < len) {
        unsigned c = p[at];
        size_t n;

        if (c >= 0x80) {
            n = ifmon_utf8_char(p + at, len - at);
            if (n == 0) {
                *o++ = '?';
                bad++;
                at++;
            } else {
                memcpy(o, p + at, n);
                o += n;
                at += n;
            }
            continue;
        }
        at++;
        switch (c) {
        case '"':
        case '\\':
            *o++ = '\\';
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = '\\';
            *o++ = 'b';
            break;
        case '\f':
            *o++ = '\\';
            *o++ = 'f';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        default:
            if (c < 0x20) {
                memcpy(o, "\\u00", 4);
                o[4] = hex[c >> 4];
                o[5] = hex[c & 0xf];
                o += 6;
            } else {
                *o++ = (char)c;
            }
            break;
        }
    }
    *o++ = '"';
    *o = '\0';
    if (replaced)
        *replaced = bad;
    return (size_t)(o - out);
}

char *ifmon_json_quote(const char *s, size_t len, size_t *out_len, size_t *replaced)
{
    char *out = ifmon_xmalloc(IFMON_JSON_QUOTED_MAX(len) + 1);
    size_t n = ifmon_json_quote_into(out, s, len, replaced);

    if (out_len)
        *out_len = n;
    return out;
}

char *ifmon_utf8_or_latin1(const char *s, size_t len, size_t max, int *converted)
{
    const char *nul = memchr(s, '\0', len);
    size_t n = nul ? (size_t)(nul - s) : len, i, o = 0;
    char *out;

    if (converted)
        *converted = 0;
    if (ifmon_utf8_valid_prefix(s, n) == n) {
        /* Valid: cut at a character boundary. */
        n = n > max ? ifmon_utf8_valid_prefix(s, max) : n;
        return ifmon_xstrndup(s, n);
    }
    if (converted)
        *converted = 1;
    out = ifmon_xmalloc(2 * n + 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c < 0x80 ? 1 : 2;

        if (o + need > max)
            break;
        if (c < 0x80) {
            out[o++] = (char)c;
        } else { /* U+0080 .. U+00FF */
            out[o++] = (char)(0xc0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[o] = '\0';
    return out;
}
