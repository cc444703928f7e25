/*
 * follow: a log file followed into a streamed HTTP response.
 *
 * The reader reads what the file has past the follower's offset. With
 * nothing new it asks the HTTP layer to let the connection sleep; a
 * uv_fs_event on the log's folder (inotify) wakes it when the folder
 * changes — a write, a new status, a roll-over. A triggered run ends the
 * stream once its status is final and the log is read to its end; a
 * continuous job's stream ends only when the client goes.
 */
#define _GNU_SOURCE
#include "follow.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runrec.h"

struct follower {
	struct http_request *req;
	uv_fs_event_t ev;
	int dfd;          /* the log's folder (the run's, or the job's data folder) */
	int jfd;          /* a run's job data folder, for its status */
	int fd;           /* the log file */
	char file[32];    /* its name */
	char id[RUN_ID_LEN + 1]; /* the run, or "" for a continuous job */
	uint64_t off;
	ino_t ino;
	int waiting, sse, closed, gone;
	char part[4096];  /* SSE: an unfinished line */
	size_t plen;
};

static void on_event(uv_fs_event_t *ev, const char *filename, int events, int status)
{
	struct follower *f = ev->data;

	(void)filename;
	(void)events;
	(void)status;
	if (f->waiting && !f->gone) {
		f->waiting = 0;
		http_stream_wake(f->req);
	}
}

/* 1 when the run's status is final. */
static int run_over(struct follower *f)
{
	struct runrec r;
	int over;

	if (runrec_load(f->jfd, f->id, &r) == 0) {
		over = !runrec_in_progress(&r);
		runrec_free(&r);
		return over;
	}
	return 0;
}

/* For a continuous job: when job_log.txt is a new file (rolled over) and
 * the old one is read to its end, continue with the new one. */
static int rolled_over(struct follower *f)
{
	struct stat st;
	int fd;

	if (f->id[0] || fstatat(f->dfd, f->file, &st, 0) < 0 || st.st_ino == f->ino)
		return 0;
	fd = openat(f->dfd, f->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	f->ino = st.st_ino;
	f->off = 0;
	return 1;
}

/* SSE: each complete line becomes "data: LINE\n\n". */
static long as_events(struct follower *f, const char *in, size_t n, char *out, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' || f->plen == sizeof(f->part)) {
			if (o + f->plen + 9 > max)
				break;
			memcpy(out + o, "data: ", 6);
			memcpy(out + o + 6, f->part, f->plen);
			o += 6 + f->plen;
			out[o++] = '\n';
			out[o++] = '\n';
			f->plen = 0;
			if (in[i] == '\n')
				continue;
		}
		f->part[f->plen++] = in[i];
	}
	return (long)o;
}

