/*
 * supervisor: the state machine of each continuous job on this instance.
 *
 * table:
 *   state \ event  START    STOP     EXIT     TIMER    CHANGED  DELETED  SHUTDOWN READY    FAILED   STARTED
 *   STOPPED        begin    -        -        -        -        remove   halt     -        -        -
 *   INACTIVE       -        halt     -        begin    -        remove   halt     -        -        -
 *   STARTING       -        defer    failed   -        defer    defer    defer    spawn    failed   started
 *   RUNNING        -        stop     went     check    stop     doom     stop     -        -        -
 *   PENDING        -        halt     -        begin    begin    remove   halt     -        -        -
 *   STOPPING       -        -        stopped  kill     -        doom     -        -        -        -
 * end of table (checked against the code by tests/unit/test_supervisor.c)
 *
 * "-" is an explicit no-op (PENDING x START too: a re-read of the job that
 * changed nothing must not cut its restart delay short; CHANGED does).
 * Each action returns the next state; only
 * dispatch() sets a state, and dispatch() runs only from the loop's event
 * queue (src/evq.h): every event is posted, never handled inside the call
 * that caused it.
 *
 * begin: take the singleton lock when needed (else INACTIVE, retried every
 * 5 s), snapshot the job, then make the working copy (thread pool) or go
 * straight to the spawn queue. STARTING waits for READY (its turn in the
 * spawn queue, at most 64 spawns per loop turn) or FAILED (the copy or the
 * spawn failed: treated as an exit, so the restart delay applies). spawn
 * sends the spawn to the helper (src/child.c) and STARTING waits on for
 * STARTED, the helper's answer, read whenever it comes (the loop never
 * waits for it): RUNNING (the status and its log line were written with
 * the answer, before the loop could read any of the job's output), or the
 * spawn failed and the EXIT that follows is a failed start. Events that come
 * while STARTING are deferred and posted again when it leaves STARTING
 * (the last one wins: each reconciles from the job as it is then).
 * stop: shutdown file + SIGTERM to the group, SIGKILL after
 * stopping_wait_time; what follows (stay stopped, start again, remove, exit)
 * is decided when the process is down. doom: the job was deleted, SIGKILL
 * now. check (on a shared home, 2.5 s after RUNNING began): the data
 * folder opened at the start is still the job's, or stop, and begin opens
 * the job's own (docs/SCALE-OUT.md, "A job deleted on one machine");
 * begin also waits as INACTIVE, retried every second, while the name
 * still leads to a folder a delete marked. Every change of state writes
 * status_{inst} and its log line (docs/API.md, "Continuous jobs").
 */
#define _GNU_SOURCE
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "evq.h"
#include "fence.h"
#include "files.h"
#include "instances.h"
#include "joblog.h"
#include "launch.h"
#include "log.h"
#include "metrics.h"
#include "nametab.h"
#include "process.h"
#include "webhook.h"
#include "settings.h"
#include "share.h"
#include "supervisor_int.h"

#define SINGLETON_RETRY_MS 5000
#define DATA_RETRY_MS 1000
/* On a shared home, how long after a start its data folder is looked at
 * again: past any client's name cache (docs/SCALE-OUT.md). */
#define DATA_CHECK_MS 2500
#define LONG_RUN_MS (120 * 1000)
#define DEFAULT_STOP_WAIT 5
/* Spawns per turn of the loop: a restart storm of thousands of jobs must
 * not keep the loop from serving requests for seconds. */
#define SPAWNS_PER_TURN 64

static const char *const state_names[S_COUNT] = {
	"STOPPED", "INACTIVE", "STARTING", "RUNNING", "PENDING", "STOPPING"
};
static const char *const event_names[E_COUNT] = {
	"START", "STOP", "EXIT", "TIMER", "CHANGED", "DELETED", "SHUTDOWN", "READY", "FAILED",
	"STARTED"
};
static const char *const status_names[S_COUNT] = {
	"Stopped", "InactiveInstance", "Starting", "Running", "PendingRestart", "Stopping"
};

