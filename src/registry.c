/*
 * registry: the jobs in memory and the inotify watches that keep them
 * current.
 *
 * Watches: the two binaries type folders and the two data type folders
 * (which names appeared or went), and per job its folder and the lone
 * sub-folders down to its script folder, its data folder, and the folder of
 * its newest run (whose status and logs appear in the job's latest_run).
 * An event only marks a job dirty; dirty jobs are re-read before the next
 * read of the registry or 50 ms after the event, whichever is first. So a
 * burst of thousands of events (a zip unpacked over a job) costs one read.
 * One kind of event is applied at once: a triggered job's run folder that
 * came or went, by its name, so that a run's start and end cost a read of
 * the newest record and no listing of the job's runs.
 */
#define _GNU_SOURCE
#include "registry_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "evq.h"
#include "files.h"
#include "log.h"
#include "swap.h"

/* ---- the tables ---- */

static int cmp_name(const char *name, const struct entry *e)
{
	return strcmp(name, job_name(e->job));
}

/* Binary search; returns the index of name or where it would go. */
static size_t tfind(const struct table *t, const char *name, int *found)
{
	size_t lo = 0, hi = t->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_name(name, t->v[mid]);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void registry_enqueue(struct registry *r, struct entry *e, int bin, int data)
{
	e->recheck_at = 0; /* a change: read as soon as any */
	if (data && !e->data_dirty && r->loop)
		e->data_at = uv_now(r->loop);
	e->bin_dirty |= bin;
	if (data > e->data_dirty)
		e->data_dirty = data;
	if (!e->queued) {
		if (r->nqueue == r->capqueue) {
			size_t cap = r->capqueue ? r->capqueue * 2 : 64;
			struct entry **q = realloc(r->queue, cap * sizeof(*q));

			if (!q)
				return; /* stays dirty; found by the next full rescan */
			r->queue = q;
			r->capqueue = cap;
		}
		r->queue[r->nqueue++] = e;
		e->queued = 1;
	}
	/* Never pushed later (a storm of events would put its reads off);
	 * brought nearer for a change to be read at once (not a run's, which
	 * waits DATA_SETTLE_MS) when a kept job's or a run's wait armed it. */
	if (r->handles && (!uv_is_active((uv_handle_t *)&r->settle) ||
			   ((bin || e->type != JOB_TRIGGERED) &&
			    uv_timer_get_due_in(&r->settle) > SETTLE_MS)))
		uv_timer_start(&r->settle, registry_on_settle, SETTLE_MS, 0);
}

struct entry *registry_entry(struct registry *r, enum job_type type,
			       const char *name, int create)
{
	struct table *t = &r->t[type];
	int found;
	size_t i = tfind(t, name, &found);
	struct entry *e;

	if (found)
		return t->v[i];
	if (!create || !home_valid_job_name(name))
		return NULL;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct entry **v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->job = job_new(type, name))) {
		free(e);
		return NULL;
	}
	e->type = type;
	e->data_wd = e->run_wd = -1;
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof(*t->v));
	t->v[i] = e;
	t->n++;
	registry_enqueue(r, e, 1, DATA_ALL);
	return e;
}

static void entry_unwatch(struct registry *r, struct entry *e)
{
	for (int k = 0; k < e->nbin; k++)
		registry_watch_rm(r, &e->bin_wd[k]);
	e->nbin = 0;
	registry_watch_rm(r, &e->data_wd);
	registry_watch_rm(r, &e->run_wd);
}

static void entry_remove(struct registry *r, struct entry *e)
{
	struct table *t = &r->t[e->type];
	int found;
	size_t i = tfind(t, job_name(e->job), &found);

	if (found) {
		memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
		t->n--;
	}
	for (size_t k = 0; k < r->nqueue; k++)
		if (r->queue[k] == e)
			r->queue[k] = NULL;
	if (e->unread)
		r->nunread--;
	entry_unwatch(r, e);
	job_free(e->job);
	free(e);
}

void registry_listen(struct registry *r, registry_listener fn, void *arg)
{
	for (int i = 0; i < r->nlisteners; i++)
		if (r->listener_arg[i] == arg) {
			/* NULL removes the listener of arg. */
			r->listener[i] = fn;
			return;
		}
	if (fn && r->nlisteners < 4) {
		r->listener[r->nlisteners] = fn;
		r->listener_arg[r->nlisteners++] = arg;
	}
}