static long reader(void *arg, uint64_t pos, char *buf, size_t max)
{
	struct follower *f = arg;
	char tmp[16384];

	(void)pos;
	for (;;) {
		size_t want = f->sse ? (max / 2 < sizeof(tmp) ? max / 2 : sizeof(tmp)) : max;
		ssize_t n = f->fd >= 0 ? pread(f->fd, f->sse ? tmp : buf, want, (off_t)f->off) : 0;

		if (n > 0) {
			f->off += (uint64_t)n;
			if (!f->sse)
				return n;
			n = as_events(f, tmp, (size_t)n, buf, max);
			if (n > 0)
				return n;
			continue;
		}
		if (n < 0)
			return -2;
		if (f->id[0] && run_over(f)) {
			/* Read once more: the last lines may have come with it. */
			n = f->fd >= 0 ? pread(f->fd, buf, 1, (off_t)f->off) : 0;
			if (n <= 0)
				return -1;
			continue;
		}
		if (f->fd < 0 && f->id[0]) {
			f->fd = openat(f->dfd, f->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (f->fd >= 0)
				continue;
		}
		if (rolled_over(f))
			continue;
		/* Nothing yet: sleep until the folder changes. The wake-up can
		 * come before the next read, so check once more after. */
		f->waiting = 1;
		http_stream_wait(f->req);
		return 0;
	}
}

static void on_closed(uv_handle_t *h)
{
	struct follower *f = h->data;

	if (f->fd >= 0)
		close(f->fd);
	if (f->dfd >= 0)
		close(f->dfd);
	if (f->jfd >= 0)
		close(f->jfd);
	free(f);
}

static void on_done(void *arg)
{
	struct follower *f = arg;

	f->gone = 1;
	uv_close((uv_handle_t *)&f->ev, on_closed);
}

static void start(struct http_request *req, uv_loop_t *loop, struct follower *f, const char *dir)
{
	const char *accept = http_header(req, "Accept");

	f->req = req;
	f->sse = accept && strstr(accept, "text/event-stream") != NULL;
	uv_fs_event_init(loop, &f->ev);
	f->ev.data = f;
	if (uv_fs_event_start(&f->ev, on_event, dir, 0) < 0) {
		uv_close((uv_handle_t *)&f->ev, on_closed);
		http_reply_error(req, 500, "Cannot watch the log.");
		return;
	}
	http_add_header(req, "Cache-Control", "no-cache");
	http_add_header(req, "X-Accel-Buffering", "no");
	http_reply_stream(req, 200, f->sse ? "text/event-stream" : "text/plain; charset=utf-8",
			  reader, f, on_done);
}

static struct follower *make(const struct home *h, enum job_type t, const char *name,
			     const char *sub, char *dir, size_t dirsz)
{
	struct follower *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->fd = -1;
	f->jfd = -1;
	snprintf(dir, dirsz, "%s/%s/%s%s%s", h->root, h->data_rel[t], name, sub ? "/" : "",
		 sub ? sub : "");
	f->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dfd < 0) {
		free(f);
		return NULL;
	}
	return f;
}

void follow_run(struct http_request *req, uv_loop_t *loop, const struct home *h,
		const char *name, const char *id, uint64_t offset)
{
	char dir[PATH_MAX];
	struct follower *f = make(h, JOB_TRIGGERED, name, id, dir, sizeof(dir));

	if (!f) {
		http_reply_error(req, 404, "No run '%s' of job '%s' was found.", id, name);
		return;
	}
	snprintf(f->id, sizeof(f->id), "%s", id);
	snprintf(f->file, sizeof(f->file), "output_log.txt");
	f->jfd = openat(h->data_fd[JOB_TRIGGERED], name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->fd = openat(f->dfd, f->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	f->off = offset;
	start(req, loop, f, dir);
}

void follow_job(struct http_request *req, uv_loop_t *loop, const struct home *h,
		const char *name, long tail)
{
	char dir[PATH_MAX];
	struct follower *f;
	struct stat st;

	home_mkdirs(h->data_fd[JOB_CONTINUOUS], name);
	f = make(h, JOB_CONTINUOUS, name, NULL, dir, sizeof(dir));
	if (!f) {
		http_reply_error(req, 404, "No continuous job named '%s' was found.", name);
		return;
	}
	snprintf(f->file, sizeof(f->file), "job_log.txt");
	f->fd = openat(f->dfd, f->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f->fd >= 0 && fstat(f->fd, &st) == 0) {
		/* Back from the end to the start of the last `tail` lines. */
		char buf[65536];
		off_t end = st.st_size, p = end;
		long lines = -1;

		f->ino = st.st_ino;
		while (p > 0 && lines < tail) {
			size_t n = (size_t)(p < (off_t)sizeof(buf) ? p : (off_t)sizeof(buf));
			ssize_t got = pread(f->fd, buf, n, p - (off_t)n);

			if (got <= 0)
				break;
			for (ssize_t i = got - 1; i >= 0; i--)
				if (buf[i] == '\n' && ++lines == tail) {
					p = p - (off_t)n + i + 1;
					goto found;
				}
			p -= (off_t)n;
		}
		p = 0;
found:
		f->off = (uint64_t)p;
	}
	start(req, loop, f, dir);
}
