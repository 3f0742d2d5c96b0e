/* webpath.c -- the gateway's request paths: which endpoint answers, and
 * which file of web_root a path names or why it is refused. The mapping is
 * the one lws' file mount applies (lws_http_action, lws_http_serve in lws
 * 4.1); this file adds the refusals lws does not make. No I/O. */

#include "webpath.h"

#include <string.h>

/* 1 when some '/'-separated segment of [p, p + len) starts with '.'. */
static int has_dot_segment(const char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (p[i] == '.' && (i == 0 || p[i - 1] == '/'))
            return 1;
    return 0;
}

enum webpath_route webpath_route(const char *uri)
{
    if (strcmp(uri, WEBPATH_WS) == 0)
        return WEBPATH_ROUTE_WS;
    if (strcmp(uri, WEBPATH_HEALTHZ) == 0)
        return WEBPATH_ROUTE_HEALTHZ;
    if (strcmp(uri, WEBPATH_METRICS) == 0)
        return WEBPATH_ROUTE_METRICS;
    return WEBPATH_ROUTE_FILE;
}

int webpath_file(const char *uri, size_t uri_len, const char *web_root, char *path, size_t size)
{
    const char *rest;
    size_t root_len = strlen(web_root), rest_len, total;

    if (uri_len == 0 || uri[0] != '/' || memchr(uri, '\0', uri_len) != NULL)
        return -1;
    rest = uri + 1;
    rest_len = uri_len - 1;
    /* Every segment, the last one included: "/..", "/a/../b", "/.git/x". */
    if (has_dot_segment(rest, rest_len))
        return -1;
    if (rest_len == 0) { /* "/": the default document */
        rest = WEBPATH_INDEX;
        rest_len = strlen(WEBPATH_INDEX);
    }
    total = root_len + 1 + rest_len;
    if (total >= WEBPATH_MAX || total >= size)
        return -1;
    memcpy(path, web_root, root_len);
    path[root_len] = '/';
    memcpy(path + root_len + 1, rest, rest_len);
    path[total] = '\0';
    return 0;
}

int webpath_inside(const char *web_root, const char *resolved)
{
    size_t root_len = strlen(web_root);
    const char *rest;

    if (strncmp(resolved, web_root, root_len) != 0)
        return 0;
    rest = resolved + root_len;
    if (root_len == 0 || web_root[root_len - 1] != '/') { /* any root but "/" */
        if (*rest == '\0')
            return 1;
        /* "/srv/web" must not admit "/srv/web-other/...". */
        if (*rest != '/')
            return 0;
        rest++;
    }
    return !has_dot_segment(rest, strlen(rest));
}
