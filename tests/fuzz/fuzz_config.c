/* fuzz_config.c -- libFuzzer target: the inventory loader (YAML,
 * durations, addresses, ${VAR} expansion) must never crash or leak on any
 * input, and must either load or report at least one problem. */

#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_errors errs = {0};
    struct config *cfg;

    setenv("IFMON_FUZZ_SET", "value", 1);
    cfg = config_load_buffer("fuzz.yml", (const char *)data, size, &errs);
    if (cfg == NULL && errs.count == 0)
        abort(); /* refused without saying why */
    config_free(cfg);
    config_errors_free(&errs);
    return 0;
}
