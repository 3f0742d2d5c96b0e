/* fuzz_request.c -- libFuzzer target: the gateway's client messages (JSON
 * ops, channel names and patterns; gateway/client_request.c and
 * gateway/channel.c) must never crash or leak, a refused request always
 * carries an error text, and every channel accepted has its Redis forms
 * (history key, Redis pattern) within the key limits of common/keys.h. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/channel.h"
#include "../../gateway/client_request.h"
#include "keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct client_request req;
    char err[CLIENT_REQUEST_ERROR_MAX];
    size_t i;

    memset(&req, 0, sizeof(req));
    err[0] = '\0';
    if (client_request_parse((const char *)data, size, "ifmon", &req, err, sizeof(err)) < 0) {
        if (err[0] == '\0')
            abort();
        client_request_free(&req); /* the contract: also after a refusal */
        return 0;
    }
    for (i = 0; i < req.nchannels; i++) {
        struct ifmon_key key;

        if (channel_check(req.channels[i], "ifmon", err, sizeof(err)) < 0)
            abort(); /* parse accepted what check refuses */
        if (strlen(req.channels[i]) > IFMON_CHANNEL_MAX)
            abort();
        if (channel_is_pattern(req.channels[i])) {
            free(channel_pattern_to_redis(req.channels[i]));
        } else if (ifmon_channel_kind(req.channels[i], "ifmon") == IFMON_CHANNEL_INTERFACE &&
                   ifmon_key_history_of(&key, "ifmon", req.channels[i]) < 0) {
            abort(); /* an accepted interface channel always has its history key */
        }
    }
    client_request_free(&req);
    return 0;
}
