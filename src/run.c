/*
 * run: the life of a triggered run, one state machine per run.
 *
 * table:
 *   state \ event  BEGIN    COPIED   NOCOPY   EXIT     IDLE     SHUTDOWN DELETED  KILL     ABORT    TIMEOUT  RETRY    STARTED
 *   ACCEPTED       begin    -        -        -        -        end      end      -        end      -        -        -
 *   COPYING        -        spawn    nocopy   -        -        cancel   cancel   -        cancel   -        -        -
 *   CANCELLED      -        end      end      -        -        -        -        -        -        -        -        -
 *   RUNNING        -        -        -        exited   idle     stop     doom     -        stop     expire   -        started
 *   STOPPING       -        -        -        exited   -        -        doom     kill     -        -        -        started
 *   WAITING        -        -        -        -        -        end      end      -        end      lapse    spawn    -
 *   ENDED          -        -        -        -        -        -        -        -        -        -        -        -
 * end of table (checked against the code by tests/unit/test_run.c)
 *
 * runner_start (in the request, or the scheduler's tick) takes the run
 * lock, trims the history, writes the record "Initializing" (durable by
 * its line in the run journal, run_journal.c) and posts BEGIN; the reply
 * goes out before the loop drains it.
 *   begin    the log; the working copy when it is stale (COPYING, on the
 *            thread pool), else straight to spawn
 *   spawn    the process (src/launch.c), sent to the spawn helper; idle
 *            checks
 *   started  the helper's answer, read at the end of the drain with the
 *            other spawns' (src/child.c): pid and record "Running"; or
 *            it could not start: the exit that follows ends it Failed
 *   nocopy   the copy failed: Failed
 *   cancel   a stop came while the copy is on the thread pool: wait for it
 *   end      nothing ran: Aborted (or nothing recorded for a deleted job)
 *   exited   the child is done (reaped AND both pipes at EOF, src/child.c):
 *            a failed attempt with attempts left (retries) waits
 *            min(retry_delay x 2^(k-1), retry_max_delay) in WAITING, then
 *            RETRY spawns the next; else the final status by why the run
 *            ended, durable; unlock
 *   lapse    the timeout expires between attempts: Failed
 *   idle     no output nor CPU for WEBJOBS_IDLE_TIMEOUT: SIGKILL, Failed
 *   stop     shutdown or abort: shutdown file + SIGTERM, SIGKILL after the
 *            job's stopping_wait_time (KILL), Aborted (an abort writes
 *            "Run aborted by {user}" first)
 *   doom     the job is deleted: SIGKILL now, nothing recorded
 *   expire   the run's timeout (timeout, WEBJOBS_RUN_TIMEOUT) from its first
 *            Running: stopped as by an abort, Failed
 * Only dispatch() sets a state, and it runs from the loop's event queue.
 *
 * The run lock is an OFD lock (fcntl F_OFD_SETLK) on triggeredJob.lock:
 * see docs/DECISIONS.md for why not flock or classic POSIX locks.
 */
#define _GNU_SOURCE
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "evq.h"
#include "files.h"
#include "joblog.h"
#include "launch.h"
#include "log.h"
#include "metrics.h"
#include "process.h"
#include "runrec.h"
#include "webhook.h"

#include "run_int.h"

static const char *const state_names[R_COUNT] = {
	"ACCEPTED", "COPYING", "CANCELLED", "RUNNING", "STOPPING", "WAITING", "ENDED"
};
static const char *const event_names[E_COUNT] = {
	"BEGIN", "COPIED", "NOCOPY", "EXIT", "IDLE", "SHUTDOWN", "DELETED", "KILL", "ABORT",
	"TIMEOUT", "RETRY", "STARTED"
};


struct runner *runner_new(uv_loop_t *loop, const struct runner_config *c)
{
	struct runner *rn = calloc(1, sizeof(*rn));

	if (!rn)
		return NULL;
	rn->loop = loop;
	rn->c = *c;
	uv_timer_init(loop, &rn->abort_poll);
	rn->abort_poll.data = rn;
	uv_timer_init(loop, &rn->place);
	rn->place.data = rn;
	/* Abort markers and queued runs, looked for every second. */
	uv_timer_start(&rn->abort_poll, run_on_abort_poll, 1000, 1000);
	/* The runs' durable records of one drain share one sync. */
	evq_on_drained(runner_drained, rn);
	return rn;
}

