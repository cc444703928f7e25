/*
 * run: the life of a triggered run.
 *
 *   runner_start   lock, trim history, record "Initializing" (durable),
 *                  then a 0 ms timer so the 202 goes out first
 *   on_start       the working copy (made on the thread pool when stale)
 *   spawn_run      posix_spawn, pipes, pidfd; record "Running"
 *   on_output      lines into output_log.txt / error_log.txt
 *   on_exit        the leader is reaped by its pidfd; the rest of its
 *                  process group is killed so nothing outlives the run
 *   finish         once the process is reaped AND both pipes reached EOF
 *                  (tmux job.c's rule): final status, durable; unlock
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "child.h"
#include "files.h"
#include "joblog.h"
#include "log.h"
#include "metrics.h"
#include "runrec.h"
#include "settings.h"
#include "process.h"

#define DEFAULT_STOP_WAIT 30  /* seconds, triggered jobs (SPEC 11.4) */

extern char **environ;

enum end_reason { END_NONE, END_DELETED, END_SHUTDOWN };

struct run {
	struct runner *rn;
	struct run *next, *prev;
	char *name;
	char id[RUN_ID_LEN + 1];
	struct runrec rec;
	int lock_fd, dfd;
	struct joblog *log;
	char *run_command;
	const struct script_host *host;
	char *bin_root;   /* the job's binaries folder */
	char *work_root;  /* where it runs from: a copy or bin_root */
	char *shutdown_file;
	int in_place;
	long long stop_wait;
	/* the process */
	struct child *child;
	int spawned, exited, wstatus, start_failed, idle_killed;
	enum end_reason end;
	uv_timer_t timer;   /* start, then idle checks */
	uv_timer_t kill_timer; /* SIGKILL after the stop wait */
	int handles;        /* open uv handles; freed at 0 */
	int copying;
	int finished;
	int copy_fresh;     /* the working copy is current */
	int64_t last_cpu;
	uint64_t last_activity;
	uv_work_t work;
	unsigned copy_gen;
	int copy_rc;
};

struct runner {
	uv_loop_t *loop;
	struct runner_config c;
	struct run *runs;
	int shutting;
	void (*done)(void *);
	void *done_arg;
};

struct runner *runner_new(uv_loop_t *loop, const struct runner_config *c)
{
	struct runner *rn = calloc(1, sizeof(*rn));

	if (!rn)
		return NULL;
	rn->loop = loop;
	rn->c = *c;
	return rn;
}

void runner_free(struct runner *rn)
{
	free(rn);
}

