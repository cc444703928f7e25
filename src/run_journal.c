/*
 * run_journal: what makes a run's record durable — the run journal
 * (src/journal.h) instead of a synced file, folder and parent per record.
 *
 * A durable record (a run accepted, queued, started from the queue, or
 * ended) is written to its "{runId}/status" as before, but not synced:
 * its durability is one line in this instance's journal
 * (data/webjobs/journal/{instance}.a|.b), synced once for every record
 * written in the same burst (runner_batch: a second's due jobs; one
 * request's run). The journal is two files: records go to one while the
 * run folders the other describes are synced on the thread pool (the
 * checkpoint, 2.5 s after the first record), after which that file
 * starts a new, empty epoch. At start-up every record of both files is
 * replayed — a run folder or status a crash lost is written again, a
 * record that went further than its folder says wins — and synced, before
 * the recovery of runs left in progress (run_disk.c) reads them.
 *
 * When the journal cannot be used (it cannot be opened, or a file is full
 * while the other is being checkpointed), a record is written the old
 * way: synced with its folder and the job's folder.
 */
#define _GNU_SOURCE
#include "run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evq.h"
#include "files.h"
#include "home.h"
#include "journal.h"
#include "jsonw.h"
#include "log.h"
#include "registry.h"
#include "webhook.h"

#define CHECKPOINT_MS 2500 /* docs/DECISIONS.md, "The run journal" */
#define RETRY_MS 5000 /* after a checkpoint that failed */
/* How far a status has gone: a record is replayed over the folder's
 * when it went further. */
static int rank(const char *status)
{
	if (strcmp(status, "Queued") == 0)
		return 0;
	if (strcmp(status, "Initializing") == 0)
		return 1;
	if (strcmp(status, "Running") == 0)
		return 2;
	return 3;
}

static int item_add(struct jhalf *h, const char *name, const char *id)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct jitem *v = realloc(h->items, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->items = v;
		h->cap = cap;
	}
	if (!(h->items[h->n].name = strdup(name)))
		return -ENOMEM;
	memcpy(h->items[h->n].id, id, RUN_ID_LEN + 1);
	h->n++;
	return 0;
}

static void items_clear(struct jhalf *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->items[i].name);
	h->n = 0;
}

static int by_run(const void *a, const void *b)
{
	const struct jitem *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->id, y->id);
}

/* Syncs and closes fd (-1: nothing); the first error is kept in *rc. */
static void sync_fd(int fd, int *rc)
{
	if (fd >= 0) {
		if (fsync(fd) < 0 && *rc == 0)
			*rc = -errno;
		close(fd);
	}
}

/* Syncs the status and the folder of each run the items name (a run has
 * an item per record: once), and each job's folder once — or the whole
 * file system at once (whole). 0 or the first -errno. */