void runner_free(struct runner *rn)
{
	evq_off_drained(runner_drained);
	run_journal_close(rn);
	free(rn);
}

/* ---- records ---- */

void run_note(struct run *r, int placed)
{
	if (!runrec_waiting(&r->rec) && r->why != WHY_DELETED && !r->pending)
		registry_note_run(r->rn->c.registry, r->l.name, &r->rec, placed,
				  r->has_out || r->log_begun, r->has_err);
}

int run_write_record(struct run *r, int durable)
{
	int rc;

	/* A pending run's record is written when it is placed; one that
	 * must be durable now is placed with it (its end, mostly: the
	 * folder gets the final record, not Running then the final one). */
	if (r->pending && !durable)
		return 0;
	rc = run_place_durable(r);
	if (rc <= 0)
		return rc; /* placed with it: told, or its failure logged */
	rc = run_record(r->rn, r->l.name, r->dfd, &r->rec, durable);
	if (rc < 0)
		log_error("run %s of %s: cannot write its status: %s", r->id, r->l.name,
			  strerror(-rc));
	else
		run_note(r, 0);
	return rc;
}

static void set_status(struct run *r, const char *status, int durable)
{
	snprintf(r->rec.status, sizeof(r->rec.status), "%s", status);
	run_write_record(r, durable);
	joblog_sys(r->log, 0, "Status changed to %s", status);
}

/* The run's log: on the run's folder, which outlives it (finish closes
 * the log first), and on the file the recycle left open with the run's
 * first line, its offset at the line's end, when it did (two calls less
 * than an open and a dup). */
static struct joblog *open_log(struct run *r)
{
	int fd = r->log_fd;

	r->log_fd = -1;
	return joblog_borrow(r->dfd, fd, "output_log.txt", "error_log.txt", r->rn->c.instance);
}

/* ---- the end of a run ---- */

void run_free(struct run *r)
{
	evq_forget(r);
	run_unplace(r);
	joblog_close(r->log);
	if (r->log_fd >= 0)
		close(r->log_fd);
	runrec_free(&r->rec);
	launch_clear(&r->l);
	free(r->aborter);
	free(r->start_err);
	free(r);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct run *r = h->data;

	if (--r->handles > 0)
		return;
	run_free(r);
}

static void close_handle(struct run *r, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, on_handle_closed);
}

/* Why an attempt failed, by its exit code or signal. */
static void say_failure(struct run *r)
{
	char sig[32];

	if (WIFEXITED(r->wstatus)) {
		joblog_sys(r->log, 1, "Job failed due to exit code %d", WEXITSTATUS(r->wstatus));
	} else {
		process_signal_name(WTERMSIG(r->wstatus), sig, sizeof(sig));
		joblog_sys(r->log, 1, "Job failed due to signal %s", sig);
	}
}

/* The abort's line, once, when the abort takes effect. */
static void say_abort(struct run *r)
{
	if (r->abort_said)
		return;
	r->abort_said = 1;
	joblog_sys(r->log, 1, "Run aborted by %s", r->aborter ? r->aborter : "an unknown user");
	metrics_run_control(r->l.name, "abort");
}

static void record_end(struct run *r)
{
	switch (r->why) {
	case WHY_DELETED:
		/* The job and its data are gone: nothing to record. */
		return;
	case WHY_ABORTED:
		say_abort(r);
		set_status(r, "Aborted", 1);
		return;
	case WHY_SHUTDOWN:
		set_status(r, "Aborted", 1);
		return;
	case WHY_FAILED_START:
	case WHY_IDLE:
	case WHY_TIMEOUT:
		set_status(r, "Failed", 1);
		return;
	case WHY_EXIT:
		break;
	}
	if (WIFEXITED(r->wstatus)) {
		r->rec.has_exit_code = 1;
		r->rec.exit_code = WEXITSTATUS(r->wstatus);
	}
	if (WIFEXITED(r->wstatus) && r->rec.exit_code == 0) {
		set_status(r, "Success", 1);
	} else {
		set_status(r, "Failed", 1);
		say_failure(r);
	}
}

static int queues(struct runner *rn, const char *name)
{
	const struct job *j = registry_find(rn->c.registry, JOB_TRIGGERED, name);
	enum policy p = j ? run_policy(j) : POLICY_FORBID;

	return p == POLICY_QUEUE || p == POLICY_REPLACE;
}

/* The final status, durable; the lock released; the run unlinked. */
static enum state finish(struct run *r)
{
	struct runner *rn = r->rn;

