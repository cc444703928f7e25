/*
 * joblog: assembling log lines and writing them. One read of output may
 * hold many lines: they are formatted into one buffer per file and written
 * with one write(2), so capture costs a few syscalls per 64 KiB, not one per
 * line.
 */
#define _GNU_SOURCE
#include "joblog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "timefmt.h"

struct stream {
	char *part;   /* an unfinished line */
	size_t plen;
	int after_cr; /* the last byte seen was \r: a leading \n is eaten */
	int cut;      /* pieces of the current line were already written */
};

struct joblog {
	int dfd;
	int own_dfd; /* 0: borrowed, the caller closes it after the log */
	int fd[2]; /* main, err (-1 until needed) */
	char *err_name;
	char inst6[7];
	/* The "[MM/dd/yyyy HH:mm:ss > inst: " prefix of the current second,
	 * formatted once a second rather than once a line. */
	int64_t prefix_sec;
	int64_t at;       /* joblog_set_time's, or 0: now */
	char prefix[48];
	size_t prefix_len;
	struct stream s[2];
	char *main_name;
	char *prev_name;  /* roll-over target, or NULL */
	int64_t max_size;
	int64_t size;     /* of the main file, as far as we know */
	char *buf[2];
	size_t blen[2], bcap[2];
	int error;
	uint64_t lost[2];  /* bytes that could not be written (disk full) */
	int pending;       /* no folder yet: lines wait in buf (joblog_place) */
};

size_t joblog_format(char *buf, size_t size, int64_t ticks, const char *inst6,
		     const char *level, const char *text, size_t len)
{
	char t[20];
	int n;

	time_format_log(ticks, t);
	n = snprintf(buf, size, "[%s > %s: %s] ", t, inst6, level);
	if (n < 0 || (size_t)n >= size)
		return 0;
	if ((size_t)n + len + 1 > size)
		len = size - (size_t)n - 1;
	memcpy(buf + n, text, len);
	buf[(size_t)n + len] = '\n';
	return (size_t)n + len + 1;
}

size_t joblog_sys_line(char *buf, size_t size, const char *inst, const char *text)
{
	char inst6[7];

	snprintf(inst6, sizeof(inst6), "%s", inst); /* as joblog_adopt */
	return joblog_format(buf, size, time_now_ticks(), inst6, "SYS INFO", text, strlen(text));
}

struct joblog *joblog_open(int dfd, const char *main_name,
			   const char *err_name, const char *inst)
{
	return joblog_adopt(dup(dfd), main_name, err_name, inst);
}

/* A log on folder dfd (closed with it when own), its main file main_fd
 * (opened here when -1). Both are closed at once when it cannot be made. */
