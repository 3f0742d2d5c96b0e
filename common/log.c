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

/* Copy the message to out (room for cap bytes, cap > 4) with every
 * control character escaped (\n, \r, \t, \xNN), so that text an agent or
 * a client supplied (an interface name, a channel) can neither end the
 * line nor forge another one in the journal. Returns the length written;
 * a message that does not fit is cut at an escape's boundary. */
static size_t escape_controls(char *out, size_t cap, const char *msg)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (; *msg; msg++) {
        unsigned char c = (unsigned char)*msg;
        char esc[4];
        size_t n = 1;

        esc[0] = (char)c;
        if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 0xf];
            n = 4;
        }
        if (o + n > cap)
            break;
        memcpy(out + o, esc, n);
        o += n;
    }
    return o;
}

void ifmon_log_msg(int level, const char *fmt, ...)
{
    char line[2048], msg[2048];
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
    len = n > 0 && (size_t)n < sizeof(line) / 2 ? (size_t)n : 0;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = '\0';
    len += escape_controls(line + len, sizeof(line) - len - 1, msg);
    line[len++] = '\n';
    if (write(STDERR_FILENO, line, len) < 0) {
        /* Nowhere left to report a failing stderr. */
    }
}