	r->rec.end = time_now_ticks();
	/* A pending run with its log in memory is placed by its final
	 * record (record_end); without, the log needs its folder first. */
	if (r->why == WHY_DELETED)
		run_unplace(r);
	else if (!r->log)
		run_place(r);
	if (!r->log && r->why != WHY_DELETED)
		r->log = open_log(r);
	r->has_out |= r->log != NULL;
	r->has_err |= joblog_has_err(r->log);
	record_end(r);
	joblog_close(r->log);
	r->log = NULL;
	/* Told once per run, after its last attempt, by this instance: the
	 * one that wrote the final status. */
	if (r->why != WHY_DELETED)
		run_tell_hook(rn, r->l.name, webhook_final_event(r->rec.status), &r->rec, r->dfd);
	close(r->dfd);
	r->dfd = -1;
	/* Closing the lock file releases the run lock. */
	close(r->lock_fd);
	r->lock_fd = -1;
	child_free(r->child);
	r->child = NULL;
	close_handle(r, (uv_handle_t *)&r->timer);
	close_handle(r, (uv_handle_t *)&r->kill_timer);
	close_handle(r, (uv_handle_t *)&r->limit);
	close_handle(r, (uv_handle_t *)&r->retry);
	if (r->prev)
		r->prev->next = r->next;
	else
		rn->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	registry_touch_runs(rn->c.registry, JOB_TRIGGERED, r->l.name);
	if (r->why != WHY_DELETED)
		metrics_run_finished(r->l.name, r->rec.status,
				     (double)(r->rec.end - r->rec.start) / TICKS_PER_SEC);
	/* The lock is free: a queued run of the job may start now (a job
	 * that does not queue is left to the 1 s poll, for runs queued
	 * before its policy changed). */
	if (r->why != WHY_DELETED && !rn->shutting && queues(rn, r->l.name))
		run_pump(rn, r->l.name);
	log_debug("run %s of %s ended %s", r->id, r->l.name, r->rec.status);
	if (rn->shutting && !rn->runs && rn->done)
		rn->done(rn->done_arg);
	return R_ENDED;
}

/* Tells the job's hook of event, with the run's folder (the payload says
 * which logs it has): a pending run is placed first. */
static void hook(struct run *r, const char *event)
{
	const struct job *j = registry_find(r->rn->c.registry, JOB_TRIGGERED, r->l.name);

	if (!webhook_wanted(j, event))
		return;
	run_place(r);
	webhook_emit(j, event, &r->rec, r->dfd);
}

/* ---- the process's callbacks ---- */

static void on_output(void *arg)
{
	struct run *r = arg;

	r->last_activity = uv_now(r->rn->loop);
	/* A pending run's output waits in memory: not more than this. */
	if (joblog_waiting(r->log) > PENDING_LOG_MAX)
		run_place(r);
	if (!r->has_err && joblog_has_err(r->log)) {
		r->has_err = 1; /* its first stderr line made error_log.txt */
		run_note(r, 0);
	}
}

static void on_done(void *arg, int wstatus)
{
	struct run *r = arg;

	launch_ended(&r->l);
	r->wstatus = wstatus;
	run_post(r, E_EXIT);
}

/* The spawn's result (child.h): STARTED, with the reason when it failed. */
static void on_started(void *arg, struct child *c, const char *err)
{
	struct run *r = arg;

	(void)c;
	free(r->start_err);
	r->start_err = err ? strdup(err) : NULL;
	if (err && !r->start_err)
		r->start_err = strdup("out of memory");
	/* Said here, before the loop reads any of the job's output: the log
	 * says Running before the job's first line. STARTED writes the
	 * record. */
	if (!err && r->attempt == 1 && r->state == R_RUNNING)
		joblog_sys(r->log, 0, "Status changed to Running"); /* as a_started's record */
	/* Accepted ahead of its second: its fire is its process's start. */
	if (!err && r->attempt == 1 && r->not_before) {
		int64_t late = process_realtime_ns() - r->not_before;

		metrics_fire_delay(late > 0 ? (double)late / 1e9 : 0.0);
	}
	run_post(r, E_STARTED);
}

static const struct child_ops run_child_ops = { on_output, on_done, on_started, 0 };