static int entry_refresh_files(struct registry *r, struct entry *e);

/* Tells the listeners, from the loop, about every job re-read since the
 * last time. Each gets the job as it is now (NULL when gone). */
static void deliver(void *obj, int event)
{
	struct registry *r = obj;
	struct notice *v = r->notices;
	size_t n = r->nnotices;

	(void)event;
	/* Taken whole: a notice added while the listeners run goes to a new
	 * list, told in the next round. */
	r->notices = NULL;
	r->nnotices = r->capnotices = 0;
	r->notice_posted = 0;
	for (size_t k = 0; k < n; k++) {
		struct entry *e = registry_entry(r, v[k].type, v[k].name, 0);
		struct job *j = e && job_listed(e->job) ? e->job : NULL;

		if (e)
			e->noticed = 0;
		for (int i = 0; i < r->nlisteners; i++)
			if (r->listener[i])
				r->listener[i](r->listener_arg[i], v[k].type, v[k].name, j);
		free(v[k].name);
	}
	free(v);
}

static void add_notice(struct registry *r, enum job_type type, const char *name)
{
	if (r->nnotices == r->capnotices) {
		size_t cap = r->capnotices ? r->capnotices * 2 : 64;
		struct notice *v = realloc(r->notices, cap * sizeof(*v));

		if (!v) {
			log_error("out of memory: a change of job %s is not applied", name);
			return;
		}
		r->notices = v;
		r->capnotices = cap;
	}
	r->notices[r->nnotices].type = type;
	if (!(r->notices[r->nnotices].name = strdup(name)))
		return;
	r->nnotices++;
	if (!r->notice_posted) {
		r->notice_posted = 1;
		evq_post(deliver, r, 0);
	}
}

/* Re-reads a dirty entry and re-arms its watches; a change of its
 * binaries is noted for the listeners. Returns 0 when the entry was
 * removed (its folder is gone). */
static int entry_refresh(struct registry *r, struct entry *e)
{
	int bin = e->bin_dirty && !e->noticed && r->listening, alive;
	enum job_type type = e->type;
	char *name = bin ? strdup(job_name(e->job)) : NULL;

	alive = entry_refresh_files(r, e);
	if (name) {
		/* One notice per job until it is delivered (a gone entry
		 * cannot be marked; its name is noticed once, as it is gone). */
		if (alive)
			e->noticed = 1;
		add_notice(r, type, name);
	}
	free(name);
	return alive;
}

/* 1 when e's newest run is the host's own, its record the one noted. */
static int own_newest(const struct entry *e)
{
	const char *newest = job_newest_run(e->job);

	return newest && e->own_run[0] && strcmp(newest, e->own_run) == 0;
}

/* Moves the run watch of e to its newest run folder (none for a run of
 * the host's own). */
static void watch_newest(struct registry *r, struct entry *e)
{
	const struct home *h = r->h;
	const struct job *j = e->job;
	const char *newest = own_newest(e) ? NULL : job_newest_run(j);
	char path[PATH_MAX];

	if (e->run_wd < 0 || !newest || strcmp(newest, e->run_watched) != 0) {
		registry_watch_rm(r, &e->run_wd);
		e->run_watched[0] = '\0';
	}
	if (newest && e->run_wd < 0) {
		snprintf(path, sizeof(path), "%s/%s", job_name(j), newest);
		e->run_wd = registry_watch_add(r, h->data_fd[e->type], path, MASK_DATA, ROLE_RUN,
				      e->type, e);
		snprintf(e->run_watched, sizeof(e->run_watched), "%s", newest);
	}
}

/* Watches each lone sub-folder of e's job folder down to the script
 * folder (the job folder itself is watched before it is read): a change
 * in any of them can change the script folder. */
static void watch_script_dirs(struct registry *r, struct entry *e)
{
	const struct home *h = r->h;
	const struct job *j = e->job;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", job_name(j));
	for (const char *p = job_script_dir(j); *p;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		size_t plen = strlen(path);

		if (e->nbin > JOB_MAX_DEPTH || plen + len + 2 > sizeof(path))
			break;
		path[plen] = '/';
		memcpy(path + plen + 1, p, len);
		path[plen + 1 + len] = '\0';
		e->bin_wd[e->nbin++] = registry_watch_add(r, h->jobs_fd[e->type], path, MASK_BIN,
							  ROLE_BIN, e->type, e);
		p += len + (slash ? 1 : 0);
	}
}

