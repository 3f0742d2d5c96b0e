/* fuzz_http.c -- libFuzzer target: the gateway's request paths (webpath.c).
 * Whatever path lws hands over (NUL bytes, "..", "%2e%2e" before or after
 * decoding, no leading '/', thousands of bytes), a file is only accepted
 * inside web_root, with no segment starting with '.' (".." and dotfiles),
 * no NUL and a bounded length, and it is exactly the file lws' mount would
 * open; a refusal is always for one of the documented reasons. The same
 * bytes taken as a resolved path are inside web_root for webpath_inside()
 * exactly when they are web_root or under "<web_root>/" without a dot
 * segment.
 *
 * Input: byte 0 picks web_root (low bits) and whether the rest is first
 * percent-decoded the way lws' parser does (bit 7); the rest is the path. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/webpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const roots[] = {
    "/usr/share/ifmon/web",
    "/",
    "/srv/a",
    /* long enough that most paths cannot fit under WEBPATH_MAX */
    "/var/lib/ifmon/a-very-long-directory-name-for-the-web-root-of-the-gateway/"
    "and-one-more-level-of-it/and-another-one-to-get-close-to-the-lws-path-buffer/"
    "web",
};

static int hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* %xx decoding as lws_parse_urldecode does it (without its collapsing of
 * "/./" and "/../", which webpath_file must not rely on). Returns the
 * decoded length. */
static size_t percent_decode(const uint8_t *in, size_t len, char *out)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (in[i] == '%' && i + 2 < len && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
            out[n++] = (char)(hex(in[i + 1]) << 4 | hex(in[i + 2]));
            i += 2;
        } else {
            out[n++] = (char)in[i];
        }
    }
    return n;
}

/* A segment (between '/'s) that starts with '.': "..", ".env", ".". */
static int has_dot_segment(const char *s, size_t len)
{
    size_t i, start = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (i > start && s[start] == '.')
                return 1;
            start = i + 1;
        }
    }
    return 0;
}

/* webpath_inside() against its definition, for a NUL-free resolved path. */
static void check_inside(const char *resolved, const char *root)
{
    size_t root_len = strlen(root), rlen = strlen(resolved);
    int root_is_slash = strcmp(root, "/") == 0, expect;

    if (strncmp(resolved, root, root_len) != 0)
        expect = 0;
    else if (root_is_slash)
        expect = !has_dot_segment(resolved + 1, rlen - 1);
    else if (resolved[root_len] == '\0')
        expect = 1;
    else
        expect = resolved[root_len] == '/' &&
                 !has_dot_segment(resolved + root_len + 1, rlen - root_len - 1);
    if (webpath_inside(root, resolved) != expect)
        abort();
}

static void check(const char *uri, size_t len, const char *root)
{
    char path[WEBPATH_MAX + 64], expect[8192];
    size_t root_len = strlen(root), plen, elen;
    int ok, refusable;

    memset(path, 'X', sizeof(path));
    ok = webpath_file(uri, len, root, path, sizeof(path)) == 0;

    /* What lws would open: "<root>/<uri + 1>", index.html for "/". */
    refusable = len == 0 || uri[0] != '/' || memchr(uri, '\0', len) != NULL ||
                has_dot_segment(uri + (len > 0), len - (len > 0));
    elen = 0;
    if (!refusable) {
        const char *rest = len == 1 ? WEBPATH_INDEX : uri + 1;
        size_t rest_len = len == 1 ? strlen(WEBPATH_INDEX) : len - 1;

        elen = root_len + 1 + rest_len;
        if (elen >= WEBPATH_MAX)
            refusable = 1;
        else {
            memcpy(expect, root, root_len);
            expect[root_len] = '/';
            memcpy(expect + root_len + 1, rest, rest_len);
            expect[elen] = '\0';
        }
    }
    if (!ok) {
        if (!refusable)
            abort(); /* refused a path that is fine */
        return;
    }
    if (refusable)
        abort(); /* accepted a path that must be refused */
    plen = strnlen(path, sizeof(path));
    if (plen >= WEBPATH_MAX || plen != elen || memcmp(path, expect, elen + 1) != 0)
        abort(); /* not lws' file, a NUL inside, or too long */
    if (memcmp(path, root, root_len) != 0 || path[root_len] != '/')
        abort(); /* outside web_root */
    if (has_dot_segment(path + root_len + 1, plen - root_len - 1))
        abort();
    /* What it accepted is inside web_root as the resolved-path check sees it. */
    if (!webpath_inside(root, path))
        abort();

    /* A too small buffer refuses rather than truncates. */
    if (webpath_file(uri, len, root, path, plen) == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *root;
    char *uri;
    size_t len;
    enum webpath_route route;

    if (size < 1)
        return 0;
    root = roots[data[0] % (sizeof(roots) / sizeof(roots[0]))];
    uri = malloc(size); /* size - 1 bytes and a NUL, like lws' header copy */
    if (uri == NULL)
        abort();
    if (data[0] & 0x80) {
        len = percent_decode(data + 1, size - 1, uri);
    } else {
        len = size - 1;
        memcpy(uri, data + 1, len);
    }
    uri[len] = '\0';

    check(uri, len, root);
    if (strlen(uri) == len)
        check_inside(uri, root);

    route = webpath_route(uri);
    if ((route == WEBPATH_ROUTE_WS) != (strcmp(uri, "/ws") == 0) ||
        (route == WEBPATH_ROUTE_HEALTHZ) != (strcmp(uri, "/healthz") == 0) ||
        (route == WEBPATH_ROUTE_METRICS) != (strcmp(uri, "/metrics") == 0))
        abort();
    free(uri);
    return 0;
}
