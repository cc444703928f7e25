/*
 * run_place: a tick's runs placed after their spawns (run.h,
 * runner_place_all). Accepted with their journal line only, they get
 * their folder — the recycled one, or a new one — their first log line,
 * their record and their log's file here, once the tick's spawns are
 * answered (docs/DECISIONS.md, "Schedule fire latency: a tick's runs are one batch").
 */
#define _GNU_SOURCE
#include "run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "log.h"

int run_make_folder(int jfd, const char *id, char old[RUN_ID_LEN + 1], const char *line,
		    size_t len, int *log_fd, char *err, size_t errsz)
{
	int dfd = old[0] ? run_recycle(jfd, old, line, len, log_fd) : -1, rc;

	if (dfd < 0 && old[0]) {
		files_remove_tree(jfd, old);
		old[0] = '\0';
	}
	if (dfd < 0 && (mkdirat(jfd, id, 0755) < 0 ||
			(dfd = openat(jfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)) {
		rc = -errno;
		snprintf(err, errsz, "cannot create the run folder: %s", strerror(errno));
		return rc;
	}
	if (*log_fd < 0 && len) {
		*log_fd = openat(dfd, "output_log.txt",
				 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (*log_fd >= 0 && files_write_all(*log_fd, line, len) < 0) {
			close(*log_fd);
			*log_fd = -1;
		}
	}
	return dfd;
}

static int place(struct run *r, int durable)
{
	char err[256];
	int log_fd = -1, dfd, rc;

	if (!r->pending)
		return 1;
	r->pending = 0;
	r->rn->npending--;
	dfd = run_make_folder(r->jfd, r->id, r->old, r->first_line, r->first_len, &log_fd, err,
			      sizeof(err));
	rc = dfd < 0 ? dfd
		     : run_record_placed(r->rn, r->l.name, r->jfd, r->old, dfd, &r->rec, durable);
	if (dfd < 0)
		log_error("run %s of %s: %s", r->id, r->l.name, err);
	else if (rc < 0)
		log_error("run %s of %s: cannot write its status: %s", r->id, r->l.name,
			  strerror(-rc));
	r->dfd = dfd;
	if (r->log) {
		joblog_place(r->log, dfd, log_fd);
		r->has_err |= joblog_has_err(r->log);
	} else {
		if (r->log_fd >= 0)
			close(r->log_fd);
		r->log_fd = log_fd;
	}
	if (rc == 0)
		run_note(r, 1);
	close(r->jfd);
	r->jfd = -1;
	return rc;
}

void run_place(struct run *r)
{
	place(r, 0);
}

int run_place_durable(struct run *r)
{
	return place(r, 1);
}

void run_unplace(struct run *r)
{
	if (!r->pending)
		return;
	r->pending = 0;
	r->rn->npending--;
	close(r->jfd);
	r->jfd = -1;
}

void runner_place_all(struct runner *rn)
{
	for (struct run *r = rn->runs; r && rn->npending; r = r->next)
		run_place(r);
	if (!rn->shutting)
		uv_timer_stop(&rn->place);
}

int runner_pending(const struct runner *rn)
{
	return rn->npending > 0;
}

void runner_on_place(uv_timer_t *t)
{
	runner_place_all(t->data);
}