static void post(struct sv *v, enum event e);

/* ---- the process ---- */

static void on_done(void *arg, int wstatus)
{
	struct sv *v = arg;

	launch_ended(&v->l);
	v->wstatus = wstatus;
	child_free(v->child);
	v->child = NULL;
	post(v, E_EXIT);
}

/* The helper's answer (child.h); the pid file is written already, by
 * the process before its exec (src/clone.c). Started: unless the answer came inside
 * a_spawn, which goes RUNNING itself — the status Running with its log
 * line, before the loop reads any of the job's output; STARTED then sets
 * the state. */
static void on_started(void *arg, struct child *c, const char *err)
{
	struct sv *v = arg;

	if (err) {
		snprintf(v->fail, sizeof(v->fail), "Job failed to start: %s", err);
		v->answer = -1;
	} else {
		v->answer = 1;
		/* v->child is still NULL inside launch_spawn (an answer at
		 * once), set when the answer comes later. */
		if (v->child) {
			v->shown = S_RUNNING;
			sv_publish(v, status_names[S_RUNNING]);
		}
	}
	post(v, E_STARTED);
}

static const struct child_ops sv_child_ops = { NULL, on_done, on_started, 1 };

static void work_copy(uv_work_t *w)
{
	struct sv *v = w->data;

	v->copy_rc = launch_make_copy(&v->l);
}

static void on_ready(struct spawnq_node *n)
{
	post((struct sv *)((char *)n - offsetof(struct sv, qn)), E_READY);
}

static void queue_spawn(struct sv *v)
{
	spawnq_push(&v->s->spawns, &v->qn);
}

static void after_copy(uv_work_t *w, int status)
{
	struct sv *v = w->data;

	if (status < 0 || v->copy_rc < 0) {
		snprintf(v->fail, sizeof(v->fail), "Cannot make the working copy of the job: %s",
			 strerror(status < 0 ? -status : -v->copy_rc));
		post(v, E_FAILED);
		return;
	}
	queue_spawn(v);
}

/* ---- actions ---- */

static struct job *current(struct sv *v)
{
	return registry_find(v->s->c.registry, JOB_CONTINUOUS, v->name);
}

/* 1 when the job should run on this instance now. */
static int wanted(struct sv *v, const struct job *j)
{
	return j && !v->deleted && !job_disabled(j) && !v->s->shutting &&
	       !hostcfg_get(v->s->c.cfg)->stopped;
}

static void on_timer(uv_timer_t *t)
{
	post(t->data, E_TIMER);
}

typedef enum state (*action)(struct sv *, enum event);

static enum state a_nothing(struct sv *v, enum event e)
{
	(void)e;
	return v->state;
}


static enum state a_begin(struct sv *v, enum event e)
{
	struct job *j = current(v);

	(void)e;
	uv_timer_stop(&v->timer);
	if (!wanted(v, j))
		return S_STOPPED;
	v->singleton = settings_bool(job_settings(j), "is_singleton", 0);
	/* The folder a delete on another machine marked and moved away — the
	 * job deployed again since —, or still found by the name for a moment
	 * (docs/SCALE-OUT.md): not the job's; opened again. */
	if (!v->child && v->dfd >= 0 && home_marked_deleted(v->dfd))
		sv_close_files(v);
	if (v->dfd < 0 && sv_open_files(v) == -ESTALE) {
		uv_timer_start(&v->timer, on_timer, DATA_RETRY_MS, 0);
		return S_INACTIVE;
	}
	if (!sv_take_singleton(v)) {
		uv_timer_start(&v->timer, on_timer, SINGLETON_RETRY_MS, 0);
		return S_INACTIVE;
	}
	if (launch_snapshot(&v->l, v->s->c.home, v->s->c.temp, j, DEFAULT_STOP_WAIT) < 0) {
		snprintf(v->fail, sizeof(v->fail), "Job failed to start: out of memory");
		post(v, E_FAILED);
		return S_STARTING;
	}
	if (launch_copy_fresh(&v->l, j)) {
		queue_spawn(v);
		return S_STARTING;
	}
	job_set_copy_gen(j, 0, v->l.gen);
	v->work.data = v;
	if (uv_queue_work(v->s->loop, &v->work, work_copy, after_copy) < 0) {
		v->copy_rc = -EIO;
		after_copy(&v->work, 0);
	}
	return S_STARTING;
}

