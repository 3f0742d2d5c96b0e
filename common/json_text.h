/* json_text.h -- JSON text built by hand where jansson would allocate a
 * tree for one string: the quoting of names in the collector's messages
 * and of channel names in the gateway's frames.
 *
 * One contract for both daemons: the output is always valid JSON, and a
 * name that is not valid UTF-8 (an agent's Latin-1 ifDescr) keeps every
 * valid part, each byte of an invalid sequence becoming '?'. The caller
 * learns how many bytes were replaced, and decides whether that is
 * acceptable. Escapes are those jansson writes (RFC 8259 7), so a text
 * built here equals json_dumps() of the same string. */

#ifndef IFMON_JSON_TEXT_H
#define IFMON_JSON_TEXT_H

#include <stddef.h>

/* Length of the longest JSON string literal for len bytes of input: every
 * byte a \u00XX escape, and the quotes. */
#define IFMON_JSON_QUOTED_MAX(len) (6 * (len) + 2)

/* Write s (len bytes, NULs allowed) as a JSON string literal, quotes
 * included, to out, which has room for IFMON_JSON_QUOTED_MAX(len) + 1
 * bytes; it is NUL-terminated. Returns the literal's length. *replaced
 * (if not NULL) gets the number of bytes replaced by '?'. */
size_t ifmon_json_quote_into(char *out, const char *s, size_t len, size_t *replaced);

/* The same into a new string (caller frees); *out_len (if not NULL) gets
 * its length. Never NULL. */
char *ifmon_json_quote(const char *s, size_t len, size_t *out_len, size_t *replaced);

/* Length of the valid UTF-8 character at s (n >= 1 bytes available), or
 * 0 when the bytes there are not one (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF). */
size_t ifmon_utf8_char(const unsigned char *s, size_t n);

/* Length of the longest prefix of s (at most len bytes) that is valid
 * UTF-8 and does not cut a character. */
size_t ifmon_utf8_valid_prefix(const char *s, size_t len);

/* An agent's text (an ifName, an ifDescr: SNMP DisplayString, RFC 2579,
 * says ASCII, and older gear sends its own 8-bit character set) as UTF-8
 * for names, channels and messages: the bytes before the first NUL of s
 * (len bytes at most), kept when they are valid UTF-8, otherwise read as
 * ISO 8859-1 (Latin-1, which every byte is) and converted; either way cut
 * at a character boundary to at most max bytes. A new string (caller
 * frees); *converted (if not NULL) says whether it was read as Latin-1.
 * The mapping is one-to-one on each side: two different names of one
 * kind never give the same text. */
char *ifmon_utf8_or_latin1(const char *s, size_t len, size_t max, int *converted);

#endif