static int has_wd(const int *v, int n, int wd)
{
	for (int k = 0; k < n; k++)
		if (v[k] == wd)
			return 1;
	return 0;
}

/* Re-reads e's binaries: 0 when the job is gone (e is freed), else 1. */
static int entry_refresh_bin(struct registry *r, struct entry *e)
{
	struct home *h = r->h;
	struct job *j = e->job;
	enum job_type type = e->type;
	int old[JOB_MAX_DEPTH + 1], nold = e->nbin, fresh = 0, rc;

	e->bin_dirty = 0;
	memcpy(old, e->bin_wd, sizeof(old));
	/* The job folder is watched before it is read, and its watches stay
	 * while it is read (a folder watched again keeps its watch): a change
	 * made meanwhile comes as an event. A sub-folder watched for the first
	 * time after the reading may have changed between: read once more. */
	e->nbin = 0;
	e->bin_wd[e->nbin++] = registry_watch_add(r, h->jobs_fd[type], job_name(j), MASK_BIN,
						  ROLE_BIN, type, e);
	rc = job_scan_bin(j, h);
	if (rc != 0) {
		watch_script_dirs(r, e);
		for (int k = 1; k < e->nbin; k++)
			fresh |= e->bin_wd[k] >= 0 && !has_wd(old, nold, e->bin_wd[k]);
	}
	for (int k = 0; k < nold; k++)
		if (!has_wd(e->bin_wd, e->nbin, old[k]))
			registry_watch_rm(r, &old[k]);
	if (rc == 0 && !swap_pending(h->jobs_fd[type], job_name(j))) {
		log_debug("job %s: its folder is gone", job_name(j));
		entry_remove(r, e);
		return 0;
	}
	log_debug("job %s: read (%s)", job_name(j),
		  rc == 1 ? "there" : rc == 0 ? "gone, a deploy between renames: kept"
		  : rc == -ESTALE ? "a folder being removed: kept" : strerror(-rc));
	/* Gone because a deploy is between its renames (a file system
	 * without RENAME_EXCHANGE; seen on another machine of a shared home:
	 * a 404 in test_deploy_and_redeploy_without_rename_exchange), or the
	 * folder read was the old one a deploy or a delete is removing
	 * (-ESTALE: the name still led there, through a network client's
	 * cache): the job stays as it was until the change is over, an event
	 * of its own — and is read again a second later all the same, as no
	 * event may come (KEPT_RECHECK_MS). swap_pending is asked only when
	 * the folder is found gone: a stat less per read of a job. */
	if ((rc == 0 || rc == -ESTALE) && r->handles) {
		registry_enqueue(r, e, 1, DATA_NONE);
		e->recheck_at = uv_now(r->loop) + KEPT_RECHECK_MS;
	} else if (fresh) {
		registry_enqueue(r, e, 1, DATA_NONE);
	}
	return 1;
}

static int entry_refresh_files(struct registry *r, struct entry *e)
{
	struct home *h = r->h;
	struct job *j = e->job;
	enum job_type type = e->type;

	if (e->bin_dirty && !entry_refresh_bin(r, e))
		return 0;
	if (e->data_dirty == DATA_ALL) {
		/* The folder is watched before it is listed, and its newest run
		 * before its record is read: a change that falls between comes
		 * as an event, applied to what was read (the run list's events
		 * are idempotent). The same folders stay watched when they can
		 * (a watch follows its folder). */
		if (e->data_moved)
			registry_watch_rm(r, &e->data_wd);
		e->data_moved = 0;
		if (e->data_wd < 0)
			e->data_wd = registry_watch_add(r, h->data_fd[type], job_name(j),
					       MASK_DATA, ROLE_DATA, type, e);
		job_scan_data(j, h);
	}
	if (e->data_dirty != DATA_NONE) {
		int own = e->data_dirty == DATA_LATEST && own_newest(e);

		e->data_dirty = DATA_NONE;
		watch_newest(r, e);
		if (!own)
			job_reload_latest(j, h);
	}
	return 1;
}

/* Reads every name of a binaries type folder into the table, and drops
 * entries whose folder is gone. */