/* Leaving STARTING: the event that waited is posted again. */
static void replay_deferred(struct sv *v)
{
	if (v->deferred >= 0)
		post(v, (enum event)v->deferred);
	v->deferred = -1;
}

/* The helper's answer: RUNNING, or (failed) STARTING until the EXIT that
 * follows. Nothing when no answer is owed. */
static enum state a_started(struct sv *v, enum event e)
{
	int answer = v->answer;

	(void)e;
	v->answer = 0;
	if (answer <= 0)
		return v->state;
	replay_deferred(v);
	return S_RUNNING;
}

static enum state a_spawn(struct sv *v, enum event e)
{
	struct launch_args a = { "", "", 0, 0, 0 };
	char err[512];

	if (v->deleted || v->s->shutting) {
		/* Going away meanwhile: the deferred event frees it. */
		replay_deferred(v);
		return S_STOPPED;
	}
	if (v->child)
		return v->state; /* one process at a time: its answer is owed */
	process_port_release(v->port);
	a.port = v->port = process_free_port();
	v->started_ms = uv_now(v->s->loop);
	v->answer = 0;
	v->child = launch_spawn(v->s->loop, &v->l, &a, v->log, &sv_child_ops, v, err, sizeof(err));
	if (!v->child) {
		snprintf(v->fail, sizeof(v->fail), "Job failed to start: %s", err);
		post(v, E_FAILED);
		return S_STARTING;
	}
	/* Answered at once (no drain under way): RUNNING now. */
	return v->answer > 0 ? a_started(v, e) : S_STARTING;
}

static enum state a_defer(struct sv *v, enum event e)
{
	/* The copy or the spawn is under way: this event is posted again
	 * when it is over. */
	v->deferred = (int)e;
	if (e == E_DELETED)
		v->deleted = 1;
	return v->state;
}

/* Asks the process to stop; SIGKILL when stopping_wait_time is over. */
static enum state a_stop(struct sv *v, enum event e)
{
	(void)e;
	joblog_sys(v->log, 0, "Stopping the job (waiting up to %lld seconds)", v->l.stop_wait);
	launch_ask_stop(&v->l, v->child);
	uv_timer_start(&v->timer, on_timer,
		       (uint64_t)(v->l.stop_wait > 0 ? v->l.stop_wait : 0) * 1000, 0);
	return S_STOPPING;
}

static enum state a_kill(struct sv *v, enum event e)
{
	(void)e;
	joblog_sys(v->log, 1, "The job did not stop within %lld seconds: killed", v->l.stop_wait);
	child_kill(v->child, SIGKILL);
	return S_STOPPING;
}

/* RUNNING's timer (DATA_CHECK_MS after the start, on a shared home): the
 * data folder opened at the start was one a delete on another machine
 * had marked and was removing, still found by the name then — the job
 * deployed again since —: the job starts again, in its own folder. */
static enum state a_check(struct sv *v, enum event e)
{
	/* (No folder at all — one that could not be opened — is no reason
	 * to stop: the job ran without it before.) */
	if (v->dfd < 0 || !home_marked_deleted(v->dfd))
		return S_RUNNING;
	joblog_sys(v->log, 0, "The job's data folder was moved away by a delete: restarting");
	return a_stop(v, e);
}

/* The job is deleted while its process runs: no grace, it goes now. */
static enum state a_doom(struct sv *v, enum event e)
{
	(void)e;
	uv_timer_stop(&v->timer);
	v->deleted = 1;
	child_kill(v->child, SIGKILL);
	return S_STOPPING;
}

