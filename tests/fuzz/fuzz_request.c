/* fuzz_request.c -- libFuzzer target: the gateway's client messages (JSON
 * ops, channel names and patterns) must never crash or leak, and a refused
 * request always carries an error text. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct request req;
    char err[REQUEST_ERROR_MAX];
    size_t i;

    memset(&req, 0, sizeof(req));
    err[0] = '\0';
    if (request_parse((const char *)data, size, "ifmon", &req, err, sizeof(err)) < 0) {
        if (err[0] == '\0')
            abort();
        request_free(&req); /* the contract: also after a refusal */
        return 0;
    }
    for (i = 0; i < req.nchannels; i++) {
        char *key;

        if (channel_check(req.channels[i], "ifmon", err, sizeof(err)) < 0)
            abort(); /* parse accepted what check refuses */
        key = channel_history_key(req.channels[i], "ifmon");
        free(key);
        if (channel_is_pattern(req.channels[i]))
            free(pattern_to_redis(req.channels[i]));
    }
    request_free(&req);
    return 0;
}
