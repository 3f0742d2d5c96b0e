/* json_check.h -- is a text one JSON object, and what is its "ts"? The
 * gateway asks this of every message it relays and of every history
 * sample, and only this: parsing each into a jansson tree to ask it took
 * half of the gateway's CPU when each channel has few subscribers (make
 * bench-scale). Accepts exactly what json_loadb(text, len, 0, ...) accepts
 * with an object at the top (RFC 8259; UTF-8 checked; no \u0000; integers
 * within 64 bits; no real number overflowing a double; at most
 * JSON_CHECK_MAX_DEPTH levels, jansson's limit), which
 * tests/fuzz/fuzz_json.c holds it to; but a NUL byte right after a number,
 * which jansson skips, is refused here, as a browser's JSON.parse does. */

#ifndef IFMON_JSON_CHECK_H
#define IFMON_JSON_CHECK_H

#include <stddef.h>

/* jansson's JSON_PARSER_MAX_DEPTH. */
#define JSON_CHECK_MAX_DEPTH 2048

/* -1: text (len bytes) is not one JSON object, white space around it
 * allowed. 1: it is, and its member "ts" (the last, at the top level) is
 * a number, stored in *ts (if ts is not NULL). 0: it is, without such a
 * "ts". Reads len bytes at most; allocates only for a number longer than
 * 63 bytes. */
int ifmon_json_check_object(const char *text, size_t len, double *ts);

#endif
