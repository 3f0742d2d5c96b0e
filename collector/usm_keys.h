/* usm_keys.h -- SNMPv3 USM master keys (RFC 3414 A.2.1, Ku: the password
 * stretched to 1 MB and hashed) derived off the loop and kept once per
 * (authentication protocol, password), so that a hundred devices with the
 * same credentials derive once and the loop never does the hashing.
 *
 * The cache lives as long as the process: one small entry per distinct
 * (protocol, password) the inventory ever named, wiped at exit. The
 * per-agent localisation (Kul = H(Ku | engineID | Ku), one short hash) is
 * net-snmp's, after the engine probe (session.c). */

#ifndef IFMON_COLLECTOR_USM_KEYS_H
#define IFMON_COLLECTOR_USM_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <uv.h>

struct usm_key;
struct usm_key_waiter;

enum usm_key_state {
    USM_KEY_PENDING = 0, /* being derived on libuv's thread pool */
    USM_KEY_READY,
    USM_KEY_FAILED,
};

/* A pending key is ready or has failed (usm_key_state()). The waiter is
 * no longer waiting when this runs. */
typedef void (*usm_key_cb)(struct usm_key_waiter *w, struct usm_key *key);

/* One party waiting for a key, embedded in its owner (the device's
 * session). Zero it before first use. */
struct usm_key_waiter {
    struct usm_key *key; /* the key waited for, NULL when not waiting */
    struct usm_key_waiter *next;
    usm_key_cb cb;
    void *data; /* the owner's */
};

/* net-snmp's OID of an authentication protocol (enum config_auth_proto),
 * or NULL for none or an unknown one; *len its length. */
oid *usm_auth_protocol(int proto, size_t *len);

/* The cache entry for Ku of password under auth_proto (enum
 * config_auth_proto, which also hashes the privacy password, RFC 3414
 * 11.2): found, or created and its derivation queued on loop's thread
 * pool; a failed one is derived again. Never NULL. password is copied. */
struct usm_key *usm_key_get(uv_loop_t *loop, int auth_proto, const char *password);

enum usm_key_state usm_key_state(const struct usm_key *key);

/* The derived key of a READY entry: *len bytes, owned by the cache. */
const unsigned char *usm_key_bytes(const struct usm_key *key, size_t *len);

/* Be told (cb, from the loop, never from inside this call) when a
 * PENDING key is ready or failed. w must not be waiting already. */
void usm_key_wait(struct usm_key *key, struct usm_key_waiter *w, usm_key_cb cb, void *data);

/* Stop waiting; cb will not be called. */
void usm_key_cancel(struct usm_key_waiter *w);

/* How many derivations ran since start (the log says each one). */
uint64_t usm_keys_derived(void);

/* Wipe and free the cache (at exit, once the loop has run dry). */
void usm_keys_shutdown(void);

#endif
