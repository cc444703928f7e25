/*
 * run_disk: the runs' side on disk — accepting a run (the run lock, the
 * history trimmed, the durable "Initializing" record), aborting one on any
 * instance through its {runId}/abort marker, and recovering at start-up
 * the runs a crash left in progress. The state machine is run.c's.
 */
#define _GNU_SOURCE
#include "run_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fence.h"
#include "files.h"
#include "joblog.h"
#include "log.h"
#include "process.h"
#include "settings.h"
#include "webhook.h"

/* ---- accepting a run ---- */

/* 1 for a run that still runs in a slot of its own (concurrency allow). */
static int runs_in_slot(int dfd, const char *id)
{
	struct runrec rec;
	int live;

	if (runrec_load(dfd, id, &rec) < 0)
		return 0;
	live = rec.slot && runrec_in_progress(&rec) && strcmp(rec.status, "Queued") != 0 &&
	       runrec_lock_held(dfd, rec.slot);
	runrec_free(&rec);
	return live;
}

int run_ids(struct runner *rn, const char *name, int jfd, char (**ids)[RUN_ID_LEN + 1])
{
	const char (*known)[RUN_ID_LEN + 1];
	size_t n;
	char **names;
	int k;

	/* The registry's list is as good as a listing when it is exact
	 * (docs/DECISIONS.md, "The run list kept from inotify's names"),
	 * and costs no walk of the folder. */
	if (registry_runs_now(rn->c.registry, name, &known, &n) == 0) {
		if (!(*ids = malloc((n ? n : 1) * sizeof(**ids))))
			return -ENOMEM;
		if (n)
			memcpy(*ids, known, n * sizeof(**ids));
		return (int)n;
	}
	if ((k = files_list(jfd, time_is_run_id, SIZE_MAX, &names)) < 0)
		return k;
	if ((*ids = malloc((k ? (size_t)k : 1) * sizeof(**ids))))
		for (int i = 0; i < k; i++)
			memcpy((*ids)[i], names[i], RUN_ID_LEN + 1);
	files_free_names(names, k);
	return *ids ? k : -ENOMEM;
}

/* Deletes the oldest runs so that `keep` remain; returns the newest id
 * left (or "") in newest. */
int run_trim_history(int dfd, char (*ids)[RUN_ID_LEN + 1], int n, long long keep,
		     char newest[RUN_ID_LEN + 1], int spare_live, char *recycle,
		     int64_t occurrence)
{
	int last = -1;
	int64_t t;

	newest[0] = '\0';
	if (recycle)
		recycle[0] = '\0';
	if (keep < 0)
		keep = 0;
	/* The run id is its start to 100 us; the tick is whole seconds. */
	if (occurrence && n > 0 && time_parse_run_id(ids[n - 1], &t) == 0 && t >= occurrence)
		return -EALREADY;
	for (int i = 0; i < n; i++) {
		if ((long long)(n - i) > keep && !(spare_live && runs_in_slot(dfd, ids[i]))) {
			if (last >= 0)
				files_remove_tree(dfd, ids[last]);
			last = i;
		} else if (i == n - 1) {
			memcpy(newest, ids[i], RUN_ID_LEN + 1);
		}
	}
	if (last >= 0 && recycle)
		memcpy(recycle, ids[last], RUN_ID_LEN + 1);
	else if (last >= 0)
		files_remove_tree(dfd, ids[last]);
	return 0;
}

/* What a recycled run folder keeps: the files every run has, when they
 * are plain files (d_type; a stat only where the file system does not
 * say). The status is left as it is — the new run's first record
 * replaces it before the folder takes its new name. The output log gets
 * the new run's first line in place of the old output, cut to it: its
 * first block stays (emptying it freed the block — on this machine's
 * ext4 with a synchronous discard, 31 us of CPU and ~80 us of wall time
 * against ~10 us; docs/DECISIONS.md, "The cost of a scheduled run"). */
