/* device.c -- see device.h: the operations on a device that every part
 * of the collector needs. */

#include "device.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

void device_error(struct device *dev, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dev->error, sizeof(dev->error), fmt, ap);
    va_end(ap);
}

void device_free_chunks(struct device *dev)
{
    size_t i;

    for (i = 0; i < dev->nchunks; i++)
        ber_get_free(&dev->chunks[i].get);
    free(dev->chunks);
    dev->chunks = NULL;
    dev->nchunks = 0;
}

void device_plan_chunks(struct device *dev)
{
    size_t per, i;

    /* One interface per GET at least, even when max_varbinds says fewer
     * varbinds than an interface needs. */
    IFMON_ASSERT(dev->nifaces == 0 || dev->layout.vars > 0);
    per = dev->layout.vars ? (size_t)(dev->max_varbinds - 1) / (size_t)dev->layout.vars : 1;
    if (per == 0)
        per = 1;
    device_free_chunks(dev);
    dev->nchunks = dev->nifaces ? (dev->nifaces + per - 1) / per : 0;
    dev->chunks = ifmon_xcalloc(dev->nchunks, sizeof(*dev->chunks));
    for (i = 0; i < dev->nchunks; i++) {
        dev->chunks[i].dev = dev;
        dev->chunks[i].first = i * per;
        dev->chunks[i].count = dev->nifaces - i * per < per ? dev->nifaces - i * per : per;
    }
}

void device_free_ifaces(struct iface *list, size_t n)
{
    size_t i;

    size_t k;

    for (i = 0; i < n; i++) {
        free(list[i].name);
        free(list[i].descr);
        free(list[i].alias);
        message_iface_free(&list[i].msg);
        for (k = 0; k < sizeof(list[i].alert_text) / sizeof(list[i].alert_text[0]); k++)
            free(list[i].alert_text[k]);
    }
    free(list);
}