static void scan_type(struct registry *r, enum job_type type)
{
	int fd = openat(r->h->jobs_fd[type], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct table *t = &r->t[type];

	if (!d && fd >= 0)
		close(fd);
	while (d && (de = readdir(d))) {
		struct entry *e;

		if (de->d_name[0] == '.')
			continue;
		e = registry_entry(r, type, de->d_name, 1);
		if (e)
			registry_enqueue(r, e, 1, DATA_ALL);
	}
	if (d)
		closedir(d);
	/* Entries whose folder is gone are dropped when they are re-read;
	 * every data folder is watched anew (it may have been replaced). */
	for (size_t i = 0; i < t->n; i++) {
		t->v[i]->data_moved = 1;
		registry_enqueue(r, t->v[i], 1, DATA_ALL);
	}
}

/* Re-opens and re-watches a type folder that was removed, replaced or
 * created again. */
static void reopen_type(struct registry *r, int k, enum job_type t)
{
	int rc = home_reopen(r->h, t, k);

	r->type_gone[k][t] = 0;
	registry_watch_rm(r, &r->type_wd[k][t]);
	r->rescan_all = 1;
	if (rc < 0) {
		if (rc != -ENOENT)
			log_error("cannot open a jobs folder of the home: %s", strerror(-rc));
		return;
	}
	if (k)
		r->evented[t] = files_local_fs(r->h->data_fd[t]);
	r->type_wd[k][t] = registry_watch_add(r, k ? r->h->data_fd[t] : r->h->jobs_fd[t], ".",
				     MASK_TYPE, k ? ROLE_TYPE_DATA : ROLE_TYPE_BIN,
				     t, NULL);
}

/* Re-reads queued entry e now (k: its place in the queue). */
static void refresh_queued(struct registry *r, size_t k)
{
	struct entry *e = r->queue[k];

	e->queued = 0;
	r->queue[k] = NULL;
	if (e->unread) {
		e->unread = 0;
		r->nunread--;
	}
	entry_refresh(r, e);
}

/* ms until a pass reads e (0: now): a kept job's next read, for every
 * pass; for the settle pass (lazy), a change in its runs only. */
static uint64_t entry_wait(const struct registry *r, const struct entry *e, int lazy)
{
	uint64_t now = r->loop ? uv_now(r->loop) : 0, age = now - e->data_at;

	if (e->recheck_at > now)
		return e->recheck_at - now;
	if (!lazy || !r->loop || e->bin_dirty || e->type != JOB_TRIGGERED ||
	    age >= DATA_SETTLE_MS)
		return 0;
	return DATA_SETTLE_MS - age;
}

static void told_read(void *obj, int event)
{
	struct registry *r = obj;
	void (*fn)(void *) = r->read_fn;

	(void)event;
	r->read_fn = NULL;
	if (fn)
		fn(r->read_arg);
}

/* registry_refresh_for; lazy (the settle pass): data_wait first. */
static void refresh(struct registry *r, int type, const char *name, uint64_t until,
		    int lazy)
{
	uint64_t next = 0, w;
	struct entry *want = type >= 0 && name ? registry_entry(r, (enum job_type)type, name, 0) : NULL;
	size_t kept = 0, done = 0;

	/* The events of changes made before this moment (the host's own
	 * writes of a run included) are applied first: a run list kept from
	 * names is then as current as a listing. */
	registry_read_events(r);
	for (int k = 0; k < 2; k++)
		for (int t = 0; t < 2; t++)
			if (r->type_gone[k][t])
				reopen_type(r, k, (enum job_type)t);
	if (r->rescan_all) {
		r->rescan_all = 0;
		scan_type(r, JOB_TRIGGERED);
		scan_type(r, JOB_CONTINUOUS);
	}
	/* The job asked for first, whatever the budget. */
	for (size_t k = 0; want && want->queued && k < r->nqueue; k++)
		if (r->queue[k] == want) {
			refresh_queued(r, k); /* may free it: not looked at again */
			break;
		}
	/* Entries may be added to the queue while it is drained; past the
	 * budget (one read at least, as every taker of the share) they stay
	 * in it, in order, for the next refresh. */
	for (size_t k = 0; k < r->nqueue; k++) {
		if (!r->queue[k])
			continue;
		w = until && done && uv_hrtime() > until ? 1 : entry_wait(r, r->queue[k], lazy);
		if (w == 0) {
			refresh_queued(r, k);
			done++;
			continue;
		}
		r->queue[kept++] = r->queue[k]; /* past the budget, or too young */
		next = next && next < w ? next : w;
	}
	r->nqueue = kept;
	if (kept && r->handles)
		uv_timer_start(&r->settle, registry_on_settle, next, 0);
	if (!r->nunread && r->read_fn)
		evq_post(told_read, r, 0);
}

void registry_refresh_for(struct registry *r, int type, const char *name, uint64_t until)
{
	refresh(r, type, name, until, 0);
}

void registry_refresh(struct registry *r)
{
	registry_refresh_for(r, -1, NULL, 0);
}

void registry_on_settle(uv_timer_t *t)
{
	struct registry *r = t->data;

	/* A storm of changes (1,000 jobs restarting) is read a few ms at a
	 * time: requests are answered in between. While the start-up's read
	 * goes on, the queue's events go first in the turn's share and the
	 * reads get what is left: what the reads before caused (a job read
	 * is a job to start) is done before more is read, so the first jobs
	 * start while the rest are read. Later the reads go first: the
	 * events then act on what they found — a job deleted through
	 * another machine is seen gone before its queued START is handled
	 * (docs/DECISIONS.md, "The reads of the start-up after the queue"). */
	if (r->nunread)
		evq_drain_for(SIZE_MAX, evq_turn_until());
	refresh(r, -1, NULL, evq_turn_until(), 1);
}

/* ---- public ---- */

struct registry *registry_new(uv_loop_t *loop, struct home *h)
{
	struct registry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->loop = loop;
	r->h = h;
	r->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->ifd < 0 || wdmap_reserve(&r->w) < 0) {
		log_error("inotify: %s", strerror(errno));
		if (r->ifd >= 0)
			close(r->ifd);
		wdmap_free(&r->w);
		free(r);
		return NULL;
	}
	for (int t = 0; t < 2; t++) {
		r->evented[t] = files_local_fs(h->data_fd[t]);
		r->type_wd[0][t] = registry_watch_add(r, h->jobs_fd[t], ".", MASK_TYPE,
					     ROLE_TYPE_BIN, (enum job_type)t, NULL);
		r->type_wd[1][t] = registry_watch_add(r, h->data_fd[t], ".", MASK_TYPE,
					     ROLE_TYPE_DATA, (enum job_type)t, NULL);
	}
	r->parent_wd[0] = registry_watch_add(r, h->fd, "site/wwwroot/App_Data/jobs", MASK_TYPE,
				    ROLE_TYPE_BIN, JOB_TRIGGERED, NULL);
	r->parent_wd[1] = registry_watch_add(r, h->fd, "data/jobs", MASK_TYPE, ROLE_TYPE_DATA,
				    JOB_TRIGGERED, NULL);
	uv_poll_init(loop, &r->poll, r->ifd);
	uv_timer_init(loop, &r->settle);
	r->poll.data = r->settle.data = r;
	r->handles = 2;
	uv_poll_start(&r->poll, UV_READABLE, registry_on_inotify);
	scan_type(r, JOB_TRIGGERED);
	registry_refresh(r);
	/* Listeners learn of the jobs read so far from registry_replay, of
	 * the rest as they are read. The continuous jobs are read from the
	 * loop, a few ms at a time (the settle pass): the first are started
	 * while the rest are read; a request meanwhile waits for them all
	 * (registry_when_read; docs/DECISIONS.md, "The continuous jobs read
	 * from the loop; a request waits for them"). */
	r->listening = 1;
	scan_type(r, JOB_CONTINUOUS);
	for (size_t k = 0; k < r->nqueue; k++)
		if (r->queue[k] && !r->queue[k]->unread) {
			r->queue[k]->unread = 1;
			r->nunread++;
		}
	uv_timer_start(&r->settle, registry_on_settle, 0, 0);
	return r;
}