static int sync_items(const struct home *home, struct jhalf *h, int whole)
{
	int jfd = -1, rc = 0;

	if (whole)
		return syncfs(home->data_fd[JOB_TRIGGERED]) < 0 ? -errno : 0;
	if (h->n > 1)
		qsort(h->items, h->n, sizeof(*h->items), by_run);
	for (size_t i = 0; i < h->n; i++) {
		const struct jitem *it = &h->items[i];
		int dfd;

		if (i && strcmp(it->name, h->items[i - 1].name) == 0) {
			if (strcmp(it->id, h->items[i - 1].id) == 0)
				continue;
		} else {
			sync_fd(jfd, &rc);
			jfd = openat(home->data_fd[JOB_TRIGGERED], it->name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		dfd = jfd < 0 ? -1 : openat(jfd, it->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		sync_fd(dfd < 0 ? -1 : openat(dfd, "status", O_RDONLY | O_NOFOLLOW | O_CLOEXEC), &rc);
		sync_fd(dfd, &rc);
	}
	sync_fd(jfd, &rc);
	return rc;
}

static uint64_t next_epoch(const struct runner *rn)
{
	uint64_t a = journal_epoch(rn->half[0].j), b = journal_epoch(rn->half[1].j);

	return (a > b ? a : b) + 1;
}

/* ---- the checkpoint: the thread pool syncs what the full half names ---- */

static void ckpt_work(uv_work_t *w)
{
	struct runner *rn = w->data;
	struct jhalf *h = &rn->half[rn->ckpt_half];

	/* checkpoint() synced the journal itself before handing it here. A
	 * failed sync keeps the half's records for the replay. */
	h->rc = sync_items(rn->c.home, h, rn->whole_fs);
	if (h->rc == 0)
		h->rc = journal_reset(h->j, rn->ckpt_epoch);
}

static void arm(struct runner *rn);
static void on_ckpt_timer(uv_timer_t *t);

static void ckpt_done(uv_work_t *w, int status)
{
	struct runner *rn = w->data;
	struct jhalf *h = &rn->half[rn->ckpt_half];

	(void)status;
	rn->ckpt_busy = 0;
	rn->ckpt_retry = h->rc < 0;
	if (h->rc < 0) {
		/* The half keeps its records; the same checkpoint is tried
		 * again (records meanwhile go to the other half). */
		log_error("run journal: a checkpoint failed: %s; trying again in %d s",
			  strerror(-h->rc), RETRY_MS / 1000);
		if (!rn->shutting)
			uv_timer_start(&rn->ckpt, on_ckpt_timer, RETRY_MS, 0);
		return;
	}
	items_clear(h);
	arm(rn);
}

/* Hands the half under checkpoint to the thread pool. */
static int queue_ckpt(struct runner *rn)
{
	rn->ckpt_busy = 1;
	rn->ckpt_work.data = rn;
	if (uv_queue_work(rn->loop, &rn->ckpt_work, ckpt_work, ckpt_done) < 0) {
		rn->ckpt_busy = 0;
		return -EIO;
	}
	return 0;
}

/* Starts a checkpoint of the active half: the other becomes active.
 * 0, or -EBUSY while one is under way or the other half is not empty. */
static int checkpoint(struct runner *rn)
{
	int old = rn->active;

	if (rn->ckpt_busy || rn->half[old ^ 1].n || journal_count(rn->half[old ^ 1].j))
		return -EBUSY;
	/* The checkpoint syncs the folders of the half's runs: every run
	 * has its folder first. */
	runner_place_all(rn);
	/* What a burst appended is durable before the other half takes
	 * over (its own sync would skip the half under checkpoint). */
	if (journal_sync(rn->half[old].j) < 0)
		return -EIO;
	rn->active ^= 1;
	rn->ckpt_half = old;
	rn->ckpt_epoch = next_epoch(rn);
	if (queue_ckpt(rn) < 0) {
		rn->active = old;
		return -EIO;
	}
	return 0;
}

static void on_ckpt_timer(uv_timer_t *t)
{
	struct runner *rn = t->data;

	/* After a failed checkpoint, the same half again. */
	if (!rn->ckpt_retry)
		checkpoint(rn);
	else if (queue_ckpt(rn) < 0)
		uv_timer_start(&rn->ckpt, on_ckpt_timer, RETRY_MS, 0);
}

/* The checkpoint comes CHECKPOINT_MS after the first record of the
 * active half (or after the last checkpoint, when records came
 * meanwhile). */
static void arm(struct runner *rn)
{
	if (rn->half[rn->active].n && !rn->ckpt_busy && !rn->ckpt_retry && !rn->shutting &&
	    !uv_is_active((uv_handle_t *)&rn->ckpt))
		uv_timer_start(&rn->ckpt, on_ckpt_timer, CHECKPOINT_MS, 0);
}

/* ---- records ---- */

/* The old way: the record synced, with its folder and the job's. */
/* The record text written and synced with its folder and the job's
 * (text NULL: only the folders synced). */
static int write_synced(int dfd, const char *text)
{
	int rc = text ? files_write_atomic(dfd, "status", text, strlen(text), 0644, 1) : 0;
	int jfd = openat(dfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (jfd >= 0) {
		fsync(jfd);
		close(jfd);
	}
	return rc;
}

/* Appends the journal line of record text of run id of job name. */
static int append(struct runner *rn, const char *name, const char *id, const char *text)
{
	struct jsonw w;
	char *line;
	struct jhalf *h;
	int rc = -ENOMEM;

	jsonw_init(&w);
	jsonw_raw(&w, "[", 1);
	jsonw_str(&w, name);
	jsonw_raw(&w, ",", 1);
	jsonw_str(&w, id);
	jsonw_raw(&w, ",", 1);
	jsonw_str(&w, text);
	jsonw_raw(&w, "]", 1);
	if ((line = jsonw_end(&w))) {
		h = &rn->half[rn->active];
		rc = journal_append(h->j, line, strlen(line));
		/* Full: the other half takes the records, if it is free. */
		if (rc == -ENOSPC && checkpoint(rn) == 0) {
			h = &rn->half[rn->active];
			rc = journal_append(h->j, line, strlen(line));
		}
		if (rc == 0 && (rc = item_add(h, name, id)) == 0)
			arm(rn);
	}
	free(line);
	return rc;
}

/* Renames recycled run folder old (emptied, its new record written) to
 * id; old is then "". */
static int rename_recycled(int jfd, char *old, const char *id)
{
	if (renameat2(jfd, old, jfd, id, RENAME_NOREPLACE) < 0 &&
	    (errno != EINVAL || renameat(jfd, old, jfd, id) < 0))
		return -errno;
	old[0] = '\0';
	return 0;
}

/* The first record of a recycled folder, still under the old run's id:
 * written over the old record in place (docs/DECISIONS.md, "The recycled
 * record in place"). Its readers are those of a run being deleted, and
 * the folder shows the new id only once the record is whole. */
static int write_recycled(int dfd, const char *text)
{
	int rc = files_write_in_place(dfd, "status", text, strlen(text));

	return rc == -ENOENT ? files_write_swap(dfd, "status", STATUS_SPARE, text, strlen(text)) : rc;
}

/* run_record, and run_record_recycled when old is not NULL. */
static int record(struct runner *rn, const char *name, int dfd, const struct runrec *rec,
		  int durable, int jfd, char *old)
{
	char *text = runrec_serialize(rec);
	int rc;

	if (!text)
		return -ENOMEM;
	if (durable && !rn->half[0].j) {
		rc = files_write_atomic(dfd, "status", text, strlen(text), 0644, 1);
		if (rc == 0 && old)
			rc = rename_recycled(jfd, old, rec->id);
		if (rc == 0)
			rc = write_synced(dfd, NULL);
	} else {
		/* The spare is the owner's: a writer that may race with it (an
		 * abort of a queued run that another instance may be starting)
		 * writes under a name of its own. */
		rc = durable & RECORD_FOREIGN
			     ? files_write_atomic(dfd, "status", text, strlen(text), 0644, 0)
			     : old ? write_recycled(dfd, text)
				   : files_write_swap(dfd, "status", STATUS_SPARE, text, strlen(text));
		if (rc == 0 && old)
			rc = rename_recycled(jfd, old, rec->id);
		if (rc == 0 && durable && append(rn, name, rec->id, text) < 0)
			rc = write_synced(dfd, text);
		else if (rc == 0 && durable && (rn->batch || evq_draining()))
			rn->sync_owed = 1; /* one sync at the batch's or the drain's end */
		else if (rc == 0 && durable)
			rc = run_journal_sync(rn);
	}
	free(text);
	return rc;
}

int run_record(struct runner *rn, const char *name, int dfd, const struct runrec *rec,
	       int durable)
{
	return record(rn, name, dfd, rec, durable, -1, NULL);
}

int run_record_recycled(struct runner *rn, const char *name, int jfd, char *old, int dfd,
			const struct runrec *rec)
{
	return record(rn, name, dfd, rec, 1, jfd, old);
}

int run_record_placed(struct runner *rn, const char *name, int jfd, char *old, int dfd,
		      const struct runrec *rec, int durable)
{
	return record(rn, name, dfd, rec, durable, jfd, old[0] ? old : NULL);
}

int run_journal_accept(struct runner *rn, const char *name, const struct runrec *rec)
{
	char *text = runrec_serialize(rec);
	int rc = text ? append(rn, name, rec->id, text) : -ENOMEM;

	free(text);
	if (rc == 0)
		rn->sync_owed = 1; /* the batch's sync */
	return rc;
}

int run_journal_sync(struct runner *rn)
{
	/* Records only ever wait in the active half: checkpoint() syncs the
	 * other before it hands it to the thread pool. */
	int rc = rn->half[0].j ? journal_sync(rn->half[rn->active].j) : 0;

	rn->sync_owed = 0;

	if (rc < 0)
		log_error("run journal: cannot sync: %s", strerror(-rc));
	return rc;
}

void runner_batch(struct runner *rn, int begin)
{
	if (begin) {
		if (rn->batch++ == 0)
			rn->batch_start = time_now_ticks();
		return;
	}
	if (rn->batch > 0 && --rn->batch == 0) {
		rn->batch_hold = 0;
		if (rn->sync_owed)
			run_journal_sync(rn);
	}
}

void runner_batch_ahead(struct runner *rn, int64_t start)
{
	if (rn->batch > 0) {
		rn->batch_start = start;
		rn->batch_hold = start * (1000000000 / TICKS_PER_SEC);
	}
}

void runner_batch_sync(struct runner *rn)
{
	if (rn->sync_owed)
		run_journal_sync(rn);
}

void run_tell_hook(struct runner *rn, const char *name, const char *event,
		   const struct runrec *rec, int dfd)
{
	const struct job *j = registry_find(rn->c.registry, JOB_TRIGGERED, name);

	/* The delivery thread may send at once: before the drain's sync. */
	if (rn->sync_owed && webhook_wanted(j, event))
		run_journal_sync(rn);
	webhook_emit(j, event, rec, dfd);
}

void runner_drained(void *arg)
{
	struct runner *rn = arg;

	if (rn->sync_owed && !rn->batch)
		run_journal_sync(rn);
}

/* ---- start-up: the replay ---- */

struct replay {
	struct runner *rn;
	struct jhalf done; /* the run folders written again, to sync */
	int records, restored;
};

/* One record: its run folder and status written again when the crash
 * lost them or they say less than the record. */
static void replay_one(void *arg, const char *line)
{
	struct replay *p = arg;
	const struct home *home = p->rn->c.home;
	const char *name, *id, *text;
	struct runrec rec, disk;
	json_t *a = json_loads(line, 0, NULL);
	int jfd = -1, dfd = -1, have;

	p->records++;
	if (!a || json_unpack(a, "[sss]", &name, &id, &text) < 0 || !time_is_run_id(id) ||
	    !home_valid_job_name(name) || runrec_parse(id, text, strlen(text), &rec) < 0)
		goto out;
	/* A job deleted since: its runs went with it. */
	jfd = openat(home->data_fd[JOB_TRIGGERED], name,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (jfd >= 0 && (mkdirat(jfd, id, 0755) == 0 || errno == EEXIST))
		dfd = openat(jfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd >= 0) {
		have = runrec_load(jfd, id, &disk) == 0;
		if (!have || rank(rec.status) > rank(disk.status)) {
			if (files_write_atomic(dfd, "status", text, strlen(text), 0644, 0) == 0)
				p->restored++;
			item_add(&p->done, name, id);
		}
		if (have)
			runrec_free(&disk);
		close(dfd);
	}
	runrec_free(&rec);
out:
	if (jfd >= 0)
		close(jfd);
	json_decref(a);
}

int run_journal_open(struct runner *rn)
{
	static const char *const sfx[2] = { "a", "b" };
	const struct home *home = rn->c.home;
	struct replay p = { .rn = rn };
	char name[300];
	int dfd, rc = 0, first;

	if ((rc = home_mkdirs(home->fd, "data/webjobs/journal")) < 0 ||
	    (dfd = openat(home->fd, "data/webjobs/journal",
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = rc < 0 ? rc : -errno;
		goto fail;
	}
	for (int k = 0; k < 2 && rc == 0; k++) {
		snprintf(name, sizeof(name), "%s.%s", rn->c.instance, sfx[k]);
		rc = journal_open(dfd, name, &rn->half[k].j);
	}
	close(dfd);
	if (rc < 0)
		goto fail;
	/* The older epoch first: a later record of the same run wins. */
	first = journal_epoch(rn->half[0].j) < journal_epoch(rn->half[1].j) ? 0 : 1;
	journal_replay(rn->half[first].j, replay_one, &p);
	journal_replay(rn->half[first ^ 1].j, replay_one, &p);
	if (sync_items(home, &p.done, 0) < 0)
		log_error("run journal: cannot sync the run folders written again");
	items_clear(&p.done);
	free(p.done.items);
	if (p.records)
		log_info("run journal: %d records replayed, %d run records written again",
			 p.records, p.restored);
	for (int k = 0; k < 2 && rc == 0; k++)
		rc = journal_reset(rn->half[k].j, next_epoch(rn));
	if (rc < 0)
		goto fail;
	rn->active = 0;
	rn->whole_fs = files_local_fs(home->data_fd[JOB_TRIGGERED]);
	uv_timer_init(rn->loop, &rn->ckpt);
	rn->ckpt.data = rn;
	rn->ckpt_open = 1;
	return 0;
fail:
	log_error("run journal: %s; run records are synced one by one instead", strerror(-rc));
	for (int k = 0; k < 2; k++) {
		journal_close(rn->half[k].j);
		rn->half[k].j = NULL;
	}
	return rc;
}

void run_journal_stop(struct runner *rn)
{
	if (rn->ckpt_open)
		uv_close((uv_handle_t *)&rn->ckpt, NULL);
	rn->ckpt_open = 0;
}

void run_journal_close(struct runner *rn)
{
	for (int k = 0; k < 2; k++) {
		if (rn->half[k].j)
			journal_sync(rn->half[k].j);
		journal_close(rn->half[k].j);
		items_clear(&rn->half[k]);
		free(rn->half[k].items);
	}
}
