/* chantable.c -- see chantable.h. Separate chaining, FNV-1a, the bucket
 * array doubled when the table holds as many entries as buckets. */

#include "chantable.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CHANTABLE_INITIAL_SIZE 64

static uint64_t hash(const char *s, size_t len)
{
    return ifmon_fnv1a(IFMON_FNV1A_INIT, s, len);
}

static struct chantable_entry **bucket_of(struct chantable_entry **buckets, size_t size, uint64_t h)
{
    return &buckets[h & (size - 1)];
}

struct chantable_entry *chantable_find(const struct chantable *t, const char *key, size_t len)
{
    struct chantable_entry *e;
    uint64_t h;

    if (t->count == 0)
        return NULL;
    h = hash(key, len);
    for (e = *bucket_of(t->buckets, t->size, h); e; e = e->hnext)
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static void link_entry(struct chantable_entry **buckets, size_t size, struct chantable_entry *e)
{
    struct chantable_entry **b = bucket_of(buckets, size, e->hash);

    e->hnext = *b;
    *b = e;
}

void chantable_add(struct chantable *t, struct chantable_entry *e)
{
    IFMON_ASSERT(chantable_find(t, e->key, e->key_len) == NULL);
    if (t->count >= t->size) {
        size_t nsize = t->size ? t->size * 2 : CHANTABLE_INITIAL_SIZE, i;
        struct chantable_entry **nb = ifmon_xcalloc(nsize, sizeof(*nb)), *x, *next;

        for (i = 0; i < t->size; i++)
            for (x = t->buckets[i]; x; x = next) {
                next = x->hnext;
                link_entry(nb, nsize, x);
            }
        free(t->buckets);
        t->buckets = nb;
        t->size = nsize;
    }
    e->hash = hash(e->key, e->key_len);
    link_entry(t->buckets, t->size, e);
    t->count++;
}

void chantable_remove(struct chantable *t, struct chantable_entry *e)
{
    struct chantable_entry **pp;

    IFMON_ASSERT(t->size > 0);
    pp = bucket_of(t->buckets, t->size, e->hash);
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    IFMON_ASSERT(*pp == e);
    *pp = e->hnext;
    e->hnext = NULL;
    t->count--;
}

void chantable_each(struct chantable *t, void (*fn)(struct chantable_entry *e, void *arg),
                    void *arg)
{
    size_t i;
    struct chantable_entry *e, *next;

    for (i = 0; i < t->size; i++)
        for (e = t->buckets[i]; e; e = next) {
            next = e->hnext;
            fn(e, arg);
        }
}

void chantable_free(struct chantable *t)
{
    free(t->buckets);
    memset(t, 0, sizeof(*t));
}