static int recycle_keeps(int dfd, const struct dirent *de, const char *line, size_t len,
			 int *log_fd)
{
	struct stat st;
	int fd;

	if (strcmp(de->d_name, STATUS_SPARE) != 0 && strcmp(de->d_name, "status") != 0 &&
	    strcmp(de->d_name, "output_log.txt") != 0)
		return 0;
	if (de->d_type != DT_REG &&
	    (de->d_type != DT_UNKNOWN || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	     !S_ISREG(st.st_mode)))
		return 0; /* not a plain file of ours: deleted */
	if (strcmp(de->d_name, "output_log.txt") != 0)
		return 1;
	fd = openat(dfd, de->d_name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* write, not pwrite: the file's offset (0, freshly opened) moves to
	 * the line's end, where the run's next lines go — the host is the
	 * log's one writer, so it needs no O_APPEND (a fcntl less a run). */
	if (len && write(fd, line, len) == (ssize_t)len && ftruncate(fd, (off_t)len) == 0) {
		*log_fd = fd; /* the run's log, from its BEGIN on */
		return 1;
	}
	if (ftruncate(fd, 0) < 0) {
		close(fd);
		return 0; /* the old output cannot go: the file does */
	}
	close(fd);
	return 1;
}

/* On this machine's ext4 a run folder and its three files cost ~1.8 ms to
 * create and as much to free (docs/DECISIONS.md, "Run folders are
 * recycled"); once the history is full, the run being trimmed gives its
 * folder and files to the new one. Emptied in place here, the output log
 * holding line (len bytes; *logged says it does); the new run's first
 * record is written into it and then it is renamed
 * (run_record_recycled): a reader sees the old run half gone, as with a
 * deletion, then the new run with its record. */
int run_recycle(int jfd, const char *old, const char *line, size_t len, int *log_fd)
{
	int dfd = files_open_read(jfd, old, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	const struct dirent *de;
	struct files_dir d;

	*log_fd = -1;
	if (dfd < 0)
		return -errno;
	files_dir_init(&d, dfd); /* fresh: its offset is 0, and nothing reads it after */
	while ((de = files_dir_next(&d)))
		if (!recycle_keeps(dfd, de, line, len, log_fd))
			files_remove_tree(dfd, de->d_name);
	return dfd;
}

/* A run id after now and after every existing one; within a batch (a
 * tick's due jobs), now is when the batch began: the runs of one tick
 * start at the same time, however long the others take to write. */
void run_new_id(struct runner *rn, const char *newest, char id[RUN_ID_LEN + 1], int64_t *start)
{
	int64_t now = rn->batch ? rn->batch_start : time_now_ticks(), t;

	time_format_run_id(now, id);
	if (newest[0] && strcmp(id, newest) <= 0 && time_parse_run_id(newest, &t) == 0) {
		now = t + 1000; /* one unit of the id: 100 us */
		time_format_run_id(now, id);
	}
	*start = now;
}

static long long clamp(long long v, long long lo, long long hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Takes (F_WRLCK) or releases (F_UNLCK) run lock slot (0: the whole
 * lock) on lock_fd without waiting; -EBUSY when another holds it. */
static int slot_lock(int lock_fd, int slot, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = slot > 0 ? slot - 1 : 0, .l_len = slot > 0 ? 1 : 0 };

	if (fcntl(lock_fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
}

/* run_take_lock under the job's removal byte, held shared (home.h). */
static int take_lock(struct runner *rn, const char *name, int slots, int *jfd, int *lock_fd,
		     int *slot, char *err, size_t errsz)
{
	int rc;

	*slot = 0;
	if ((rc = *jfd = home_open_job_data(rn->c.home, JOB_TRIGGERED, name)) < 0) {
		snprintf(err, errsz, "cannot open the job's data folder: %s", strerror(-rc));
		return rc;
	}
	*lock_fd = openat(*jfd, "triggeredJob.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			  0644);
	if (*lock_fd < 0) {
		snprintf(err, errsz, "cannot open the run lock: %s", strerror(errno));
		/* The folder removed since it was opened (through a name
		 * another machine's delete had moved): as a marked one. */
		return errno == ESTALE || errno == ENOENT ? -ESTALE : -errno;
	}
	rc = -EBUSY;
	for (int k = slots > 0 ? 1 : 0; k <= slots && rc == -EBUSY; k++)
		if ((rc = slot_lock(*lock_fd, k, F_WRLCK)) == 0)
			*slot = k;
	/* Marked since it was opened: a delete that holds the locks while it
	 * removes the folder, or waits for this run's (home_remove_data);
	 * through a network client, the lock file may be gone already. */
	if (rc == -ENOENT || rc == -ESTALE ||
	    ((rc == 0 || rc == -EBUSY) && home_marked_deleted(*jfd))) {
		snprintf(err, errsz, "the job's data folder is being removed");
		return -ESTALE;
	}
	if (rc == -EBUSY)
		snprintf(err, errsz, slots > 0 ? "all %d run slots are taken" : "the run lock is held",
			 slots);
	else if (rc < 0)
		snprintf(err, errsz, "cannot take the run lock: %s", strerror(-rc));
	return rc;
}

/* Opens the job's data folder (*jfd) and takes the run lock (*lock_fd):
 * the whole lock, or with slots > 0 the first free slot (*slot). */
int run_take_lock(struct runner *rn, const char *name, int slots, int *jfd, int *lock_fd,
		  int *slot, char *err, size_t errsz)
{
	int rc;

	*jfd = *lock_fd = -1;
	*slot = 0;
	/* A delete is taking the folder's mark away: it is going. (A home
	 * without locks runs no run at all: take_lock says so.) */
	if (home_removal_lock(rn->c.home, JOB_TRIGGERED, name, F_RDLCK) == -EBUSY) {
		snprintf(err, errsz, "the job's data folder is being removed");
		return -ESTALE;
	}
	rc = take_lock(rn, name, slots, jfd, lock_fd, slot, err, errsz);
	home_removal_lock(rn->c.home, JOB_TRIGGERED, name, F_UNLCK);
	return rc;
}

/* The door of a job under allow (RUN_LOCK_DOOR): taken by a starting
 * run that holds its slot, for the moment it reads the history and
 * creates its folder, so two instances neither run one tick twice nor
 * race for a run id. Only slot holders wait on it, and none waits for
 * anything while it holds it. */
static int door(int lock_fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = RUN_LOCK_DOOR,
			    .l_len = 1 };
	int rc;

	while ((rc = fcntl(lock_fd, type == F_UNLCK ? F_OFD_SETLK : F_OFD_SETLKW, &fl)) < 0 &&
	       errno == EINTR)
		;
	return rc < 0 ? -errno : 0;
}

/* The run of job j in its new folder dfd, its record not yet written. */
struct run *run_new(struct runner *rn, const struct job *j, const char *trigger,
		    const char *arguments, const char *id, int64_t start, int slot)
{
	struct run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->rn = rn;
	r->lock_fd = r->dfd = r->log_fd = r->jfd = -1;
	memcpy(r->id, id, RUN_ID_LEN + 1);
	memcpy(r->rec.id, id, RUN_ID_LEN + 1);
	r->rec.start = start;
	r->rec.trigger = strdup(trigger);
	r->rec.instance = strdup(rn->c.instance);
	r->rec.arguments = arguments && *arguments ? strdup(arguments) : NULL;
	r->rec.slot = slot;
	r->not_before = rn->batch_hold; /* 0 outside a batch accepted ahead */
	snprintf(r->rec.status, sizeof(r->rec.status), "Initializing");
	if (launch_snapshot(&r->l, rn->c.home, rn->c.temp, j, DEFAULT_STOP_WAIT) < 0 ||
	    launch_use_slot(&r->l, slot) < 0 ||
	    !r->rec.trigger || !r->rec.instance || (arguments && *arguments && !r->rec.arguments)) {
		run_free(r);
		return NULL;
	}
	r->copy_fresh = launch_copy_fresh(&r->l, j);
	return r;
}

/* A run whose "Initializing" record is on disk joins the live runs: it
 * holds the run lock (lock_fd), and BEGIN is posted. */
void run_go_live(struct runner *rn, struct run *r, const struct job *j, int lock_fd)
{
	const struct hostcfg *cfg = hostcfg_get(rn->c.cfg);

	r->lock_fd = lock_fd;
	uv_timer_init(rn->loop, &r->timer);
	uv_timer_init(rn->loop, &r->kill_timer);
	uv_timer_init(rn->loop, &r->limit);
	uv_timer_init(rn->loop, &r->retry);
	r->timer.data = r->kill_timer.data = r->limit.data = r->retry.data = r;
	r->handles = 4;
	/* The job's timeout, else the host's (docs/API.md, "Run control"). */
	r->timeout = settings_int(job_settings(j), "timeout", 0);
	if (r->timeout <= 0)
		r->timeout = cfg->run_timeout > 0 ? cfg->run_timeout : 0;
	/* Retries: attempts of the same run (docs/API.md, "Run control"). */
	r->attempts = 1 + (int)clamp(settings_int(job_settings(j), "retries", 0), 0, 100);
	r->retry_delay = clamp(settings_int(job_settings(j), "retry_delay", 10), 0, 86400);
	r->retry_max_delay = clamp(settings_int(job_settings(j), "retry_max_delay", 300), 0,
				   86400);
	r->next = rn->runs;
	if (rn->runs)
		rn->runs->prev = r;
	rn->runs = r;
	run_post(r, E_BEGIN);
	registry_touch_runs(rn->c.registry, JOB_TRIGGERED, job_name(j));
}

/* Under the run lock (a slot also takes the door): runs left in the slot
 * by a host that went away end. */
static int may_start(struct runner *rn, const struct job *j, int jfd, int lock_fd, int slot,
		     char *err, size_t errsz)
{
	int rc;

	if (slot && (rc = door(lock_fd, F_WRLCK)) < 0) {
		snprintf(err, errsz, "cannot take the run lock: %s", strerror(-rc));
		return rc;
	}
	if (slot)
		run_reap_slot(rn, jfd, job_name(j), slot);
	return 0;
}

/* Under the lock, one listing of the job's runs: a tick another instance
 * ran is not run again (-EALREADY), else the history is trimmed and the
 * new run's id chosen — and the trimmed run's folder, to be recycled,
 * named in old (else old is ""). 0 or -errno (a reason in err). */
static int plan_folder(struct runner *rn, const char *name, int jfd, int slot,
		       int64_t occurrence, char id[RUN_ID_LEN + 1], int64_t *start,
		       char old[RUN_ID_LEN + 1], char *err, size_t errsz)
{
	char newest[RUN_ID_LEN + 1], (*ids)[RUN_ID_LEN + 1];
	int rc = run_ids(rn, name, jfd, &ids);

	if (rc >= 0) {
		rc = run_trim_history(jfd, ids, rc, hostcfg_get(rn->c.cfg)->history_size - 1,
				      newest, slot > 0, old, occurrence);
		free(ids);
	}
	if (rc == -EALREADY)
		snprintf(err, errsz, "this tick was already run");
	else if (rc < 0)
		snprintf(err, errsz, "cannot list the job's runs: %s", strerror(-rc));
	if (rc < 0)
		return rc;
	run_new_id(rn, newest, id, start);
	return 0;
}

/* plan_folder, then run_make_folder: the run's folder made at its accept. */
static int new_folder(struct runner *rn, const char *name, int jfd, int slot,
		      int64_t occurrence, char id[RUN_ID_LEN + 1], int64_t *start,
		      char old[RUN_ID_LEN + 1], int *log_fd, char *err, size_t errsz)
{
	char line[256];
	size_t len;
	int rc = plan_folder(rn, name, jfd, slot, occurrence, id, start, old, err, errsz);

	*log_fd = -1;
	if (rc < 0)
		return rc;
	len = old[0] ? joblog_sys_line(line, sizeof(line), rn->c.instance, RUN_FIRST_LINE) : 0;
	return run_make_folder(jfd, id, old, line, len, log_fd, err, errsz);
}

/* The run's first record, durable: into recycled folder old (renamed to
 * the run's id once written; old is then "") or its new folder. */
static int first_record(struct run *r, int jfd, char *old)
{
	int rc;

	rc = old[0] ? run_record_recycled(r->rn, r->l.name, jfd, old, r->dfd, &r->rec)
		    : run_record(r->rn, r->l.name, r->dfd, &r->rec, 1);
	if (rc == 0)
		run_note(r, 1); /* in place now, under the run's id */
	return rc;
}

/* A batch's run whose job holds the whole lock is placed after its spawn
 * (run.h, runner_place_all): a slot's run makes its folder under the
 * door, which it could not hold that long. */
static int defers(const struct runner *rn, int slot)
{
	return rn->batch && !slot && rn->half[0].j;
}

/* Under queue and replace, queued runs go first, in id order: 1 when
 * the job has some (the new run joins them). */
static int has_queued(enum policy p, int jfd)
{
	char active[RUN_ID_LEN + 1];
	int queued = 0;

	if (p == POLICY_QUEUE || p == POLICY_REPLACE)
		run_active(jfd, active, &queued, 1);
	return queued;
}

/* A run accepted with its line in the journal (synced with the batch),
 * its folder old (or a new one) made once the tick's spawns are answered:
 * it takes jfd and lock_fd. */
static int go_pending(struct runner *rn, struct run *r, const struct job *j, int jfd,
		      int lock_fd, const char *old, char *err, size_t errsz)
{
	int rc = run_journal_accept(rn, r->l.name, &r->rec);

	if (rc < 0) {
		snprintf(err, errsz, "cannot write the run's record: %s", strerror(-rc));
		return rc;
	}
	r->pending = 1;
	rn->npending++;
	r->jfd = jfd;
	memcpy(r->old, old, sizeof(r->old));
	r->first_len = joblog_sys_line(r->first_line, sizeof(r->first_line), rn->c.instance,
				       RUN_FIRST_LINE);
	r->log_begun = 1; /* the line goes first when it is placed */
	if (!uv_is_active((uv_handle_t *)&rn->place))
		uv_timer_start(&rn->place, runner_on_place, PLACE_MAX_MS, 0);
	run_go_live(rn, r, j, lock_fd);
	return 0;
}

int runner_start(struct runner *rn, struct job *j, const char *trigger,
		 const char *arguments, int64_t occurrence, char id[RUN_ID_LEN + 1],
		 char *err, size_t errsz)
{
	const struct hostcfg *cfg = hostcfg_get(rn->c.cfg);
	enum policy p = run_policy(j);
	int jfd = -1, lock_fd = -1, dfd = -1, rc, slot, log_fd = -1, pending;
	char old[RUN_ID_LEN + 1] = "";
	struct run *r = NULL;
	int64_t start;

	if (rn->shutting || cfg->stopped)
		return -ESHUTDOWN;
	if (!fence_ok()) {
		snprintf(err, errsz, "the home cannot be reached");
		return -ENOTCONN;
	}
	rc = run_take_lock(rn, job_name(j), p == POLICY_ALLOW ? run_max_concurrent(j) : 0, &jfd,
			   &lock_fd, &slot, err, errsz);
	if (rc == -EBUSY && (p == POLICY_QUEUE || p == POLICY_REPLACE)) {
		close(lock_fd);
		close(jfd);
		return run_queue(rn, j, trigger, arguments, occurrence, id, err, errsz);
	}
	if (rc < 0)
		goto fail;
	if (has_queued(p, jfd)) {
		close(lock_fd);
		close(jfd);
		rc = run_queue(rn, j, trigger, arguments, occurrence, id, err, errsz);
		run_pump(rn, job_name(j));
		return rc;
	}
	if ((rc = may_start(rn, j, jfd, lock_fd, slot, err, errsz)) < 0)
		goto fail;
	pending = defers(rn, slot);
	rc = pending ? plan_folder(rn, job_name(j), jfd, slot, occurrence, id, &start, old, err,
				   errsz)
		     : (dfd = new_folder(rn, job_name(j), jfd, slot, occurrence, id, &start, old,
					 &log_fd, err, errsz));
	if (rc < 0)
		goto fail;
	if (!(r = run_new(rn, j, trigger, arguments, id, start, slot))) {
		rc = -ENOMEM;
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (pending) {
		if ((rc = go_pending(rn, r, j, jfd, lock_fd, old, err, errsz)) < 0)
			goto fail;
		return 0;
	}
	r->dfd = dfd;
	r->log_begun = log_fd >= 0;
	r->log_fd = log_fd;
	log_fd = -1;
	if ((rc = first_record(r, jfd, old)) < 0) {
		r->dfd = -1;
		snprintf(err, errsz, "cannot write the run's status: %s", strerror(-rc));
		goto fail;
	}
	old[0] = '\0';
	close(jfd);
	if (slot)
		door(lock_fd, F_UNLCK);
	run_go_live(rn, r, j, lock_fd);
	return 0;
fail:
	if (r)
		run_free(r);
	if (log_fd >= 0)
		close(log_fd);
	if (dfd >= 0) {
		close(dfd);
		files_remove_tree(jfd, old[0] ? old : id);
	}
	if (lock_fd >= 0)
		close(lock_fd);
	if (jfd >= 0)
		close(jfd);
	return rc;
}

/* ---- aborts ---- */

/* The {runId}/abort marker's user, or NULL when there is no marker. */
char *run_marker_user(int dfd)
{
	char buf[256];
	int fd = openat(dfd, "abort", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return strdup(buf[0] ? buf : "an unknown user");
}

static void post_abort(struct run *r, char *user)
{
	if (r->abort_posted) {
		free(user);
		return;
	}
	r->abort_posted = 1;
	free(r->aborter);
	r->aborter = user;
	run_post(r, E_ABORT);
}

/* Any instance may write a run's abort marker (docs/API.md, "Run
 * control"); the owner of the run looks for it every second. */
void run_on_abort_poll(uv_timer_t *t)
{
	struct runner *rn = t->data;
	char *user;

	for (struct run *r = rn->runs; r; r = r->next)
		if (!r->abort_posted && r->dfd >= 0 && (user = run_marker_user(r->dfd)))
			post_abort(r, user);
	/* Queued runs start as the lock comes free, whichever instance
	 * queued them (one that died included). */
	run_pump_all(rn);
}

/* Aborts run id when it is in progress and really running (runrec_live:
 * active is the job's active run): its marker, and ABORT when it is this
 * instance's. 0, or -ESRCH when it is not such a run. */
static int abort_live(struct runner *rn, const char *name, int jfd, const char *id,
		      const char *active, const char *user)
{
	struct runrec rec;
	int dfd, rc;

	if (!id[0] || runrec_load(jfd, id, &rec) < 0)
		return -ESRCH;
	rc = runrec_in_progress(&rec) && !runrec_waiting(&rec) && runrec_live(jfd, &rec, active)
		     ? 0
		     : -ESRCH;
	runrec_free(&rec);
	if (rc == 0 && (dfd = openat(jfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		rc = files_write_atomic(dfd, "abort", user, strlen(user), 0644, 1);
		close(dfd);
	}
	for (struct run *r = rn->runs; rc == 0 && r; r = r->next)
		if (strcmp(r->id, id) == 0 && strcmp(r->l.name, name) == 0)
			post_abort(r, strdup(user));
	return rc;
}

int runner_abort(struct runner *rn, const char *name, const char *id, const char *user,
		 char out[RUN_ID_LEN + 1])
{
	const struct home *h = rn->c.home;
	char active[RUN_ID_LEN + 1], **ids;
	struct runrec rec;
	int jfd, rc, queued, n;

	/* The abort finds runs on disk: this instance's run of the job that
	 * waits to be placed is placed now. */
	for (struct run *r = rn->runs; r && rn->npending; r = r->next)
		if (r->pending && strcmp(r->l.name, name) == 0)
			run_place(r);
	jfd = openat(h->data_fd[JOB_TRIGGERED], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (jfd < 0)
		return id ? -ENOENT : -ESRCH;
	out[0] = '\0';
	run_active(jfd, active, &queued, 0);
	if (!id) {
		/* Every queued run, and every one in progress (several under
		 * allow); out: the newest. */
		rc = run_abort_queued(rn, jfd, name, NULL, user, out);
		n = files_list(jfd, time_is_run_id, SIZE_MAX, &ids);
		for (int i = n - 1; i >= 0; i--)
			if (abort_live(rn, name, jfd, ids[i], active, user) == 0) {
				if (!out[0])
					memcpy(out, ids[i], RUN_ID_LEN + 1);
				rc = 0;
			}
		files_free_names(ids, n < 0 ? 0 : n);
		close(jfd);
		return rc;
	}
	if (runrec_load(jfd, id, &rec) < 0) {
		close(jfd);
		return -ENOENT;
	}
	memcpy(out, id, RUN_ID_LEN + 1);
	if (strcmp(rec.status, "Queued") == 0)
		rc = run_abort_queued(rn, jfd, name, id, user, out);
	else
		rc = abort_live(rn, name, jfd, id, active, user) == 0 ? 0 : -EALREADY;
	runrec_free(&rec);
	close(jfd);
	return rc;
}

/* ---- recovery ---- */

/* Run id (its record rec, in progress) of job name is dead — its host
 * went away: the record becomes Aborted with the line saying why; its
 * process group is killed when this instance left it behind. */
static void abort_dead(struct runner *rn, int jfd, const char *name, struct runrec *rec)
{
	int dfd = openat(jfd, rec->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct joblog *lg;
	char *text;

	if (dfd < 0)
		return;
	lg = joblog_open(dfd, "output_log.txt", NULL, rn->c.instance);
	if ((!rec->instance || strcmp(rec->instance, rn->c.instance) == 0) && rec->pid > 0 &&
	    rec->pid_start > 0 && process_start_time(rec->pid) == rec->pid_start) {
		kill(-rec->pid, SIGKILL);
		log_warn("run %s of %s: killed process group %d left by a crash", rec->id, name,
			 rec->pid);
	}
	snprintf(rec->status, sizeof(rec->status), "Aborted");
	rec->end = time_now_ticks();
	text = runrec_serialize(rec);
	if (text)
		files_write_atomic(dfd, "status", text, strlen(text), 0644, 1);
	free(text);
	joblog_sys(lg, 1, "The host went away during the run");
	joblog_sys(lg, 0, "Status changed to Aborted");
	joblog_close(lg);
	webhook_emit(registry_find(rn->c.registry, JOB_TRIGGERED, name), "failure", rec, dfd);
	log_info("run %s of %s was in progress when its host stopped: Aborted", rec->id, name);
	close(dfd);
	registry_touch_runs(rn->c.registry, JOB_TRIGGERED, name);
}

/* 1 for a record of a run that took a lock and has not ended. */
static int started_in_progress(const struct runrec *rec)
{
	return runrec_in_progress(rec) && !runrec_waiting(rec);
}

void run_reap_slot(struct runner *rn, int jfd, const char *name, int slot)
{
	char **ids;
	int n = files_list(jfd, time_is_run_id, SIZE_MAX, &ids);

	/* This instance holds the slot: a record that says it runs in it is
	 * a run whose host went away. */
	for (int i = 0; i < n; i++) {
		struct runrec rec;

		if (runrec_load(jfd, ids[i], &rec) < 0)
			continue;
		if (rec.slot == slot && started_in_progress(&rec))
			abort_dead(rn, jfd, name, &rec);
		runrec_free(&rec);
	}
	files_free_names(ids, n < 0 ? 0 : n);
}

/* Start-up: run id of job name, when this instance left it in progress
 * (its lock is free), becomes Aborted. */
static void recover_run(struct runner *rn, int jfd, int lock_fd, const char *name, const char *id)
{
	struct runrec rec;

	if (runrec_load(jfd, id, &rec) < 0)
		return;
	/* Held while the record is rewritten: no run of another instance
	 * starts in that lock meanwhile. */
	if (started_in_progress(&rec) &&
	    (!rec.instance || strcmp(rec.instance, rn->c.instance) == 0) &&
	    (lock_fd < 0 || slot_lock(lock_fd, rec.slot, F_WRLCK) == 0)) {
		abort_dead(rn, jfd, name, &rec);
		if (lock_fd >= 0)
			slot_lock(lock_fd, rec.slot, F_UNLCK);
	}
	runrec_free(&rec);
}

/* Start-up: the runs of one job this instance left in progress — the
 * newest that is not Queued, or under allow every one in a slot — and the
 * oldest: a recycled folder that a crash left holding the next run's
 * first record (run_record_recycled). */
static void recover_one(void *arg, enum job_type t, const char *name, struct job *j)
{
	struct runner *rn = arg;
	const struct home *h = rn->c.home;
	char active[RUN_ID_LEN + 1], **ids = NULL;
	int jfd, lock_fd, queued, n;

	(void)t;
	jfd = openat(h->data_fd[JOB_TRIGGERED], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (jfd < 0)
		return;
	/* Queued runs wait for the lock and survive a restart. */
	run_active(jfd, active, &queued, 0);
	lock_fd = openat(jfd, "triggeredJob.lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	n = files_list(jfd, time_is_run_id, SIZE_MAX, &ids);
	if (j && run_policy(j) == POLICY_ALLOW) {
		for (int i = n - 1; i >= 0; i--)
			recover_run(rn, jfd, lock_fd, name, ids[i]);
	} else {
		if (active[0])
			recover_run(rn, jfd, lock_fd, name, active);
		if (n > 0 && strcmp(ids[0], active) != 0)
			recover_run(rn, jfd, lock_fd, name, ids[0]);
	}
	files_free_names(ids, n < 0 ? 0 : n);
	if (lock_fd >= 0)
		close(lock_fd);
	close(jfd);
}

void runner_recover(struct runner *rn)
{
	/* First what the journal knows of, then what is left in progress. */
	run_journal_open(rn);
	registry_replay(rn->c.registry, JOB_TRIGGERED, recover_one, rn);
}
