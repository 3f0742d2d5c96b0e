/* webpath.h -- what a request path names on the gateway's port: /ws,
 * /healthz, /metrics, or a file of web_root. Pure string functions, no
 * I/O and no lws, so that the rules can be tested and fuzzed alone
 * (tests/fuzz/fuzz_http.c); http.c applies them. */

#ifndef IFMON_GATEWAY_WEBPATH_H
#define IFMON_GATEWAY_WEBPATH_H

#include <stddef.h>

#define WEBPATH_WS "/ws"
#define WEBPATH_HEALTHZ "/healthz"
#define WEBPATH_METRICS "/metrics"
/* What "/" serves (the file mount's default document). */
#define WEBPATH_INDEX "index.html"
/* lws 4.1 opens files through a char[256] it fills with
 * snprintf(size - 1): a longer path would be silently cut to another
 * name. Mapped paths are kept strictly below this. */
#define WEBPATH_MAX 255

enum webpath_route {
    WEBPATH_ROUTE_FILE = 0, /* anything else: a file of web_root, or 404 */
    WEBPATH_ROUTE_WS,       /* the WebSocket endpoint (upgrades only) */
    WEBPATH_ROUTE_HEALTHZ,
    WEBPATH_ROUTE_METRICS,
};

/* The endpoint that answers uri, by exact match: "/healthz/" or
 * "/metrics?x" (as lws hands them over, query already split off) are not
 * the endpoints. */
enum webpath_route webpath_route(const char *uri);

/* The file that a request for uri opens, written to path (size bytes):
 * "<web_root>/<uri without its leading '/'>", or "<web_root>/index.html"
 * for "/". uri is the request path as lws hands it to the protocol
 * callback: percent-decoded, "//" and "/./" collapsed and most "/../"
 * resolved, no query; uri_len counts every byte of it, so an encoded NUL
 * shows as uri_len > strlen(uri).
 *
 * Returns 0, or -1 (path untouched, or holding a partial result) when
 * the request must be refused: uri does not start with '/', holds a NUL,
 * has a segment starting with '.' (a dotfile or dot-directory such as
 * ".git" or ".env", never part of the page; and ".." too, which lws
 * leaves when the request line ends right after it, "GET /..\r\n"), or
 * the path would reach WEBPATH_MAX or not fit in size. An accepted path
 * starts with web_root and "/", holds no segment starting with '.' after
 * it, and is shorter than WEBPATH_MAX. */
int webpath_file(const char *uri, size_t uri_len, const char *web_root, char *path, size_t size);

/* 1 when `resolved` (a realpath() of what webpath_file() gave) is still a
 * file the page may serve: web_root itself or under "<web_root>/", with no
 * segment starting with '.' after web_root. A symbolic link in web_root
 * that leads out of it (web/pw.txt -> /etc/passwd) or to a dotfile is
 * refused. web_root is itself a realpath(), without a trailing '/'. */
int webpath_inside(const char *web_root, const char *resolved);

#endif
