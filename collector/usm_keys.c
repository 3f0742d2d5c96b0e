/* usm_keys.c -- see usm_keys.h. A short list of entries, each derived by
 * one uv_queue_work; devices wait on the entry, not on the work. */

#include "usm_keys.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* Ku of one (protocol, password). The worker thread writes ku, ku_len
 * and rc; the loop reads them only in on_derived(), after libuv has
 * handed the work back (its queue's mutex orders the two). */
struct usm_key {
    int proto;      /* enum config_auth_proto */
    char *password; /* the cache's key, with proto; wiped at exit */
    enum usm_key_state state;
    int busy; /* work queued or running: the entry must stay */
    uv_work_t work;
    uint64_t queued_ns;
    unsigned char ku[USM_AUTH_KU_LEN];
    size_t ku_len;
    int rc; /* generate_Ku()'s */
    struct usm_key_waiter *waiters;
    struct usm_key *next;
};

_Static_assert(USM_AUTH_KU_LEN >= EVP_MAX_MD_SIZE, "generate_Ku() wants room for any digest");

static struct usm_key *keys;
static uint64_t derived;

static const struct {
    int proto;
    oid *oid;
    size_t len;
    const char *name;
} auth_protocols[] = {
    {CONFIG_AUTH_MD5, usmHMACMD5AuthProtocol, OID_LENGTH(usmHMACMD5AuthProtocol), "MD5"},
    {CONFIG_AUTH_SHA, usmHMACSHA1AuthProtocol, OID_LENGTH(usmHMACSHA1AuthProtocol), "SHA"},
    {CONFIG_AUTH_SHA224, usmHMAC128SHA224AuthProtocol, OID_LENGTH(usmHMAC128SHA224AuthProtocol),
     "SHA-224"},
    {CONFIG_AUTH_SHA256, usmHMAC192SHA256AuthProtocol, OID_LENGTH(usmHMAC192SHA256AuthProtocol),
     "SHA-256"},
    {CONFIG_AUTH_SHA384, usmHMAC256SHA384AuthProtocol, OID_LENGTH(usmHMAC256SHA384AuthProtocol),
     "SHA-384"},
    {CONFIG_AUTH_SHA512, usmHMAC384SHA512AuthProtocol, OID_LENGTH(usmHMAC384SHA512AuthProtocol),
     "SHA-512"},
};

#define NPROTOCOLS (sizeof(auth_protocols) / sizeof(auth_protocols[0]))

static int protocol_index(int proto)
{
    size_t i;

    for (i = 0; i < NPROTOCOLS; i++)
        if (auth_protocols[i].proto == proto)
            return (int)i;
    return -1;
}

oid *usm_auth_protocol(int proto, size_t *len)
{
    int i = protocol_index(proto);

    if (i < 0)
        return NULL;
    *len = auth_protocols[i].len;
    return auth_protocols[i].oid;
}

/* On a worker thread of libuv's pool. generate_Ku() may run here because
 * of what it touches: its arguments (this entry's password, read-only
 * while busy, and its ku/ku_len, which the loop does not read until
 * on_derived), its own stack buffer and EVP_MD_CTX (OpenSSL's digests are
 * safe to use from several threads, each with its own context; the
 * library was initialised by init_snmp() on the loop's thread), and
 * net-snmp's read-only tables from the protocol OID to the hash
 * (sc_get_authtype(), sc_get_openssl_hashfn()). Its only writes to shared
 * state are on error paths, snmp_log() and snmp_set_detail()'s static
 * buffer, for a password shorter than USM_LENGTH_P_MIN, an unknown
 * protocol or a key buffer smaller than EVP_MAX_MD_SIZE: usm_key_get()
 * refuses the first two on the loop, before queuing, and the third is
 * asserted at build time below. No
 * session, no USM user list, no engine time is involved: those are
 * net-snmp's global lists and stay on the loop (session.c). */
static void derive(uv_work_t *w)
{
    struct usm_key *k = w->data;
    int i = protocol_index(k->proto);

    k->ku_len = sizeof(k->ku);
    k->rc = generate_Ku(auth_protocols[i].oid, (u_int)auth_protocols[i].len,
                        (const u_char *)k->password, strlen(k->password), k->ku, &k->ku_len);
}

static void on_derived(uv_work_t *w, int status)
{
    struct usm_key *k = w->data;
    struct usm_key_waiter *x;
    double took_ms = (double)(uv_hrtime() - k->queued_ns) / 1e6;
    size_t nwaiting = 0;

    k->busy = 0;
    k->state = status == 0 && k->rc == SNMPERR_SUCCESS ? USM_KEY_READY : USM_KEY_FAILED;
    derived++;
    for (x = k->waiters; x; x = x->next)
        nwaiting++;
    if (k->state == USM_KEY_READY)
        log_info("SNMPv3: key derived off the loop (%s, derivation %llu) in %.1f ms for %zu "
                 "waiting sessions",
                 auth_protocols[protocol_index(k->proto)].name, (unsigned long long)derived,
                 took_ms, nwaiting);
    else
        log_warn("SNMPv3: key derivation (%s) failed (%d)",
                 auth_protocols[protocol_index(k->proto)].name, status ? status : k->rc);
    while ((x = k->waiters) != NULL) {
        k->waiters = x->next;
        x->next = NULL;
        x->key = NULL;
        x->cb(x, k);
    }
}

static void queue_derivation(uv_loop_t *loop, struct usm_key *k)
{
    int rc;

    k->state = USM_KEY_PENDING;
    k->busy = 1;
    k->work.data = k;
    k->queued_ns = uv_hrtime();
    rc = uv_queue_work(loop, &k->work, derive, on_derived);
    IFMON_ASSERT(rc == 0); /* fails only without a work callback */
}

struct usm_key *usm_key_get(uv_loop_t *loop, int auth_proto, const char *password)
{
    struct usm_key *k;

    for (k = keys; k; k = k->next)
        if (k->proto == auth_proto && strcmp(k->password, password) == 0)
            break;
    if (k == NULL) {
        k = ifmon_xcalloc(1, sizeof(*k));
        k->proto = auth_proto;
        k->password = ifmon_xstrdup(password);
        k->next = keys;
        keys = k;
        if (protocol_index(auth_proto) < 0 || strlen(password) < USM_LENGTH_P_MIN) {
            k->state = USM_KEY_FAILED; /* see derive(): never handed to a thread */
            return k;
        }
        queue_derivation(loop, k);
    } else if (k->state == USM_KEY_FAILED && !k->busy && protocol_index(auth_proto) >= 0 &&
               strlen(password) >= USM_LENGTH_P_MIN) {
        queue_derivation(loop, k);
    }
    return k;
}

enum usm_key_state usm_key_state(const struct usm_key *key)
{
    return key->state;
}

const unsigned char *usm_key_bytes(const struct usm_key *key, size_t *len)
{
    IFMON_ASSERT(key->state == USM_KEY_READY);
    *len = key->ku_len;
    return key->ku;
}

void usm_key_wait(struct usm_key *key, struct usm_key_waiter *w, usm_key_cb cb, void *data)
{
    IFMON_ASSERT(w->key == NULL && key->state == USM_KEY_PENDING);
    w->key = key;
    w->cb = cb;
    w->data = data;
    w->next = key->waiters;
    key->waiters = w;
}

void usm_key_cancel(struct usm_key_waiter *w)
{
    struct usm_key_waiter **pp;

    if (w->key == NULL)
        return;
    for (pp = &w->key->waiters; *pp && *pp != w; pp = &(*pp)->next)
        ;
    IFMON_ASSERT(*pp == w);
    *pp = w->next;
    w->next = NULL;
    w->key = NULL;
}

uint64_t usm_keys_derived(void)
{
    return derived;
}

void usm_keys_shutdown(void)
{
    struct usm_key *k, *next;

    for (k = keys; k; k = next) {
        next = k->next;
        IFMON_ASSERT(!k->busy && k->waiters == NULL);
        explicit_bzero(k->password, strlen(k->password));
        explicit_bzero(k->ku, sizeof(k->ku));
        free(k->password);
        free(k);
    }
    keys = NULL;
}
