/*
 * run_queue: the concurrency policy of a triggered job (docs/API.md, "Run
 * control"). Under queue, a start while a run holds the lock is a run of
 * its own with the status Queued, written durably like any accepted run;
 * under replace, the run in progress (and any queued one) is aborted
 * first. Queued runs start one at a time, oldest first, as the lock comes
 * free: when a run of this instance ends, and every second for every job
 * whose newest run is Queued — so a run queued by an instance that died
 * still starts.
 */
#define _GNU_SOURCE
#include "run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "joblog.h"
#include "log.h"
#include "settings.h"

#define QUEUE_MAX_DEFAULT 10

enum policy run_policy(const struct job *j)
{
	const char *c = settings_string(job_settings(j), "concurrency");

	if (c && strcmp(c, "queue") == 0)
		return POLICY_QUEUE;
	if (c && strcmp(c, "replace") == 0)
		return POLICY_REPLACE;
	if (c && strcmp(c, "allow") == 0)
		return POLICY_ALLOW;
	return POLICY_FORBID;
}

int run_max_concurrent(const struct job *j)
{
	long long n = settings_int(job_settings(j), "max_concurrent", MAX_CONCURRENT_DEFAULT);

	return n < 1 ? 1 : n > MAX_CONCURRENT_LIMIT ? MAX_CONCURRENT_LIMIT : (int)n;
}

/* 2 Queued, 1 aborted while queued, 0 otherwise (an unreadable record
 * counts as a run that took the lock: nothing may start past it). */
static int is_queued(int jfd, const char *id)
{
	int w = runrec_wait_state(jfd, id);

	return w < 0 ? 0 : w;
}

/* The index in ids (n runs, in id order) of the job's active run — the
 * newest that is not waiting — or -1, by binary search: runs that took the
 * lock (0) come before Queued ones (2), since queued runs start oldest
 * first and a start while runs are queued joins the queue; runs aborted
 * while queued (1) may sit anywhere and are stepped over. A few record
 * reads however long the queue. */
static int find_active(int jfd, char **ids, int n)
{
	int lo = 0, hi = n - 1, best = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, k = mid, q = 1;

		while (k <= hi && (q = is_queued(jfd, ids[k])) == 1)
			k++;
		if (q == 0) {
			best = k;
			lo = k + 1;
		} else {
			hi = mid - 1; /* a Queued run at k, or only 1s from mid */
		}
	}
	return best;
}

void run_active(int jfd, char active[RUN_ID_LEN + 1], int *queued, int limit)
{
	char **ids;
	int n = files_list(jfd, time_is_run_id, SIZE_MAX, &ids), b;

	active[0] = '\0';
	*queued = 0;
	b = n > 0 ? find_active(jfd, ids, n) : -1;
	if (b >= 0)
		memcpy(active, ids[b], RUN_ID_LEN + 1);
	/* Newest first: the count stops at limit. */
	for (int i = n - 1; i > b && *queued < limit; i--)
		*queued += is_queued(jfd, ids[i]) == 2;
	files_free_names(ids, n < 0 ? 0 : n);
}

int run_waiting_bound(int jfd)
{
	char **ids;
	int n = files_list(jfd, time_is_run_id, SIZE_MAX, &ids);
	int b = n > 0 ? find_active(jfd, ids, n) : -1;

	files_free_names(ids, n < 0 ? 0 : n);
	return n > 0 ? n - 1 - b : 0;
}

