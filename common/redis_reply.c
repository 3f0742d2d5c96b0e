/* redis_reply.c -- see redis_reply.h. */

#include "redis_reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *attach_child(const redisReadTask *task, redisReply *r)
{
    if (task->parent) {
        redisReply *parent = task->parent->obj;

        parent->element[task->idx] = r;
    }
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r;

    if (len > SIZE_MAX - sizeof(*r) - 1 || (r = malloc(sizeof(*r) + len + 1)) == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->type = task->type;
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return attach_child(task, r);
}

static void *create_array(const redisReadTask *task, int elements)
{
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r;

    /* NULL: hiredis calls it out of memory, and the link reconnects. */
    if (n > IFMON_REDIS_MAX_ELEMENTS || (r = calloc(1, sizeof(*r) + n * sizeof(r))) == NULL)
        return NULL;
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = n ? (redisReply **)(r + 1) : NULL;
    return attach_child(task, r);
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->type = REDIS_REPLY_INTEGER;
    r->integer = value;
    return attach_child(task, r);
}

static void *create_nil(const redisReadTask *task)
{
    redisReply *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->type = REDIS_REPLY_NIL;
    return attach_child(task, r);
}

static void free_reply(void *reply)
{
    redisReply *r = reply;
    size_t i;

    if (r == NULL)
        return;
    if (r->type == REDIS_REPLY_ARRAY)
        for (i = 0; i < r->elements; i++)
            free_reply(r->element[i]);
    free(r);
}

redisReplyObjectFunctions ifmon_redis_reply_functions = {create_string, create_array,
                                                         create_integer, create_nil, free_reply};