static void on_closed(uv_handle_t *hd)
{
	struct registry *r = hd->data;

	if (--r->handles > 0)
		return;
	for (int t = 0; t < 2; t++) {
		for (size_t i = 0; i < r->t[t].n; i++) {
			job_free(r->t[t].v[i]->job);
			free(r->t[t].v[i]);
		}
		free(r->t[t].v);
		free(r->t[t].listed);
	}
	free(r->queue);
	wdmap_free(&r->w);
	for (size_t k = 0; k < r->nnotices; k++)
		free(r->notices[k].name);
	free(r->notices);
	close(r->ifd);
	free(r);
}

void registry_close(struct registry *r)
{
	evq_forget(r);
	uv_close((uv_handle_t *)&r->poll, on_closed);
	uv_close((uv_handle_t *)&r->settle, on_closed);
}

int registry_reading(const struct registry *r)
{
	return r->nunread > 0;
}

void registry_when_read(struct registry *r, void (*fn)(void *), void *arg)
{
	r->read_fn = fn;
	r->read_arg = arg;
	if (!r->nunread)
		evq_post(told_read, r, 0);
}

void registry_on_local(struct registry *r, registry_local_fn fn, void *arg)
{
	r->local = fn;
	r->local_arg = arg;
}

struct job *registry_find(struct registry *r, enum job_type t,
			  const char *name)
{
	struct entry *e = registry_entry(r, t, name, 0);

	return e && job_listed(e->job) ? e->job : NULL;
}