static void sv_free(struct sv *v);
static void check_shutdown(struct supervisor *s);

/* The process went down while it should run: wait, then start again. */
static enum state a_went(struct sv *v, enum event e)
{
	uint64_t lived = uv_now(v->s->loop) - v->started_ms;
	int64_t wait = lived >= LONG_RUN_MS ? 0 : hostcfg_get(v->s->c.cfg)->restart_time;

	(void)e;
	if (WIFEXITED(v->wstatus) && WEXITSTATUS(v->wstatus) == 0) {
		sv_publish(v, "Success");
	} else if (WIFEXITED(v->wstatus)) {
		joblog_sys(v->log, 1, "Job failed due to exit code %d", WEXITSTATUS(v->wstatus));
	} else {
		char sig[32];

		process_signal_name(WTERMSIG(v->wstatus), sig, sizeof(sig));
		joblog_sys(v->log, 1, "Job failed due to signal %s", sig);
	}
	joblog_sys(v->log, 0, "Process went down, waiting for %lld seconds", (long long)wait);
	metrics_restart(v->name);
	webhook_emit(registry_find(v->s->c.registry, JOB_CONTINUOUS, v->name), "exit", NULL, -1);
	uv_timer_start(&v->timer, on_timer, (uint64_t)wait * 1000, 0);
	return S_PENDING;
}

/* The copy or the spawn failed (FAILED; EXIT after a failed answer):
 * logged, then as an exit with code 127. */
static enum state a_failed(struct sv *v, enum event e)
{
	if (v->child)
		return v->state; /* its process is still to answer or end */
	if (v->fail[0])
		joblog_sys(v->log, 1, "%s", v->fail);
	v->fail[0] = '\0';
	v->wstatus = 127 << 8;
	v->started_ms = uv_now(v->s->loop);
	replay_deferred(v);
	return a_went(v, e);
}

/* Down without a process: just stop (the lock goes with it). */
static enum state a_halt(struct sv *v, enum event e)
{
	(void)e;
	uv_timer_stop(&v->timer);
	sv_release_singleton(v);
	if (v->deleted || v->s->shutting)
		sv_free(v);
	return S_STOPPED;
}

static enum state a_remove(struct sv *v, enum event e)
{
	v->deleted = 1;
	return a_halt(v, e);
}

/* The process is down after a stop: stay stopped, start again, or go. */
static enum state a_stopped(struct sv *v, enum event e)
{
	uv_timer_stop(&v->timer);
	if (!v->deleted && !v->s->shutting && wanted(v, current(v))) {
		sv_release_singleton(v);
		return a_begin(v, e);
	}
	return a_halt(v, e);
}

struct cell {
	action fn;
	const char *name;
};

#define C(f) { a_##f, #f }
#define NO { a_nothing, "-" }
static const struct cell table[S_COUNT][E_COUNT] = {
	/*             START     STOP      EXIT        TIMER     CHANGED   DELETED    SHUTDOWN  READY     FAILED     STARTED */
	[S_STOPPED]  = { C(begin), NO,       NO,         NO,       NO,       C(remove), C(halt),  NO,       NO,        NO },
	[S_INACTIVE] = { NO,       C(halt),  NO,         C(begin), NO,       C(remove), C(halt),  NO,       NO,        NO },
	[S_STARTING] = { NO,       C(defer), C(failed),  NO,       C(defer), C(defer),  C(defer), C(spawn), C(failed), C(started) },
	[S_RUNNING]  = { NO,       C(stop),  C(went),    C(check), C(stop),  C(doom),   C(stop),  NO,       NO,        NO },
	[S_PENDING]  = { NO,       C(halt),  NO,         C(begin), C(begin), C(remove), C(halt),  NO,       NO,        NO },
	[S_STOPPING] = { NO,       NO,       C(stopped), C(kill),  NO,       C(doom),   NO,       NO,       NO,        NO },
};
#undef C
#undef NO

/* The only caller of the actions, and the only place a state is set. It
 * runs from the loop's event queue alone. */
