/* fuzz_resp.c -- libFuzzer target: common/redis_reply.c against hiredis'
 * own reply objects. The same bytes (RESP from a server, good or not) go
 * to two readers, one with hiredis' default functions and one with
 * ifmon_redis_reply_functions, in pieces whose size the first byte picks
 * (as redis_uv.c feeds its reader in pieces). After every piece both must
 * give the same replies (type, string bytes and length, integer, elements,
 * recursively) and fail at the same point with the same error; ASan and
 * UBSan check the one-block objects while they are built, read and
 * freed. hiredis' own functions get the same bound on array sizes
 * (IFMON_REDIS_MAX_ELEMENTS), so that both refuse the same arrays. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "redis_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const redisReply *a, const redisReply *b)
{
    size_t i;

    if (a->type != b->type)
        abort();
    switch (a->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        if (a->len != b->len || memcmp(a->str, b->str, a->len + 1) != 0)
            abort();
        break;
    case REDIS_REPLY_INTEGER:
        if (a->integer != b->integer)
            abort();
        break;
    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements)
            abort();
        for (i = 0; i < a->elements; i++)
            same(a->element[i], b->element[i]);
        break;
    default:
        break;
    }
}

static redisReplyObjectFunctions bounded; /* hiredis' own, with the bound */
static void *(*hiredis_create_array)(const redisReadTask *, int);

static void *bounded_create_array(const redisReadTask *task, int elements)
{
    if (elements > 0 && (size_t)elements > IFMON_REDIS_MAX_ELEMENTS)
        return NULL;
    return hiredis_create_array(task, elements);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *want, *got;
    size_t piece, off, k;

    if (size < 1)
        return 0;
    piece = (size_t)data[0] + 1;
    data++;
    size--;
    want = redisReaderCreate();
    got = redisReaderCreateWithFunctions(&ifmon_redis_reply_functions);
    if (want == NULL || got == NULL)
        abort();
    if (hiredis_create_array == NULL) {
        bounded = *want->fn;
        hiredis_create_array = bounded.createArray;
        bounded.createArray = bounded_create_array;
    }
    want->fn = &bounded;
    for (off = 0; off < size; off += k) {
        k = size - off < piece ? size - off : piece;
        int fw = redisReaderFeed(want, (const char *)data + off, k);
        int fg = redisReaderFeed(got, (const char *)data + off, k);

        if (fw != fg)
            abort();
        for (;;) {
            void *rw = NULL, *rg = NULL;
            int sw = redisReaderGetReply(want, &rw);
            int sg = redisReaderGetReply(got, &rg);

            if (sw != sg || (rw == NULL) != (rg == NULL))
                abort();
            if (sw != REDIS_OK) {
                if (strcmp(want->errstr, got->errstr) != 0)
                    abort();
                goto done;
            }
            if (rw == NULL)
                break;
            same(rw, rg);
            freeReplyObject(rw);
            ifmon_redis_reply_functions.freeObject(rg);
        }
    }
done:
    redisReaderFree(want);
    redisReaderFree(got);
    return 0;
}
