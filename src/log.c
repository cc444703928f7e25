/*
 * log: one line per message, "webjobs[pid]: LEVEL message", written with a
 * single write(2) so that lines from several instances never interleave.
 * A debug line carries the wall-clock time too ("debug: [seconds.ms]"):
 * debug lines come many a second, and are read against a client's record
 * of its requests.
 */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int log_level = LOG_INFO;
static int log_fd = STDERR_FILENO;
static char *log_path;

int log_open(const char *path)
{
	int fd;

	if (!path)
		path = log_path;
	if (!path)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	if (path != log_path) {
		char *copy = strdup(path);

		if (copy) {
			free(log_path);
			log_path = copy;
		}
	}
	return 0;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };
	char *text = NULL, *line = NULL, stamp[32] = "";
	int n;
	va_list ap;

	/* Never cut: one write of the whole line. */
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	if (level == LOG_DEBUG) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(stamp, sizeof(stamp), "[%lld.%03ld] ", (long long)ts.tv_sec,
			 ts.tv_nsec / 1000000);
	}
	n = asprintf(&line, "webjobs[%d]: %s: %s%s\n", (int)getpid(), names[level], stamp,
		     text ? text : "(out of memory)");
	if (n > 0)
		(void)!write(log_fd, line, (size_t)n);
	free(line);
	free(text);
}

const char *log_escape(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s && o + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}