/* The idle timeout: no output and no CPU time in the run's processes. */
static void on_idle_check(uv_timer_t *t)
{
	struct run *r = t->data;
	int64_t limit = hostcfg_get(r->rn->c.cfg)->idle_timeout;
	int64_t cpu;
	uint64_t now = uv_now(r->rn->loop);

	if (r->state != R_RUNNING || limit <= 0)
		return;
	cpu = child_cpu(r->child);
	if (cpu != r->last_cpu) {
		r->last_cpu = cpu;
		r->last_activity = now;
		return;
	}
	if (now - r->last_activity >= (uint64_t)limit * 1000)
		run_post(r, E_IDLE);
}

static void on_limit(uv_timer_t *t)
{
	run_post(t->data, E_TIMEOUT);
}

static void on_stop_wait(uv_timer_t *t)
{
	run_post(t->data, E_KILL);
}

static void work_copy(uv_work_t *w)
{
	struct run *r = w->data;

	r->copy_rc = launch_make_copy(&r->l);
}

static void after_copy(uv_work_t *w, int status)
{
	struct run *r = w->data;

	if (status < 0 && r->copy_rc == 0)
		r->copy_rc = status;
	run_post(r, r->copy_rc < 0 ? E_NOCOPY : E_COPIED);
}

/* ---- actions ---- */

typedef enum state (*action)(struct run *, enum event);

static enum state a_nothing(struct run *r, enum event e)
{
	(void)e;
	return r->state;
}

static enum state a_spawn(struct run *r, enum event e)
{
	struct launch_args a = { r->id, r->rec.arguments ? r->rec.arguments : "", 0,
				 ++r->attempt, r->not_before };
	int64_t limit = hostcfg_get(r->rn->c.cfg)->idle_timeout;
	uint64_t every = limit > 0 && limit * 250 < 5000 ? (uint64_t)limit * 250 : 5000;
	char err[512];
	struct job *j;

	(void)e;
	if (r->attempt == 1 && !r->copy_fresh &&
	    (j = registry_find(r->rn->c.registry, JOB_TRIGGERED, r->l.name)))
		job_set_copy_gen(j, r->l.slot, r->l.gen);
	if (r->attempts > 1)
		joblog_sys(r->log, 0, "Attempt %d of %d started", r->attempt, r->attempts);
	r->rec.attempt = r->attempt;
	r->child = launch_spawn(r->rn->loop, &r->l, &a, r->log, &run_child_ops, r, err,
				sizeof(err));
	if (!r->child) {
		joblog_sys(r->log, 1, "Job failed to start: %s", err);
		r->why = WHY_FAILED_START;
		return finish(r);
	}
	/* The timeout counts across attempts and the waits between. */
	if (r->attempt == 1 && r->timeout > 0)
		uv_timer_start(&r->limit, on_limit, (uint64_t)r->timeout * 1000, 0);
	r->last_activity = uv_now(r->rn->loop);
	r->last_cpu = -2;
	uv_timer_start(&r->timer, on_idle_check, every, every);
	/* Its pid and the Running record come with STARTED: the spawns of
	 * a drain go to the helper together (child.h). */
	return R_RUNNING;
}

/* The process started (its pid in the record: Running), or could not:
 * the exit that follows ends the run Failed, with no retry. */
static enum state a_started(struct run *r, enum event e)
{
	(void)e;
	if (r->start_err) {
		joblog_sys(r->log, 1, "Job failed to start: %s", r->start_err);
		if (r->why == WHY_EXIT)
			r->why = WHY_FAILED_START;
		return r->state;
	}
	r->rec.pid = child_pid(r->child);
	r->rec.pid_start = child_start_time(r->child);
	if (r->attempt == 1 && r->state == R_RUNNING)
		snprintf(r->rec.status, sizeof(r->rec.status), "Running");
	/* Its pid on disk, for a host that crashes to be ended by the next
	 * — unless the process is gone already (reaped, its group ended: a
	 * scheduled run's echo is, by the turn its answer is read), when
	 * its exit, on its way, writes the next record: one write of three
	 * less (docs/DECISIONS.md, "The cost of a scheduled run"). */
	if (!child_exited(r->child))
		run_write_record(r, 0); /* the log line came with the answer */
	if (r->attempt == 1 && r->state == R_RUNNING)
		hook(r, "start");
	return r->state;
}

/* The process starts here, a turn after the 202. Nothing is re-read: what
 * the run needs was taken from the job when it was accepted. */
static enum state a_begin(struct run *r, enum event e)
{
	struct runner *rn = r->rn;

