/* redis_reply.h -- hiredis reply objects in one allocation each.
 *
 * hiredis' default reply objects take two allocations for a string (the
 * object, then its bytes) and two for an array (the object, then its
 * element pointers): a Pub/Sub message, an array of three strings, took
 * eight mallocs and eight frees, and the gateway receives one message per
 * sample. These functions take one per object, the bytes or the element
 * pointers in the same block. What they build is a redisReply as hiredis
 * builds it (hiredis reads a Pub/Sub message's elements itself, and so
 * does every callback), with one difference: str and element may not be
 * freed or replaced on their own. hiredis frees replies only through the
 * reader's freeObject, so a context whose reader uses these never mixes
 * the two kinds. redis_uv.c installs them on every async context;
 * tests/fuzz/fuzz_resp.c checks them against hiredis' own.
 *
 * An array of more than IFMON_REDIS_MAX_ELEMENTS elements is refused
 * before anything is allocated for it (hiredis 0.14 would allocate what
 * the count says, 6 GB for "*777777796"): the reader fails with "Out of
 * memory" and the connection is dropped and made again. The largest
 * replies ifmon asks for are far smaller (a history range is at most
 * 20,000 samples, the inventory hash two entries per device). */

#ifndef IFMON_REDIS_REPLY_H
#define IFMON_REDIS_REPLY_H

#include <hiredis/hiredis.h>

#define IFMON_REDIS_MAX_ELEMENTS (4u * 1024 * 1024)

extern redisReplyObjectFunctions ifmon_redis_reply_functions;

#endif