size_t registry_list(struct registry *r, enum job_type type, struct job ***out)
{
	struct table *t = &r->t[type];
	struct job **v = realloc(t->listed, (t->n + 1) * sizeof(*v));
	if (!v) {
		*out = NULL;
		return 0;
	}
	t->listed = v;
	t->nlisted = 0;
	for (size_t i = 0; i < t->n; i++)
		if (job_listed(t->v[i]->job))
			v[t->nlisted++] = t->v[i]->job;
	*out = v;
	return t->nlisted;
}

/* Marks job name dirty (bin: its binaries too; data: DATA_*, or -1 for
 * a change of its runs made here) and tells the local listener. */
static void touch(struct registry *r, enum job_type t, const char *name, int bin, int data)
{
	struct entry *e = registry_entry(r, t, name, bin);

	/* Where every change makes an event and the data folder is watched,
	 * the events name the runs that came and went. */
	if (e && data < 0)
		data = r->evented[t] && e->data_wd >= 0 && !e->data_moved ? DATA_LATEST : DATA_ALL;
	if (e)
		registry_enqueue(r, e, bin, data);
	/* The host's own writes are changes made through this machine too
	 * (their inotify events may come to a watch already replaced). */
	if (r->local)
		r->local(r->local_arg, t, name, bin);
}

void registry_touch(struct registry *r, enum job_type t, const char *name)
{
	touch(r, t, name, 1, DATA_ALL);
}

void registry_touch_data(struct registry *r, enum job_type t, const char *name)
{
	touch(r, t, name, 0, DATA_ALL);
}

void registry_touch_runs(struct registry *r, enum job_type t, const char *name)
{
	touch(r, t, name, 0, -1);
}

void registry_note_run(struct registry *r, const char *name, const struct runrec *rec,
		       int placed, int has_out, int has_err)
{
	struct entry *e = registry_entry(r, JOB_TRIGGERED, name, 0);

	if (!e)
		return;
	if (job_set_latest(e->job, rec, placed, has_out, has_err) == 1) {
		snprintf(e->own_run, sizeof(e->own_run), "%s", rec->id);
		if (e->run_wd >= 0 && strcmp(e->run_watched, rec->id) == 0)
			watch_newest(r, e);
	} else if (strcmp(e->own_run, rec->id) == 0) {
		e->own_run[0] = '\0'; /* not the newest: read as any other */
	}
}

int registry_runs_now(struct registry *r, const char *name,
		      const char (**ids)[RUN_ID_LEN + 1], size_t *n)
{
	struct entry *e;

	registry_read_events(r);
	e = registry_entry(r, JOB_TRIGGERED, name, 0);
	if (!e || !r->evented[JOB_TRIGGERED] || r->rescan_all || r->type_gone[1][JOB_TRIGGERED] ||
	    e->data_wd < 0 || e->data_moved || e->data_dirty == DATA_ALL ||
	    job_runs_partial(e->job))
		return -1;
	*ids = job_runs(e->job, n);
	return 0;
}

void registry_replay(struct registry *r, enum job_type t, registry_listener fn, void *arg)
{
	struct job **jobs;
	size_t n = registry_list(r, t, &jobs);
	char **names = calloc(n + 1, sizeof(*names));

	/* Names first: the listing is invalidated by calls into the registry. */
	for (size_t i = 0; names && i < n; i++)
		names[i] = strdup(job_name(jobs[i]));
	for (size_t i = 0; names && i < n; i++) {
		if (names[i])
			fn(arg, t, names[i], registry_find(r, t, names[i]));
		free(names[i]);
	}
	free(names);
}