static struct run *find_run(struct runner *rn, const char *name)
{
	for (struct run *r = rn->runs; r; r = r->next)
		if (strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

/* ---- records ---- */

static int write_record(struct run *r, int durable)
{
	char *text = runrec_serialize(&r->rec);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = files_write_atomic(r->dfd, "status", text, strlen(text), 0644, durable);
	free(text);
	if (rc < 0)
		log_error("run %s of %s: cannot write its status: %s", r->id, r->name,
			  strerror(-rc));
	return rc;
}

static void set_status(struct run *r, const char *status, int durable)
{
	snprintf(r->rec.status, sizeof(r->rec.status), "%s", status);
	write_record(r, durable);
	joblog_sys(r->log, 0, "Status changed to %s", status);
}

/* ---- the end of a run ---- */

/* Frees what a run owns besides its handles and fds. */
static void run_free(struct run *r)
{
	joblog_close(r->log);
	runrec_free(&r->rec);
	free(r->name);
	free(r->run_command);
	free(r->bin_root);
	free(r->work_root);
	free(r->shutdown_file);
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

static void finish(struct run *r)
{
	struct runner *rn = r->rn;
	char sig[32];

	if (r->finished)
		return;
	r->finished = 1;
	r->rec.end = time_now_ticks();
	if (!r->log && r->end != END_DELETED)
		r->log = joblog_open(r->dfd, "output_log.txt", "error_log.txt", rn->c.instance);
	if (r->end == END_DELETED) {
		/* The job and its data are gone: nothing to record. */
	} else if (r->end != END_NONE) {
		set_status(r, "Aborted", 1);
	} else if (r->start_failed || r->idle_killed) {
		set_status(r, "Failed", 1);
	} else if (WIFEXITED(r->wstatus)) {
		r->rec.has_exit_code = 1;
		r->rec.exit_code = WEXITSTATUS(r->wstatus);
		if (r->rec.exit_code == 0) {
			set_status(r, "Success", 1);
		} else {
			set_status(r, "Failed", 1);
			joblog_sys(r->log, 1, "Job failed due to exit code %d", r->rec.exit_code);
		}
	} else {
		process_signal_name(WTERMSIG(r->wstatus), sig, sizeof(sig));
		set_status(r, "Failed", 1);
		joblog_sys(r->log, 1, "Job failed due to signal %s", sig);
	}
	joblog_close(r->log);
	r->log = NULL;
	close(r->dfd);
	r->dfd = -1;
	/* Closing the lock file releases the run lock. */
	close(r->lock_fd);
	r->lock_fd = -1;
	child_free(r->child);
	r->child = NULL;
	close_handle(r, (uv_handle_t *)&r->timer);
	close_handle(r, (uv_handle_t *)&r->kill_timer);
	if (r->prev)
		r->prev->next = r->next;
	else
		rn->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	registry_touch_data(rn->c.registry, JOB_TRIGGERED, r->name);
	if (r->end != END_DELETED)
		metrics_run_finished(r->name, r->rec.status,
				     (double)(r->rec.end - r->rec.start) / TICKS_PER_SEC);
	log_debug("run %s of %s ended %s", r->id, r->name, r->rec.status);
	if (rn->shutting && !rn->runs && rn->done)
		rn->done(rn->done_arg);
}

static void maybe_finish(struct run *r)
{
	if ((r->exited || !r->spawned) && !r->copying)
		finish(r);
}

/* ---- the process's callbacks ---- */

static void on_output(void *arg)
{
	struct run *r = arg;

	r->last_activity = uv_now(r->rn->loop);
}

static void on_done(void *arg, int wstatus)
{
	struct run *r = arg;

	r->exited = 1;
	r->wstatus = wstatus;
	maybe_finish(r);
}

static const struct child_ops run_child_ops = { on_output, on_done };

/* ---- idle timeout ---- */

static void on_idle_check(uv_timer_t *t)
{
	struct run *r = t->data;
	int64_t limit = hostcfg_get(r->rn->c.cfg)->idle_timeout;
	int64_t cpu;
	uint64_t now = uv_now(r->rn->loop);

	if (!r->spawned || r->exited || limit <= 0 || r->idle_killed)
		return;
	cpu = process_group_cpu(child_pid(r->child));
	if (cpu != r->last_cpu) {
		r->last_cpu = cpu;
		r->last_activity = now;
		return;
	}
	if (now - r->last_activity >= (uint64_t)limit * 1000) {
		joblog_sys(r->log, 1, "Job aborted due to no output nor CPU activity for %lld seconds",
			   (long long)limit);
		r->idle_killed = 1;
		child_kill(r->child, SIGKILL);
	}
}

/* ---- starting the process ---- */

/* The environment of SPEC 5.3 for this run. */
static char **build_env(struct run *r)
{
	const struct home *h = r->rn->c.home;
	struct job_env e = { r->name, 0, r->work_root, h->root, h->data_rel[JOB_TRIGGERED], r->id,
			     r->rec.arguments ? r->rec.arguments : "", r->shutdown_file, 0 };

	return process_job_env(&e);
}

static void spawn_run(struct run *r)
{
	char err[512], *script = NULL, *cwd = NULL, **words = NULL, **argv = NULL, **env = NULL;
	int nw, a = 0;
	struct process_req req;
	const char *slash;

	joblog_sys(r->log, 0, "Run script '%s' with script host - '%s'", r->run_command,
		   r->host->name);
	if (asprintf(&script, "%s/%s", r->work_root, r->run_command) < 0)
		script = NULL;
	cwd = script ? strdup(script) : NULL;
	if (cwd && (slash = strrchr(cwd, '/')))
		cwd[slash - cwd] = '\0';
	nw = args_split(r->rec.arguments ? r->rec.arguments : "", &words, err, sizeof(err));
	if (nw < 0) {
		joblog_sys(r->log, 1, "Bad arguments: %s", err);
		goto fail;
	}
	argv = calloc((size_t)nw + 4, sizeof(*argv));
	env = build_env(r);
	if (!script || !cwd || !argv || !env) {
		joblog_sys(r->log, 1, "Cannot start the job: out of memory");
		goto fail;
	}
	argv[a++] = r->host->program ? (char *)r->host->program : script;
	if (r->host->option)
		argv[a++] = (char *)r->host->option;
	if (r->host->program)
		argv[a++] = script;
	for (int i = 0; i < nw; i++)
		argv[a++] = words[i];
	req.program = r->host->program ? r->host->program : script;
	req.argv = argv;
	req.envp = env;
	req.cwd = cwd;
	unlink(r->shutdown_file);
	r->child = child_spawn(r->rn->loop, &req, r->log, &run_child_ops, r, err, sizeof(err));
	if (!r->child) {
		joblog_sys(r->log, 1, "Job failed to start: %s", err);
		goto fail;
	}
	r->spawned = 1;
	r->rec.pid = child_pid(r->child);
	r->rec.pid_start = child_start_time(r->child);
	set_status(r, "Running", 0);
	r->last_activity = uv_now(r->rn->loop);
	r->last_cpu = -2;
	{
		int64_t limit = hostcfg_get(r->rn->c.cfg)->idle_timeout;
		uint64_t every = limit > 0 && limit * 250 < 5000 ? (uint64_t)limit * 250 : 5000;

		uv_timer_start(&r->timer, on_idle_check, every ? every : 250, every ? every : 250);
	}
	goto out;
fail:
	r->start_failed = 1;
	maybe_finish(r);
out:
	free(script);
	free(cwd);
	free(argv);
	args_free(words);
	process_env_free(env);
}

/* ---- the working copy (SPEC 8.3) ---- */

static void work_copy(uv_work_t *w)
{
	struct run *r = w->data;

	r->copy_rc = files_refresh_copy(r->bin_root, r->work_root, process_user_uid(), process_user_gid());
}

static void after_copy(uv_work_t *w, int status)
{
	struct run *r = w->data;
	struct job *j;

	r->copying = 0;
	if (status < 0 && r->copy_rc == 0)
		r->copy_rc = status;
	if (r->end != END_NONE) {
		maybe_finish(r);
		return;
	}
	if (r->copy_rc < 0) {
		joblog_sys(r->log, 1, "Cannot make the working copy of the job: %s",
			   strerror(-r->copy_rc));
		r->start_failed = 1;
		maybe_finish(r);
		return;
	}
	j = registry_find(r->rn->c.registry, JOB_TRIGGERED, r->name);
	if (j)
		job_set_copy_gen(j, r->copy_gen);
	spawn_run(r);
}

/* The process starts here, a turn after the 202. Nothing is re-read: what
 * the run needs was taken from the job when it was accepted. */
static void on_start(uv_timer_t *t)
{
	struct run *r = t->data;
	struct runner *rn = r->rn;

	/* The log is opened here, after the reply: one file less to create
	 * before the 202. */
	r->log = joblog_open(r->dfd, "output_log.txt", "error_log.txt", rn->c.instance);
	if (!r->log) {
		log_error("run %s of %s: cannot open its log: %s", r->id, r->name, strerror(errno));
		r->log = joblog_open(r->dfd, "/dev/null", NULL, rn->c.instance);
	}
	if (r->log)
		joblog_sys(r->log, 0, "Status changed to Initializing");
	if (r->end != END_NONE) {
		maybe_finish(r);
		return;
	}
	if (r->copy_fresh) {
		spawn_run(r);
		return;
	}
	r->copying = 1;
	r->work.data = r;
	if (uv_queue_work(rn->loop, &r->work, work_copy, after_copy) < 0) {
		r->copying = 0;
		r->start_failed = 1;
		maybe_finish(r);
	}
}

/* ---- starting a run ---- */

/* Deletes the oldest runs so that `keep` remain; returns the newest id
 * left (or "") in newest. */
static void trim_history(int dfd, long long keep, char newest[RUN_ID_LEN + 1])
{
	char **ids;
	int n = files_list(dfd, time_is_run_id, SIZE_MAX, &ids);

	newest[0] = '\0';
	if (keep < 0)
		keep = 0;
	for (int i = 0; i < n; i++) {
		if ((long long)(n - i) > keep)
			files_remove_tree(dfd, ids[i]);
		else if (i == n - 1)
			memcpy(newest, ids[i], RUN_ID_LEN + 1);
	}
	files_free_names(ids, n < 0 ? 0 : n);
}

/* A run id after now and after every existing one. */
static void new_run_id(const char *newest, char id[RUN_ID_LEN + 1], int64_t *start)
{
	int64_t now = time_now_ticks(), t;

	time_format_run_id(now, id);
	if (newest[0] && strcmp(id, newest) <= 0 && time_parse_run_id(newest, &t) == 0) {
		now = t + 1000; /* one unit of the id: 100 us */
		time_format_run_id(now, id);
	}
	*start = now;
}

int runner_start(struct runner *rn, struct job *j, const char *trigger,
		 const char *arguments, int64_t occurrence, char id[RUN_ID_LEN + 1],
		 char *err, size_t errsz)
{
	const struct home *h = rn->c.home;
	const struct hostcfg *cfg = hostcfg_get(rn->c.cfg);
	const char *name = job_name(j);
	const json_t *settings = job_settings(j);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char newest[RUN_ID_LEN + 1];
	int jfd = -1, lock_fd = -1, dfd = -1, rc;
	struct run *r = NULL;
	int64_t start;

	if (rn->shutting || cfg->stopped)
		return -ESHUTDOWN;
	if ((rc = home_mkdirs(h->data_fd[JOB_TRIGGERED], name)) < 0 ||
	    (jfd = openat(h->data_fd[JOB_TRIGGERED], name,
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = rc < 0 ? rc : -errno;
		snprintf(err, errsz, "cannot open the job's data folder: %s", strerror(-rc));
		goto fail;
	}
	lock_fd = openat(jfd, "triggeredJob.lock",
			 O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (lock_fd < 0) {
		rc = -errno;
		snprintf(err, errsz, "cannot open the run lock: %s", strerror(errno));
		goto fail;
	}
	if (fcntl(lock_fd, F_OFD_SETLK, &fl) < 0) {
		rc = errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
		snprintf(err, errsz, "cannot take the run lock: %s", strerror(errno));
		goto fail;
	}
	if (occurrence) {
		int64_t t;

		/* Under the lock: has any instance run this tick already? The
		 * run id is its start to 100 us; the tick is whole seconds. */
		trim_history(jfd, LLONG_MAX, newest);
		if (newest[0] && time_parse_run_id(newest, &t) == 0 && t >= occurrence) {
			rc = -EALREADY;
			snprintf(err, errsz, "this tick was already run");
			goto fail;
		}
	}
	trim_history(jfd, cfg->history_size - 1, newest);
	new_run_id(newest, id, &start);
	if (mkdirat(jfd, id, 0755) < 0 ||
	    (dfd = openat(jfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errsz, "cannot create the run folder: %s", strerror(errno));
		goto fail;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = -ENOMEM;
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	r->rn = rn;
	r->lock_fd = lock_fd;
	r->dfd = dfd;
	memcpy(r->id, id, RUN_ID_LEN + 1);
	memcpy(r->rec.id, id, RUN_ID_LEN + 1);
	r->rec.start = start;
	r->rec.trigger = strdup(trigger);
	r->rec.instance = strdup(rn->c.instance);
	r->rec.arguments = arguments && *arguments ? strdup(arguments) : NULL;
	r->name = strdup(name);
	r->run_command = strdup(job_run_command(j));
	r->host = job_host(j);
	r->in_place = settings_bool(settings, "is_in_place",
				    strcmp(r->host->ext, ".js") == 0);
	r->stop_wait = settings_int(settings, "stopping_wait_time", DEFAULT_STOP_WAIT);
	if (asprintf(&r->bin_root, "%s/%s/%s", h->root, h->jobs_rel[JOB_TRIGGERED], name) < 0)
		r->bin_root = NULL;
	if (r->in_place)
		r->work_root = r->bin_root ? strdup(r->bin_root) : NULL;
	else if (asprintf(&r->work_root, "%s/jobs/triggered/%s/copy", rn->c.temp, name) < 0)
		r->work_root = NULL;
	if (asprintf(&r->shutdown_file, "%s/jobs/triggered/%s/shutdown", rn->c.temp, name) < 0)
		r->shutdown_file = NULL;
	{
		struct stat st;

		r->copy_gen = job_bin_gen(j);
		r->copy_fresh = r->in_place || (job_copy_gen(j) == r->copy_gen && r->work_root &&
						stat(r->work_root, &st) == 0);
	}
	if (!r->rec.trigger || !r->rec.instance || !r->name || !r->run_command ||
	    !r->bin_root || !r->work_root || !r->shutdown_file) {
		rc = -ENOMEM;
		snprintf(err, errsz, "out of memory or cannot open the run's log");
		goto fail;
	}
	{
		char *dir = strdup(r->shutdown_file);

		if (dir) {
			*strrchr(dir, '/') = '\0';
			home_mkdirs(AT_FDCWD, dir);
			free(dir);
		}
	}
	snprintf(r->rec.status, sizeof(r->rec.status), "Initializing");
	if ((rc = write_record(r, 1)) < 0) {
		snprintf(err, errsz, "cannot write the run's status: %s", strerror(-rc));
		goto fail;
	}
	fsync(jfd);
	close(jfd);
	uv_timer_init(rn->loop, &r->timer);
	uv_timer_init(rn->loop, &r->kill_timer);
	r->timer.data = r->kill_timer.data = r;
	r->handles = 2;
	r->next = rn->runs;
	if (rn->runs)
		rn->runs->prev = r;
	rn->runs = r;
	uv_timer_start(&r->timer, on_start, 0, 0);
	registry_touch_data(rn->c.registry, JOB_TRIGGERED, name);
	return 0;
fail:
	if (r)
		run_free(r);
	if (dfd >= 0) {
		close(dfd);
		files_remove_tree(jfd, id);
	}
	if (lock_fd >= 0)
		close(lock_fd);
	if (jfd >= 0)
		close(jfd);
	return rc;
}

/* ---- stopping ---- */

static void on_stop_wait(uv_timer_t *t)
{
	struct run *r = t->data;

	child_kill(r->child, SIGKILL);
}

/* Ends a run for a reason: asks it to stop, kills it after wait_s. */
static void stop_run(struct run *r, enum end_reason why, long long wait_s)
{
	if (r->end == END_NONE)
		r->end = why;
	if (!r->spawned) {
		uv_timer_stop(&r->timer);
		maybe_finish(r);
		return;
	}
	if (r->exited)
		return;
	if (wait_s > 0) {
		int fd = open(r->shutdown_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd >= 0)
			close(fd);
		child_kill(r->child, SIGTERM);
		uv_timer_start(&r->kill_timer, on_stop_wait, (uint64_t)wait_s * 1000, 0);
	} else {
		child_kill(r->child, SIGKILL);
	}
}

void runner_kill_job(struct runner *rn, const char *name)
{
	struct run *r = find_run(rn, name);

	if (r)
		stop_run(r, END_DELETED, 0);
}

void runner_shutdown(struct runner *rn, void (*done)(void *), void *arg)
{
	struct run *next;

	rn->shutting = 1;
	rn->done = done;
	rn->done_arg = arg;
	if (!rn->runs) {
		done(arg);
		return;
	}
	for (struct run *r = rn->runs; r; r = next) {
		next = r->next;
		stop_run(r, END_SHUTDOWN, r->stop_wait);
	}
}

/* ---- recovery ---- */

/* Start-up: the newest run of one job, if this instance left it in
 * progress (its lock is free), becomes Aborted. */
static void recover_one(void *arg, enum job_type t, const char *name, struct job *j)
{
	struct runner *rn = arg;
	const struct home *h = rn->c.home;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char newest[RUN_ID_LEN + 1];
	struct runrec rec;
	int jfd, lock_fd, dfd;

	(void)t;
	(void)j;
	jfd = openat(h->data_fd[JOB_TRIGGERED], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (jfd < 0)
		return;
	trim_history(jfd, LLONG_MAX, newest);
	lock_fd = openat(jfd, "triggeredJob.lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (!newest[0] || runrec_load(jfd, newest, &rec) < 0) {
		if (lock_fd >= 0)
			close(lock_fd);
		close(jfd);
		return;
	}
	if (runrec_in_progress(&rec) &&
	    (!rec.instance || strcmp(rec.instance, rn->c.instance) == 0) &&
	    (lock_fd < 0 || fcntl(lock_fd, F_OFD_SETLK, &fl) == 0) &&
	    (dfd = openat(jfd, newest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		struct joblog *lg = joblog_open(dfd, "output_log.txt", NULL, rn->c.instance);
		char *text;

		if (rec.pid > 0 && rec.pid_start > 0 && process_start_time(rec.pid) == rec.pid_start) {
			kill(-rec.pid, SIGKILL);
			log_warn("run %s of %s: killed process group %d left by a crash", newest, name,
				 rec.pid);
		}
		snprintf(rec.status, sizeof(rec.status), "Aborted");
		rec.end = time_now_ticks();
		text = runrec_serialize(&rec);
		if (text)
			files_write_atomic(dfd, "status", text, strlen(text), 0644, 1);
		free(text);
		joblog_sys(lg, 1, "The host went away during the run");
		joblog_sys(lg, 0, "Status changed to Aborted");
		joblog_close(lg);
		log_info("run %s of %s was in progress when the host stopped: Aborted", newest, name);
		close(dfd);
		registry_touch_data(rn->c.registry, JOB_TRIGGERED, name);
	}
	runrec_free(&rec);
	if (lock_fd >= 0)
		close(lock_fd);
	close(jfd);
}

void runner_recover(struct runner *rn)
{
	registry_replay(rn->c.registry, JOB_TRIGGERED, recover_one, rn);
}
