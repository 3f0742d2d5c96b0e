/* chantable.h -- a hash table of names as Redis knows them (channels, or
 * patterns in Redis' escaped form), to find the gateway's subscription of
 * a name in O(1) when Redis acknowledges it or publishes on it.
 *
 * Intrusive, like the kernel's hlist: the caller's struct embeds a
 * `struct chantable_entry` and owns its memory and its key; the table
 * only links entries. It knows nothing of what an entry holds
 * (fanout.c's registry). Unit tested in tests/unit/test_gateway_chantable.c. */

#ifndef IFMON_GATEWAY_CHANTABLE_H
#define IFMON_GATEWAY_CHANTABLE_H

#include <stddef.h>
#include <stdint.h>

struct chantable_entry {
    struct chantable_entry *hnext; /* hash chain */
    const char *key;               /* borrowed from the caller; any bytes */
    size_t key_len;
    uint64_t hash; /* of key, set by chantable_add() */
};

/* Zero it to start (no allocation before the first add). */
struct chantable {
    struct chantable_entry **buckets;
    size_t size; /* power of two, or 0 */
    size_t count;
};

/* The struct of type `type` whose member `member` is the entry e (e not
 * NULL), like the kernel's container_of(). */
static inline void *chantable_container(struct chantable_entry *e, size_t offset)
{
    return (char *)e - offset;
}
#define CHANTABLE_CONTAINER(e, type, member)                                                       \
    ((type *)chantable_container((e), offsetof(type, member)))

/* The entry with this key, or NULL. */
struct chantable_entry *chantable_find(const struct chantable *t, const char *key, size_t len);

/* Link e, whose key and key_len are set; no entry of the same key may be
 * in the table. The key must stay valid and unchanged until e is removed. */
void chantable_add(struct chantable *t, struct chantable_entry *e);

/* Unlink e, which must be in the table. */
void chantable_remove(struct chantable *t, struct chantable_entry *e);

/* Call fn on every entry; fn may remove (and free) the entry it is given,
 * but no other, and may not add any. */
void chantable_each(struct chantable *t, void (*fn)(struct chantable_entry *e, void *arg),
                    void *arg);

/* Free the buckets; the entries are the caller's (remove or free them
 * first, e.g. with chantable_each()). */
void chantable_free(struct chantable *t);

#endif