static void dispatch(void *obj, int event)
{
	struct sv *v = obj;
	enum state next = table[v->state][event].fn(v, (enum event)event);

	if (event == E_READY)
		spawnq_taken(&v->s->spawns, &v->qn); /* its spawn made, or none due */
	if (next == S_RUNNING && v->state != S_RUNNING && share_active())
		uv_timer_start(&v->timer, on_timer, DATA_CHECK_MS, 0);
	v->state = next;
	if (next != v->shown) {
		v->shown = next;
		sv_publish(v, status_names[next]);
	}
}

static void post(struct sv *v, enum event e)
{
	evq_post(dispatch, v, (int)e);
}

static const char *cell_name(int st, int e)
{
	return table[st][e].name;
}

char *supervisor_table_text(void)
{
	return evq_table_text(state_names, S_COUNT, event_names, E_COUNT, cell_name);
}

int supervisor_probe(const struct supervisor *s, const char *name,
		     struct supervisor_probe *out)
{
	for (const struct sv *v = s->jobs; v; v = v->next)
		if (strcmp(v->name, name) == 0) {
			out->state = state_names[v->state];
			out->has_child = v->child != NULL;
			out->timer_active = uv_is_active((const uv_handle_t *)&v->timer);
			return 0;
		}
	return -1;
}

int supervisor_inject(struct supervisor *s, const char *name, const char *event)
{
	struct sv *v;

	for (v = s->jobs; v && strcmp(v->name, name) != 0; v = v->next)
		;
	for (int e = 0; v && e < E_COUNT; e++)
		if (strcmp(event_names[e], event) == 0) {
			post(v, (enum event)e);
			return 0;
		}
	return -1;
}

/* ---- jobs come and go ---- */

static void on_closed(uv_handle_t *h)
{
	struct sv *v = h->data;
	struct supervisor *s = v->s;

	evq_forget(v);
	process_port_release(v->port);
	joblog_close(v->log);
	if (v->status_fd >= 0) {
		char name[INSTANCE_NAME_MAX];

		snprintf(name, sizeof(name), "status_%s", s->c.instance);
		if (v->deleted)
			unlinkat(v->dfd, name, 0);
		close(v->status_fd);
	}
	if (v->dfd >= 0)
		close(v->dfd);
	free(v->name);
	launch_clear(&v->l);
	free(v);
	check_shutdown(s);
}

static void sv_free(struct sv *v)
{
	struct supervisor *s = v->s;

	for (struct sv **p = &s->jobs; *p; p = &(*p)->next)
		if (*p == v) {
			*p = v->next;
			break;
		}
	nametab_remove(&s->byname, &v->tn);
	evq_forget(v);
	spawnq_remove(&s->spawns, &v->qn);
	child_free(v->child);
	v->child = NULL;
	sv_release_singleton(v);
	uv_close((uv_handle_t *)&v->timer, on_closed);
}

static struct sv *find(struct supervisor *s, const char *name)
{
	struct nametab_node *n = nametab_find(&s->byname, name);

	return n ? (struct sv *)((char *)n - offsetof(struct sv, tn)) : NULL;
}

static struct sv *add(struct supervisor *s, const char *name)
{
	struct sv *v = calloc(1, sizeof(*v));

	if (v && (v->name = strdup(name)))
		v->tn.name = v->name;
	if (!v || !v->name || nametab_add(&s->byname, &v->tn) < 0) {
		if (v)
			free(v->name);
		free(v);
		return NULL;
	}
	v->s = s;
	v->deferred = -1;
	v->status_fd = v->singleton_fd = v->dfd = -1;
	v->state = S_STOPPED;
	v->shown = S_COUNT;
	if (sv_open_files(v) < 0)
		log_warn("job %s: cannot open its data folder", name);
	uv_timer_init(s->loop, &v->timer);
	v->timer.data = v;
	v->next = s->jobs;
	s->jobs = v;
	return v;
}

/* Brings one job in line with what it should be: posts the event that
 * says so (nothing is handled here). */
