/* log.c -- see log.h. One formatted write(2) per message so that lines from
 * a daemon never interleave mid-line with another writer of the same pipe. */

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "ifmon";
static int log_max_level = LOG_LEVEL_INFO;
static int log_journal = 0;

void ifmon_log_init(const char *ident, int max_level)
{
    log_ident = ident;
    log_max_level = max_level;
    log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void ifmon_log_set_level(int max_level)
{
    log_max_level = max_level;
}

int ifmon_log_enabled(int level)
{
    return level <= log_max_level;
}

static const char *level_name(int level)
{
    switch (level) {
    case LOG_LEVEL_ERR:
        return "error";
    case LOG_LEVEL_WARN:
        return "warning";
    case LOG_LEVEL_INFO:
        return "info";
    default:
        return "debug";
    }
}

void ifmon_log_msg(int level, const char *fmt, ...)
{
    char line[2048];
    size_t len = 0;
    va_list ap;
    int n;

    if (level > log_max_level)
        return;
    if (log_journal) {
        n = snprintf(line, sizeof(line), "<%d>", level);
    } else {
        struct timeval tv;
        struct tm tm;

        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d]: %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), log_ident, (int)getpid(), level_name(level));
    }
    len = n > 0 ? (size_t)n : 0;
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        len += (size_t)n < sizeof(line) - len - 1 ? (size_t)n : sizeof(line) - len - 2;
    line[len++] = '\n';
    if (write(STDERR_FILENO, line, len) < 0) {
        /* Nowhere left to report a failing stderr. */
    }
}