	/* The log is opened here, after the reply: one file less to create
	 * before the 202; a pending run's in memory. */
	r->log = r->pending ? joblog_pending("output_log.txt", "error_log.txt", rn->c.instance)
			    : open_log(r);
	if (!r->log) {
		log_error("run %s of %s: cannot open its log: %s", r->id, r->l.name, strerror(errno));
		r->log = joblog_open(r->dfd, "/dev/null", NULL, rn->c.instance);
	} else if (!r->has_out) {
		r->has_out = 1;
		run_note(r, 0);
	}
	if (!r->log_begun)
		joblog_sys(r->log, 0, "%s", RUN_FIRST_LINE);
	if (r->copy_fresh)
		return a_spawn(r, e);
	r->work.data = r;
	if (uv_queue_work(rn->loop, &r->work, work_copy, after_copy) < 0) {
		r->copy_rc = -EIO;
		run_post(r, E_NOCOPY);
	}
	return R_COPYING;
}

static enum state a_nocopy(struct run *r, enum event e)
{
	(void)e;
	joblog_sys(r->log, 1, "Cannot make the working copy of the job: %s",
		   strerror(-r->copy_rc));
	r->why = WHY_FAILED_START;
	return finish(r);
}

static void note_why(struct run *r, enum event e)
{
	if (e == E_DELETED)
		r->why = WHY_DELETED;
	else if (e == E_SHUTDOWN && r->why == WHY_EXIT)
		r->why = WHY_SHUTDOWN;
	else if (e == E_ABORT && (r->why == WHY_EXIT || r->why == WHY_SHUTDOWN))
		r->why = WHY_ABORTED;
}

static enum state a_cancel(struct run *r, enum event e)
{
	note_why(r, e);
	return R_CANCELLED;
}

static enum state a_end(struct run *r, enum event e)
{
	note_why(r, e);
	if (r->why == WHY_EXIT)
		r->why = WHY_SHUTDOWN; /* a cancelled start ends Aborted */
	return finish(r);
}

static void on_retry(uv_timer_t *t)
{
	run_post(t->data, E_RETRY);
}

/* 1 when this attempt failed by its exit code, a signal or the idle
 * timeout, and another may follow (not after an abort, a timeout or a
 * shutdown, which set why). */
static int retries_left(const struct run *r)
{
	int failed = r->why == WHY_IDLE ||
		     (r->why == WHY_EXIT && !(WIFEXITED(r->wstatus) && WEXITSTATUS(r->wstatus) == 0));

	return failed && r->attempt < r->attempts && !r->rn->shutting;
}

static enum state a_exited(struct run *r, enum event e)
{
	long long d;

	(void)e;
	if (!retries_left(r) || r->why == WHY_FAILED_START)
		return finish(r);
	if (r->why == WHY_EXIT)
		say_failure(r);
	d = r->retry_delay << (r->attempt - 1 < 20 ? r->attempt - 1 : 20);
	if (d > r->retry_max_delay || d < 0)
		d = r->retry_max_delay;
	joblog_sys(r->log, 0, "Attempt %d of %d failed; attempt %d starts in %lld seconds",
		   r->attempt, r->attempts, r->attempt + 1, d);
	metrics_run_control(r->l.name, "retry");
	hook(r, "retry");
	child_free(r->child);
	r->child = NULL;
	uv_timer_stop(&r->timer);
	r->why = WHY_EXIT;
	uv_timer_start(&r->retry, on_retry, (uint64_t)d * 1000, 0);
	return R_WAITING;
}

/* The timeout expired between two attempts. */
static enum state a_lapse(struct run *r, enum event e)
{
	(void)e;
	uv_timer_stop(&r->retry);
	joblog_sys(r->log, 1, "Job failed due to timeout of %lld seconds", r->timeout);
	metrics_run_control(r->l.name, "timeout");
	r->why = WHY_TIMEOUT;
	return finish(r);
}

static enum state a_idle(struct run *r, enum event e)
{
	(void)e;
	joblog_sys(r->log, 1, "Job aborted due to no output nor CPU activity for %lld seconds",
		   (long long)hostcfg_get(r->rn->c.cfg)->idle_timeout);
	r->why = WHY_IDLE;
	child_kill(r->child, SIGKILL);
	return R_STOPPING;
}

static enum state a_stop(struct run *r, enum event e)
{
	note_why(r, e);
	if (r->why == WHY_ABORTED)
		say_abort(r);
	if (r->l.stop_wait <= 0) {
		child_kill(r->child, SIGKILL);
		return R_STOPPING;
	}
	launch_ask_stop(&r->l, r->child);
	uv_timer_start(&r->kill_timer, on_stop_wait, (uint64_t)r->l.stop_wait * 1000, 0);
	return R_STOPPING;
}