static void reconcile(struct supervisor *s, const char *name, struct job *j, int changed)
{
	struct sv *v = find(s, name);

	if (s->shutting)
		return;
	if (!j) {
		if (v)
			post(v, E_DELETED);
		return;
	}
	if (!v && !(v = add(s, name)))
		return;
	if (!wanted(v, j))
		post(v, E_STOP);
	else if (changed && job_bin_gen(j) != v->l.gen && v->state != S_STOPPED)
		post(v, E_CHANGED);
	else
		post(v, E_START);
}

static void on_registry(void *arg, enum job_type t, const char *name, struct job *j)
{
	if (t == JOB_CONTINUOUS)
		reconcile(arg, name, j, 1);
}

static void on_start_up(void *arg, enum job_type t, const char *name, struct job *j)
{
	(void)t;
	reconcile(arg, name, j, 0);
}

struct supervisor *supervisor_new(uv_loop_t *loop, const struct supervisor_config *c)
{
	struct supervisor *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = loop;
	s->c = *c;
	spawnq_init(&s->spawns, loop, SPAWNS_PER_TURN, on_ready);
	registry_listen(c->registry, on_registry, s);
	registry_replay(c->registry, JOB_CONTINUOUS, on_start_up, s);
	return s;
}

int supervisor_set_enabled(struct supervisor *s, struct job *j, int enabled)
{
	char path[PATH_MAX];
	int dfd, rc = 0;

	snprintf(path, sizeof(path), "%s%s%s", job_name(j), *job_script_dir(j) ? "/" : "",
		 job_script_dir(j));
	dfd = openat(s->c.home->jobs_fd[JOB_CONTINUOUS], path,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (enabled) {
		if (unlinkat(dfd, "disable.job", 0) < 0 && errno != ENOENT)
			rc = -errno;
	} else {
		rc = files_write_atomic(dfd, "disable.job", "", 0, 0644, 1);
	}
	close(dfd);
	if (rc < 0)
		return rc;
	/* The caller re-reads it at once (registry_refresh). */
	registry_touch(s->c.registry, JOB_CONTINUOUS, job_name(j));
	return 0;
}

void supervisor_delete(struct supervisor *s, const char *name)
{
	struct sv *v = find(s, name);

	if (v)
		post(v, E_DELETED);
}

void supervisor_host_changed(struct supervisor *s)
{
	struct job **jobs;
	size_t n = registry_list(s->c.registry, JOB_CONTINUOUS, &jobs);

	for (size_t i = 0; i < n; i++)
		reconcile(s, job_name(jobs[i]), jobs[i], 0);
	for (struct sv *v = s->jobs; v; v = v->next)
		joblog_set_rollover(v->log, "job_prev_log.txt",
				    hostcfg_get(s->c.cfg)->log_max_size);
}

static void check_shutdown(struct supervisor *s)
{
	if (s->shutting && !s->jobs && s->done) {
		void (*done)(void *) = s->done;

		spawnq_close(&s->spawns);
		s->done = NULL;
		done(s->done_arg);
	}
}

void supervisor_shutdown(struct supervisor *s, void (*done)(void *), void *arg)
{
	s->shutting = 1;
	s->done = done;
	s->done_arg = arg;
	/* No job is added from here on: the listener goes, and reconcile
	 * ignores what is still queued. */
	registry_listen(s->c.registry, NULL, s);
	for (struct sv *v = s->jobs; v; v = v->next)
		post(v, E_SHUTDOWN);
	check_shutdown(s);
}

void supervisor_free(struct supervisor *s)
{
	if (!s)
		return;
	child_on_room(NULL, NULL);
	nametab_free(&s->byname);
	free(s);
}

char *supervisor_up_text(const struct supervisor *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	for (const struct sv *v = s->jobs; v; v = v->next)
		fprintf(f, "%s\t%s\t%d\n", v->name, s->c.instance, v->state == S_RUNNING);
	fclose(f);
	return text;
}