/* Rewrites a queued run as Aborted (it never started) with its lines. */
static void end_queued(struct runner *rn, int jfd, const char *name, const char *id,
		       const char *user)
{
	struct runrec rec;
	int dfd = openat(jfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct joblog *lg;

	if (dfd < 0)
		return;
	if (runrec_load(jfd, id, &rec) == 0 && strcmp(rec.status, "Queued") == 0) {
		files_write_atomic(dfd, "abort", user, strlen(user), 0644, 1);
		snprintf(rec.status, sizeof(rec.status), "Aborted");
		rec.end = time_now_ticks();
		rec.never_started = 1;
		run_record(rn, name, dfd, &rec, 1 | RECORD_FOREIGN);
		lg = joblog_open(dfd, "output_log.txt", NULL, rn->c.instance);
		joblog_sys(lg, 1, "Run aborted by %s", user);
		joblog_sys(lg, 0, "Status changed to Aborted");
		joblog_close(lg);
		run_tell_hook(rn, name, "failure", &rec, dfd);
	}
	runrec_free(&rec);
	close(dfd);
}

int run_abort_queued(struct runner *rn, int jfd, const char *name, const char *id,
		     const char *user, char out[RUN_ID_LEN + 1])
{
	char **ids;
	int n = files_list(jfd, time_is_run_id, SIZE_MAX, &ids), found = 0;

	for (int i = n - 1; i >= 0; i--) {
		int q = is_queued(jfd, ids[i]);

		if (!q)
			break;
		if (q != 2 || (id && strcmp(id, ids[i]) != 0))
			continue;
		end_queued(rn, jfd, name, ids[i], user);
		if (!found++)
			memcpy(out, ids[i], RUN_ID_LEN + 1);
	}
	files_free_names(ids, n < 0 ? 0 : n);
	return found ? 0 : -ESRCH;
}

/* Writes the Queued record of a new run in the job's data folder. */
static int write_queued(struct runner *rn, int jfd, const char *name, const char *trigger,
			const char *arguments, char id[RUN_ID_LEN + 1], int64_t start)
{
	struct runrec rec = { 0 };
	int dfd = -1, rc, made = 0;

	for (int tries = 0; tries < 20 && !made; tries++) {
		if (mkdirat(jfd, id, 0755) == 0) {
			made = 1;
			break;
		}
		if (errno != EEXIST)
			return -errno;
		/* Another instance queued at the same 100 us: the next one. */
		start += 1000;
		time_format_run_id(start, id);
	}
	if (!made)
		return -EEXIST; /* never another run's folder */
	if ((dfd = openat(jfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	memcpy(rec.id, id, RUN_ID_LEN + 1);
	snprintf(rec.status, sizeof(rec.status), "Queued");
	rec.start = start;
	rec.trigger = (char *)trigger;
	rec.instance = (char *)rn->c.instance;
	rec.arguments = arguments && *arguments ? (char *)arguments : NULL;
	rc = run_record(rn, name, dfd, &rec, 1);
	close(dfd);
	return rc;
}

int run_queue(struct runner *rn, struct job *j, const char *trigger, const char *arguments,
	      int64_t occurrence, char id[RUN_ID_LEN + 1], char *err, size_t errsz)
{
	const struct home *h = rn->c.home;
	enum policy p = run_policy(j);
	long long max = settings_int(job_settings(j), "queue_max", QUEUE_MAX_DEFAULT);
	char newest[RUN_ID_LEN + 1], active[RUN_ID_LEN + 1], replaced[RUN_ID_LEN + 1], user[64];
	char (*ids)[RUN_ID_LEN + 1];
	int jfd, queued, rc;
	int64_t start;

	if ((jfd = home_open_job_data(h, JOB_TRIGGERED, job_name(j))) < 0) {
		snprintf(err, errsz, "cannot open the job's data folder: %s", strerror(-jfd));
		return jfd;
	}
	if ((rc = run_ids(rn, job_name(j), jfd, &ids)) >= 0) {
		rc = run_trim_history(jfd, ids, rc, LLONG_MAX, newest, 0, NULL, occurrence);
		free(ids);
	}
	if (rc < 0) {
		close(jfd);
		if (rc == -EALREADY)
			snprintf(err, errsz, "this tick was already run");
		else
			snprintf(err, errsz, "cannot list the job's runs: %s", strerror(-rc));
		return rc;
	}
	if (max <= 0)
		max = QUEUE_MAX_DEFAULT;
	/* The runs after the active one bound the queue's length: counted
	 * only when the bound reaches queue_max. */
	queued = p == POLICY_QUEUE ? run_waiting_bound(jfd) : 0;
	if (queued >= max)
		run_active(jfd, active, &queued, (int)(max < INT_MAX ? max : INT_MAX));
	if (p == POLICY_QUEUE && queued >= max) {
		close(jfd);
		snprintf(err, errsz, "The run queue is full.");
		return -EXFULL;
	}
	run_new_id(rn, newest, id, &start);
	if (p == POLICY_REPLACE) {
		/* The queued runs go, the one in progress is asked to stop;
		 * this one starts when it has ended. */
		snprintf(user, sizeof(user), "replacement run %s", id);
		runner_abort(rn, job_name(j), NULL, user, replaced);
	}
	if ((rc = write_queued(rn, jfd, job_name(j), trigger, arguments, id, start)) < 0) {
		close(jfd);
		snprintf(err, errsz, "cannot write the run's status: %s", strerror(-rc));
		return rc;
	}
	close(jfd);
	registry_touch_runs(rn->c.registry, JOB_TRIGGERED, job_name(j));
	return 0;
}

/* Starts queued run id (its record loaded in rec) under the lock held by
 * lock_fd and jfd. Returns 0 when it went live (the lock is its). */
static int start_queued(struct runner *rn, struct job *j, int jfd, int lock_fd,
			struct runrec *rec)
{
	int dfd = openat(jfd, rec->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct run *r;

	if (dfd < 0)
		return -errno;
	r = run_new(rn, j, rec->trigger, rec->arguments, rec->id, time_now_ticks(), 0);
	if (!r) {
		close(dfd);
		return -ENOMEM;
	}
	r->dfd = dfd;
	if (run_write_record(r, 1) < 0) {
		run_free(r);
		close(dfd);
		return -EIO;
	}
	run_go_live(rn, r, j, lock_fd);
	return 0;
}

void run_pump(struct runner *rn, const char *name)
{
	struct job *j = registry_find(rn->c.registry, JOB_TRIGGERED, name);
	char err[256], **ids;
	int jfd = -1, lock_fd = -1, n, started = 0;

	if (!j || rn->shutting || hostcfg_get(rn->c.cfg)->stopped)
		return;
	if (run_take_lock(rn, name, 0, &jfd, &lock_fd, &n, err, sizeof(err)) < 0) {
		if (lock_fd >= 0)
			close(lock_fd);
		if (jfd >= 0)
			close(jfd);
		return;
	}
	n = files_list(jfd, time_is_run_id, SIZE_MAX, &ids);
	/* The oldest queued run comes right after the active one. */
	for (int i = n > 0 ? find_active(jfd, ids, n) + 1 : 0; i < n && !started; i++) {
		struct runrec rec;
		int dfd;
		char *user;

		if (runrec_load(jfd, ids[i], &rec) < 0)
			continue;
		if (strcmp(rec.status, "Queued") == 0) {
			dfd = openat(jfd, ids[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			user = dfd >= 0 ? run_marker_user(dfd) : NULL;
			if (dfd >= 0)
				close(dfd);
			if (user) /* aborted while queued: it never starts */
				end_queued(rn, jfd, name, ids[i], user);
			else
				started = start_queued(rn, j, jfd, lock_fd, &rec) == 0;
			free(user);
		}
		runrec_free(&rec);
	}
	files_free_names(ids, n < 0 ? 0 : n);
	if (!started)
		close(lock_fd);
	close(jfd);
}

void run_pump_all(struct runner *rn)
{
	struct job **jobs;
	size_t n = registry_list(rn->c.registry, JOB_TRIGGERED, &jobs);
	char **names = NULL;
	size_t k = 0;

	/* Names first: a started run touches the registry. */
	for (size_t i = 0; i < n; i++) {
		const char *st = job_latest_status(jobs[i]);

		if (st && strcmp(st, "Queued") == 0) {
			char **v = realloc(names, (k + 1) * sizeof(*names));

			if (!v)
				break;
			names = v;
			names[k++] = strdup(job_name(jobs[i]));
		}
	}
	for (size_t i = 0; i < k; i++) {
		if (names[i])
			run_pump(rn, names[i]);
		free(names[i]);
	}
	free(names);
}

char *runner_queue_text(struct runner *rn)
{
	struct job **jobs;
	size_t n = registry_list(rn->c.registry, JOB_TRIGGERED, &jobs), len = 0;
	char *text = NULL, active[RUN_ID_LEN + 1];
	FILE *f = open_memstream(&text, &len);

	for (size_t i = 0; f && i < n; i++) {
		const char *st = job_latest_status(jobs[i]);
		int queued = 0, jfd;

		if (run_policy(jobs[i]) != POLICY_QUEUE && !(st && strcmp(st, "Queued") == 0))
			continue;
		/* Queued runs are the newest: none when the newest is not. */
		if (st && strcmp(st, "Queued") == 0 &&
		    (jfd = openat(rn->c.home->data_fd[JOB_TRIGGERED], job_name(jobs[i]),
				  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			run_active(jfd, active, &queued, INT_MAX);
			close(jfd);
		}
		fprintf(f, "%s\t%d\n", job_name(jobs[i]), queued);
	}
	if (f)
		fclose(f);
	return text;
}