static enum state a_expire(struct run *r, enum event e)
{
	joblog_sys(r->log, 1, "Job failed due to timeout of %lld seconds", r->timeout);
	metrics_run_control(r->l.name, "timeout");
	r->why = WHY_TIMEOUT;
	return a_stop(r, e);
}

static enum state a_doom(struct run *r, enum event e)
{
	note_why(r, e);
	child_kill(r->child, SIGKILL);
	return R_STOPPING;
}

static enum state a_kill(struct run *r, enum event e)
{
	(void)e;
	child_kill(r->child, SIGKILL);
	return R_STOPPING;
}

struct cell {
	action fn;
	const char *name;
};

#define C(f) { a_##f, #f }
#define NO { a_nothing, "-" }
static const struct cell table[R_COUNT][E_COUNT] = {
	/*              BEGIN     COPIED    NOCOPY     EXIT       IDLE     SHUTDOWN   DELETED    KILL     ABORT      TIMEOUT    RETRY     STARTED */
	[R_ACCEPTED]  = { C(begin), NO,       NO,        NO,        NO,      C(end),    C(end),    NO,      C(end),    NO,        NO,       NO },
	[R_COPYING]   = { NO,       C(spawn), C(nocopy), NO,        NO,      C(cancel), C(cancel), NO,      C(cancel), NO,        NO,       NO },
	[R_CANCELLED] = { NO,       C(end),   C(end),    NO,        NO,      NO,        NO,        NO,      NO,        NO,        NO,       NO },
	[R_RUNNING]   = { NO,       NO,       NO,        C(exited), C(idle), C(stop),   C(doom),   NO,      C(stop),   C(expire), NO,       C(started) },
	[R_STOPPING]  = { NO,       NO,       NO,        C(exited), NO,      NO,        C(doom),   C(kill), NO,        NO,        NO,       C(started) },
	[R_WAITING]   = { NO,       NO,       NO,        NO,        NO,      C(end),    C(end),    NO,      C(end),    C(lapse),  C(spawn), NO },
	[R_ENDED]     = { NO,       NO,       NO,        NO,        NO,      NO,        NO,        NO,      NO,        NO,        NO,       NO },
};
#undef C
#undef NO

/* The only caller of the actions and the only place a state is set; it
 * runs from the loop's event queue alone. */
static void dispatch(void *obj, int event)
{
	struct run *r = obj;

	r->state = table[r->state][event].fn(r, (enum event)event);
}

void run_post(struct run *r, enum event e)
{
	evq_post(dispatch, r, (int)e);
}

static const char *cell_name(int st, int e)
{
	return table[st][e].name;
}

char *runner_table_text(void)
{
	return evq_table_text(state_names, R_COUNT, event_names, E_COUNT, cell_name);
}

static struct run *live_run(struct runner *rn, const char *name)
{
	for (struct run *r = rn->runs; r; r = r->next)
		if (strcmp(r->l.name, name) == 0)
			return r;
	return NULL;
}

const char *runner_probe(struct runner *rn, const char *name, int *has_child)
{
	struct run *r = live_run(rn, name);

	*has_child = r && r->child;
	return r ? state_names[r->state] : NULL;
}

int runner_inject(struct runner *rn, const char *name, const char *event)
{
	struct run *r = live_run(rn, name);

	for (int e = 0; r && e < E_COUNT; e++)
		if (strcmp(event_names[e], event) == 0) {
			run_post(r, (enum event)e);
			return 0;
		}
	return -1;
}

/* ---- stopping ---- */

void runner_kill_job(struct runner *rn, const char *name)
{
	for (struct run *r = rn->runs; r; r = r->next)
		if (strcmp(r->l.name, name) == 0)
			run_post(r, E_DELETED);
}

void runner_shutdown(struct runner *rn, void (*done)(void *), void *arg)
{
	rn->shutting = 1;
	uv_close((uv_handle_t *)&rn->abort_poll, NULL);
	uv_close((uv_handle_t *)&rn->place, NULL);
	run_journal_stop(rn);
	rn->done = done;
	rn->done_arg = arg;
	if (!rn->runs) {
		done(arg);
		return;
	}
	for (struct run *r = rn->runs; r; r = r->next)
		run_post(r, E_SHUTDOWN);
}
