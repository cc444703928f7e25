/*
 * log: the host's own diagnostic log, on standard error (or --log-file).
 * Arguments are not evaluated below the active level. Text that a job
 * controls (what its processes say of themselves) goes through log_escape
 * first; job names are checked when a job is made (no control bytes) and
 * are logged as they are.
 */
#ifndef WEBJOBS_LOG_H
#define WEBJOBS_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level;

void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                                                       \
	do {                                                                   \
		if ((lvl) <= log_level)                                        \
			log_write((lvl), __VA_ARGS__);                         \
	} while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

/* Opens path for appending as the log (NULL: standard error). Called
 * again on SIGHUP. Returns 0 or a negative errno. */
int log_open(const char *path);

/* Copies s into buf with control bytes and non-ASCII escaped as \xHH,
 * cut to fit. Returns buf. */
const char *log_escape(const char *s, char *buf, size_t size);

#endif
