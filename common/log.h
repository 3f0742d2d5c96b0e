/* log.h -- logging to stderr for both daemons (and the configuration
 * loader's reports).
 *
 * Under systemd (JOURNAL_STREAM set) lines carry the "<N>" priority prefix of
 * sd-daemon(3), which journald turns into the entry's priority, and no
 * timestamp (journald adds its own). Elsewhere a line is
 * "2026-11-25T06:40:00.123Z ifmon-collector[123]: warning: message".
 *
 * A message is always one line: control characters in it (an agent's
 * interface name, a client's channel) are written as \n, \t, \xNN. */

#ifndef IFMON_LOG_H
#define IFMON_LOG_H

/* syslog(3) priorities; named apart because net-snmp includes <syslog.h>. */
enum log_level {
    LOG_LEVEL_ERR = 3,
    LOG_LEVEL_WARN = 4,
    LOG_LEVEL_INFO = 6,
    LOG_LEVEL_DEBUG = 7,
};

/* ident is kept by pointer (use a string literal). Messages above
 * max_level are discarded. */
void ifmon_log_init(const char *ident, int max_level);
void ifmon_log_set_level(int max_level);
int ifmon_log_enabled(int level);

void ifmon_log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The short forms every file uses (macros: nothing of these names is
 * linked, so they cannot meet net-snmp's log_handler_* and friends). */

#define log_err(...) ifmon_log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) ifmon_log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) ifmon_log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (ifmon_log_enabled(LOG_LEVEL_DEBUG))                                                    \
            ifmon_log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                                           \
    } while (0)

#endif
