/* fuzz_json.c -- libFuzzer target: common/json_check.c against jansson.
 * For any bytes, ifmon_json_check_object() says "one JSON object" exactly
 * when json_loadb(..., 0, ...) parses them into an object, and finds the
 * same "ts" as json_object_get(root, "ts") when that is a number (the same
 * double, bit for bit), with one exception: jansson skips a NUL byte
 * right after a number, which the check refuses. The gateway relies on the first to relay only
 * what jansson would have accepted, and on the second for history. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    double ts = -1;
    int got = ifmon_json_check_object((const char *)data, size, &ts);
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    int want = -1;
    double want_ts = -1;

    if (json_is_object(root)) {
        json_t *v = json_object_get(root, "ts");

        want = json_is_number(v);
        if (want)
            want_ts = json_number_value(v);
    }
    json_decref(root);
    /* jansson skips a NUL byte right after a number ({"a":1\0} loads);
     * the check refuses a NUL byte anywhere, as
     * a browser's JSON.parse would. */
    if (got == -1 && want != -1 && memchr(data, 0, size))
        return 0;
    if (got != want)
        abort();
    if (got == 1 && memcmp(&ts, &want_ts, sizeof(ts)) != 0)
        abort();
    return 0;
}