static struct joblog *make(int dfd, int own, int main_fd, const char *main_name,
			   const char *err_name, const char *inst)
{
	struct joblog *l = calloc(1, sizeof(*l));

	if (!l) {
		if (dfd >= 0 && own)
			close(dfd);
		if (main_fd >= 0)
			close(main_fd);
		return NULL;
	}
	snprintf(l->inst6, sizeof(l->inst6), "%s", inst);
	l->fd[1] = -1;
	l->dfd = dfd;
	l->own_dfd = own;
	l->fd[0] = main_fd >= 0 ? main_fd
		   : dfd < 0	 ? -1
				 : openat(dfd, main_name,
					  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	l->main_name = strdup(main_name);
	if (l->dfd < 0 || l->fd[0] < 0 || !l->main_name ||
	    (err_name && !(l->err_name = strdup(err_name)))) {
		joblog_close(l);
		return NULL;
	}
	return l;
}

struct joblog *joblog_adopt(int dfd, const char *main_name,
			    const char *err_name, const char *inst)
{
	return make(dfd, 1, -1, main_name, err_name, inst);
}

struct joblog *joblog_borrow(int dfd, int main_fd, const char *main_name,
			     const char *err_name, const char *inst)
{
	return make(dfd, 0, main_fd, main_name, err_name, inst);
}

struct joblog *joblog_pending(const char *main_name, const char *err_name, const char *inst)
{
	struct joblog *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	snprintf(l->inst6, sizeof(l->inst6), "%s", inst);
	l->dfd = l->fd[0] = l->fd[1] = -1;
	l->pending = 1;
	l->main_name = strdup(main_name);
	if (!l->main_name || (err_name && !(l->err_name = strdup(err_name)))) {
		joblog_close(l);
		return NULL;
	}
	return l;
}

static void flush(struct joblog *l);

void joblog_place(struct joblog *l, int dfd, int main_fd)
{
	if (!l->pending) {
		if (main_fd >= 0)
			close(main_fd);
		return;
	}
	l->pending = 0;
	l->dfd = dfd;
	l->fd[0] = main_fd >= 0 ? main_fd
		   : dfd < 0	 ? -1
				 : openat(dfd, l->main_name,
					  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	flush(l);
}

size_t joblog_waiting(const struct joblog *l)
{
	return l && l->pending ? l->blen[0] + l->blen[1] : 0;
}

void joblog_set_time(struct joblog *l, int64_t ticks)
{
	if (l)
		l->at = ticks;
}

void joblog_set_rollover(struct joblog *l, const char *prev_name, int64_t max)
{
	struct stat st;

	if (!l)
		return;
	free(l->prev_name);
	l->prev_name = prev_name && max > 0 ? strdup(prev_name) : NULL;
	l->max_size = max;
	l->size = fstat(l->fd[0], &st) == 0 ? st.st_size : 0;
}

/* Moves the main file to the previous-log name and starts a new one,
 * with no moment in which the main name is missing (a reader of the log —
 * /vfs, the API's log link, a dashboard following it — would find
 * nothing): the old file takes the previous name through a second link
 * while the main name still holds it, and the new file, made under a
 * temporary name, takes the main name by a rename. Where no link can be
 * made, the main file is renamed (a moment without it, as before). */
static void roll_over(struct joblog *l)
{
	char fresh[64], old[64];
	int fd;

	files_temp_name(".tmp-", fresh, sizeof(fresh));
	fd = openat(l->dfd, fresh, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
		    0644);
	if (fd < 0)
		return;
	files_temp_name(".tmp-", old, sizeof(old));
	if (linkat(l->dfd, l->main_name, l->dfd, old, 0) == 0) {
		if (renameat(l->dfd, old, l->dfd, l->prev_name) < 0) {
			unlinkat(l->dfd, old, 0);
			goto fail;
		}
	} else if (renameat(l->dfd, l->main_name, l->dfd, l->prev_name) < 0) {
		goto fail;
	}
	if (renameat(l->dfd, fresh, l->dfd, l->main_name) < 0)
		goto fail; /* the old file goes on; tried again at the next write */
	close(l->fd[0]);
	l->fd[0] = fd;
	l->size = 0;
	return;
fail:
	unlinkat(l->dfd, fresh, 0);
	close(fd);
}

/* Writes out the assembled buffers. */
static void flush(struct joblog *l)
{
	if (l->pending)
		return;
	for (int k = 0; k < 2; k++) {
		int rc;

		if (!l->blen[k])
			continue;
		if (k == 1 && l->fd[1] < 0 && l->err_name)
			l->fd[1] = openat(l->dfd, l->err_name,
					  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
					  0644);
		if (l->lost[k] && l->fd[k] >= 0) {
			/* Space came back: say once what was lost, then go on. */
			char note[160];
			char line[256];
			size_t n;
			int w;

			w = snprintf(note, sizeof(note), "%llu bytes of log could not be written (%s)",
				     (unsigned long long)l->lost[k], strerror(-l->error));
			n = joblog_format(line, sizeof(line), time_now_ticks(), l->inst6, "SYS ERR ",
					  note, (size_t)(w > 0 ? w : 0));
			if (files_write_all(l->fd[k], line, n) == 0)
				l->lost[k] = 0;
		}
		rc = l->fd[k] >= 0 ? files_write_all(l->fd[k], l->buf[k], l->blen[k]) : -errno;
		if (rc < 0) {
			if (!l->error)
				l->error = rc;
			l->lost[k] += l->blen[k];
		}
		if (k == 0 && rc == 0) {
			l->size += (int64_t)l->blen[k];
			if (l->prev_name && l->size > l->max_size)
				roll_over(l);
		}
		l->blen[k] = 0;
	}
}

/* Appends one formatted line to buffer k. */
static void add_line(struct joblog *l, int k, const char *level,
		     const char *text, size_t len)
{
	size_t need = len + 64, llen = strlen(level);
	int64_t sec = (l->at ? l->at : time_now_ticks()) / TICKS_PER_SEC;
	char *p;

	if (l->blen[k] + need > l->bcap[k]) {
		size_t cap = l->bcap[k] ? l->bcap[k] : 65536;
		char *b;

		while (cap < l->blen[k] + need)
			cap *= 2;
		b = realloc(l->buf[k], cap);
		if (!b) {
			if (!l->error)
				l->error = -ENOMEM;
			return;
		}
		l->buf[k] = b;
		l->bcap[k] = cap;
	}
	if (sec != l->prefix_sec || !l->prefix_len) {
		char t[20];

		time_format_log(sec * TICKS_PER_SEC, t);
		l->prefix_len = (size_t)snprintf(l->prefix, sizeof(l->prefix), "[%s > %s: ",
						 t, l->inst6);
		l->prefix_sec = sec;
	}
	/* The same bytes as joblog_format, without a printf per line. */
	p = l->buf[k] + l->blen[k];
	memcpy(p, l->prefix, l->prefix_len);
	p += l->prefix_len;
	memcpy(p, level, llen);
	p += llen;
	*p++ = ']';
	*p++ = ' ';
	memcpy(p, text, len);
	p += len;
	*p++ = '\n';
	l->blen[k] = (size_t)(p - l->buf[k]);
}

/* One complete line of stream s. */
static void emit(struct joblog *l, enum joblog_stream s, const char *text,
		 size_t len)
{
	add_line(l, 0, s == JOBLOG_ERR ? "ERR " : "INFO", text, len);
	if (s == JOBLOG_ERR && l->err_name)
		add_line(l, 1, "ERR ", text, len);
}

static void sys_line(struct joblog *l, int is_error, int now, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static void sys_line(struct joblog *l, int is_error, int now, const char *fmt, va_list ap)
{
	char *text;
	int n;

	if (!l)
		return;
	/* Never cut here: a line over the line limit is cut into pieces
	 * like any other (add_line). */
	n = vasprintf(&text, fmt, ap);
	if (n < 0)
		return;
	add_line(l, 0, is_error ? "SYS ERR " : "SYS INFO", text, (size_t)n);
	if (now)
		flush(l);
	free(text);
}

void joblog_sys(struct joblog *l, int is_error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sys_line(l, is_error, 1, fmt, ap);
	va_end(ap);
}

void joblog_sys_held(struct joblog *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sys_line(l, 0, 0, fmt, ap);
	va_end(ap);
}

/* Adds bytes to the unfinished line, cutting it at the line limit. */
static void add_part(struct joblog *l, enum joblog_stream s, const char *p,
		     size_t len)
{
	struct stream *st = &l->s[s];

	while (len) {
		size_t room = JOBLOG_MAX_LINE - st->plen, take = len < room ? len : room;

		if (!st->part && !(st->part = malloc(JOBLOG_MAX_LINE))) {
			if (!l->error)
				l->error = -ENOMEM;
			return;
		}
		memcpy(st->part + st->plen, p, take);
		st->plen += take;
		p += take;
		len -= take;
		if (st->plen == JOBLOG_MAX_LINE) {
			emit(l, s, st->part, st->plen);
			st->plen = 0;
			st->cut = 1;
		}
	}
}

void joblog_output(struct joblog *l, enum joblog_stream s, const char *data,
		   size_t len)
{
	struct stream *st;
	const char *p = data, *end = data + len;

	if (!l)
		return;
	st = &l->s[s];
	if (len && st->after_cr && *p == '\n')
		p++;
	st->after_cr = 0;
	while (p < end) {
		const char *nl = p;

		while (nl < end && *nl != '\n' && *nl != '\r')
			nl++;
		if (nl == end) {
			add_part(l, s, p, (size_t)(end - p));
			break;
		}
		if (st->plen || st->cut) {
			add_part(l, s, p, (size_t)(nl - p));
			if (st->plen)
				emit(l, s, st->part, st->plen);
			st->plen = 0;
			st->cut = 0;
		} else {
			/* A whole line in the buffer: cut it if too long. */
			const char *q = p;

			while ((size_t)(nl - q) > JOBLOG_MAX_LINE) {
				emit(l, s, q, JOBLOG_MAX_LINE);
				q += JOBLOG_MAX_LINE;
			}
			emit(l, s, q, (size_t)(nl - q));
		}
		if (*nl == '\r') {
			if (nl + 1 < end && nl[1] == '\n')
				nl++;
			else if (nl + 1 == end)
				st->after_cr = 1;
		}
		p = nl + 1;
	}
	flush(l);
}

void joblog_end(struct joblog *l, enum joblog_stream s)
{
	struct stream *st;

	if (!l)
		return;
	st = &l->s[s];
	if (st->plen) {
		emit(l, s, st->part, st->plen);
		st->plen = 0;
		flush(l);
	}
	st->after_cr = 0;
	st->cut = 0;
}

int joblog_error(const struct joblog *l)
{
	return l ? l->error : 0;
}

int joblog_has_err(const struct joblog *l)
{
	return l && l->fd[1] >= 0;
}

void joblog_close(struct joblog *l)
{
	if (!l)
		return;
	flush(l); /* a held line */
	for (int k = 0; k < 2; k++) {
		if (l->fd[k] >= 0)
			close(l->fd[k]);
		free(l->s[k].part);
		free(l->buf[k]);
	}
	if (l->dfd >= 0 && l->own_dfd)
		close(l->dfd);
	free(l->err_name);
	free(l->main_name);
	free(l->prev_name);
	free(l);
}
