/*
 * supervisor: the state machine of each continuous job on this instance.
 *
 *   state \ event  START    STOP     EXIT     TIMER    CHANGED  DELETED  SHUTDOWN
 *   STOPPED        begin    -        -        -        -        remove   -
 *   INACTIVE       -        halt     -        begin    -        remove   halt
 *   STARTING       -        defer    -        -        defer    defer    defer
 *   RUNNING        -        stop     went     -        stop     kill     stop
 *   PENDING        begin    halt     -        begin    begin    remove   halt
 *   STOPPING       -        -        stopped  kill     -        kill     -
 *
 * "-" is an explicit no-op. begin: take the singleton lock when needed
 * (else INACTIVE, retried every 5 s), make the working copy, spawn.
 * stop: shutdown file + SIGTERM to the group, SIGKILL after
 * stopping_wait_time; what follows (stay stopped, start again, remove, exit)
 * is decided by `want`, evaluated when the process is down. Every change of
 * state writes status_{inst} and its log line (SPEC 6, 7.3).
 */
#define _GNU_SOURCE
#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "instances.h"
#include "files.h"
#include "joblog.h"
#include "log.h"
#include "metrics.h"
#include "process.h"
#include "settings.h"

#define SINGLETON_RETRY_MS 5000
#define LONG_RUN_MS (120 * 1000)
#define DEFAULT_STOP_WAIT 5
#define INSTANCE_NAME_MAX (INSTANCE_ID_MAX + 8)
/* Spawns per turn of the loop: a restart storm of thousands of jobs must
 * not keep the loop from serving requests for seconds. */
#define SPAWNS_PER_TURN 64

enum state { S_STOPPED, S_INACTIVE, S_STARTING, S_RUNNING, S_PENDING, S_STOPPING, S_COUNT };
enum event { E_START, E_STOP, E_EXIT, E_TIMER, E_CHANGED, E_DELETED, E_SHUTDOWN, E_COUNT };

static const char *const status_names[S_COUNT] = {
	"Stopped", "InactiveInstance", "Starting", "Running", "PendingRestart", "Stopping"
};

struct sv {
	struct supervisor *s;
	struct sv *next;
	struct sv *qnext;      /* in the spawn queue */
	int queued;
	char *name;
	enum state state;
	int deferred;          /* an event that came while STARTING, or -1 */
	int deleted;           /* the job is gone: free once down */
	/* what the job was when it was started */
	char *run_command;
	const struct script_host *host;
	int in_place, singleton;
	long long stop_wait;
	unsigned gen;
	char *bin_root, *work_root, *shutdown_file;
	char *pid_file;        /* {temp}/jobs/continuous/{name}/pid while it runs */
	/* life */
	struct child *child;
	uint64_t started_ms;
	int wstatus;
	uv_timer_t timer;
	uv_work_t work;
	int copy_rc;
	int status_fd, singleton_fd, dfd;
	struct joblog *log;
};

struct supervisor {
	uv_loop_t *loop;
	struct supervisor_config c;
	struct sv *jobs;
	struct sv *qhead, *qtail; /* jobs waiting for their spawn */
	uv_idle_t idle;
	int shutting;
	void (*done)(void *);
	void *done_arg;
};

typedef void (*action)(struct sv *);
static void dispatch(struct sv *v, enum event e);

/* ---- status and log ---- */

/* Writes status_{inst} in place: the file carries this instance's
 * liveness lock, so it is never replaced by a rename. */
static void publish(struct sv *v, const char *status)
{
	char text[128];
	int n = snprintf(text, sizeof(text), "{\"Status\":\"%s\"}", status);

	if (v->status_fd >= 0 && pwrite(v->status_fd, text, (size_t)n, 0) == n)
		(void)!ftruncate(v->status_fd, n);
	joblog_sys(v->log, 0, "Status changed to %s", status);
}

static void set_state(struct sv *v, enum state st)
{
	v->state = st;
	publish(v, status_names[st]);
}

/* Opens the data folder, the log and this instance's status file. */
static int open_files(struct sv *v)
{
	struct supervisor *s = v->s;
	const struct home *h = s->c.home;
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	char name[INSTANCE_NAME_MAX];
	int rc;

	if ((rc = home_mkdirs(h->data_fd[JOB_CONTINUOUS], v->name)) < 0)
		return rc;
	v->dfd = openat(h->data_fd[JOB_CONTINUOUS], v->name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (v->dfd < 0)
		return -errno;
	v->log = joblog_open(v->dfd, "job_log.txt", NULL, s->c.instance);
	joblog_set_rollover(v->log, "job_prev_log.txt", hostcfg_get(s->c.cfg)->log_max_size);
	snprintf(name, sizeof(name), "status_%s", s->c.instance);
	v->status_fd = openat(v->dfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	/* A shared lock held as long as this instance lives (SPEC 7.4). */
	if (v->status_fd >= 0 && fcntl(v->status_fd, F_OFD_SETLK, &fl) < 0)
		log_warn("job %s: cannot lock its status file: %s", v->name, strerror(errno));
	return 0;
}

/* Takes what a start needs from the job as it is now. */
static void snapshot(struct sv *v, const struct job *j)
{
	const struct home *h = v->s->c.home;
	const json_t *settings = job_settings(j);

	free(v->run_command);
	v->run_command = strdup(job_run_command(j));
	v->host = job_host(j);
	v->in_place = settings_bool(settings, "is_in_place", strcmp(v->host->ext, ".js") == 0);
	v->singleton = settings_bool(settings, "is_singleton", 0);
	v->stop_wait = settings_int(settings, "stopping_wait_time", DEFAULT_STOP_WAIT);
	v->gen = job_bin_gen(j);
	free(v->bin_root);
	free(v->work_root);
	if (asprintf(&v->bin_root, "%s/%s/%s", h->root, h->jobs_rel[JOB_CONTINUOUS], v->name) < 0)
		v->bin_root = NULL;
	if (v->in_place)
		v->work_root = v->bin_root ? strdup(v->bin_root) : NULL;
	else if (asprintf(&v->work_root, "%s/jobs/continuous/%s/copy", v->s->c.temp, v->name) < 0)
		v->work_root = NULL;
}

/* ---- the process ---- */

static void on_done(void *arg, int wstatus)
{
	struct sv *v = arg;

	unlink(v->pid_file);
	v->wstatus = wstatus;
	child_free(v->child);
	v->child = NULL;
	dispatch(v, E_EXIT);
}

static const struct child_ops sv_child_ops = { NULL, on_done };

static char **build_env(struct sv *v)
{
	const struct home *h = v->s->c.home;
	struct job_env e = { v->name, 1, v->work_root, h->root, h->data_rel[JOB_CONTINUOUS], "", "",
			     v->shutdown_file, process_free_port() };

	return process_job_env(&e);
}

static void spawn(struct sv *v)
{
	char err[512], *script = NULL, *cwd = NULL, *argv[4] = { 0 }, **env = NULL;
	struct process_req req;
	int a = 0;

	joblog_sys(v->log, 0, "Run script '%s' with script host - '%s'", v->run_command,
		   v->host->name);
	if (asprintf(&script, "%s/%s", v->work_root, v->run_command) < 0)
		script = NULL;
	cwd = script ? strdup(script) : NULL;
	if (cwd && strrchr(cwd, '/'))
		*strrchr(cwd, '/') = '\0';
	env = build_env(v);
	if (!script || !cwd || !env) {
		snprintf(err, sizeof(err), "out of memory");
		v->child = NULL;
	} else {
		argv[a++] = v->host->program ? (char *)v->host->program : script;
		if (v->host->option)
			argv[a++] = (char *)v->host->option;
		if (v->host->program)
			argv[a++] = script;
		req.program = v->host->program ? v->host->program : script;
		req.argv = argv;
		req.envp = env;
		req.cwd = cwd;
		unlink(v->shutdown_file);
		v->child = child_spawn(v->s->loop, &req, v->log, &sv_child_ops, v, err, sizeof(err));
	}
	free(script);
	free(cwd);
	process_env_free(env);
	v->started_ms = uv_now(v->s->loop);
	if (v->child) {
		/* Recorded so that a host killed with -9 can end it next time. */
		char text[64];
		int n = snprintf(text, sizeof(text), "%d %lld\n", (int)child_pid(v->child),
				 (long long)child_start_time(v->child));
		char *dir = strdup(v->pid_file), *slash = dir ? strrchr(dir, '/') : NULL;

		if (slash) {
			*slash = '\0';
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (dfd >= 0) {
				files_write_atomic(dfd, slash + 1, text, (size_t)n, 0644, 0);
				close(dfd);
			}
		}
		free(dir);
	}
	if (!v->child) {
		joblog_sys(v->log, 1, "Job failed to start: %s", err);
		v->wstatus = 127 << 8;
		/* Treated as an exit, so the restart delay applies. */
		set_state(v, S_RUNNING);
		dispatch(v, E_EXIT);
		return;
	}
	set_state(v, S_RUNNING);
}

static void work_copy(uv_work_t *w)
{
	struct sv *v = w->data;

	v->copy_rc = files_refresh_copy(v->bin_root, v->work_root, process_user_uid(), process_user_gid());
}

/* Spawns, then replays an event that came while the job was starting. */
static void start_process(struct sv *v)
{
	int deferred = v->deferred;

	v->deferred = -1;
	spawn(v);
	if (deferred >= 0)
		dispatch(v, (enum event)deferred);
}

static void on_idle(uv_idle_t *h)
{
	struct supervisor *s = h->data;

	for (int k = 0; k < SPAWNS_PER_TURN && s->qhead; k++) {
		struct sv *v = s->qhead;

		s->qhead = v->qnext;
		if (!s->qhead)
			s->qtail = NULL;
		v->queued = 0;
		v->qnext = NULL;
		start_process(v);
	}
	if (!s->qhead)
		uv_idle_stop(h);
}

static void queue_spawn(struct sv *v)
{
	struct supervisor *s = v->s;

	if (v->queued)
		return;
	v->queued = 1;
	if (s->qtail)
		s->qtail->qnext = v;
	else
		s->qhead = v;
	s->qtail = v;
	uv_idle_start(&s->idle, on_idle);
}

static void unqueue(struct sv *v)
{
	struct supervisor *s = v->s;
	struct sv *prev = NULL;

	if (!v->queued)
		return;
	for (struct sv *q = s->qhead; q; prev = q, q = q->qnext)
		if (q == v) {
			if (prev)
				prev->qnext = v->qnext;
			else
				s->qhead = v->qnext;
			if (s->qtail == v)
				s->qtail = prev;
			break;
		}
	v->queued = 0;
}

static void after_copy(uv_work_t *w, int status)
{
	struct sv *v = w->data;

	if (status < 0 || v->copy_rc < 0) {
		int deferred = v->deferred;

		v->deferred = -1;
		joblog_sys(v->log, 1, "Cannot make the working copy of the job: %s",
			   strerror(status < 0 ? -status : -v->copy_rc));
		v->wstatus = 127 << 8;
		set_state(v, S_RUNNING);
		dispatch(v, E_EXIT);
		if (deferred >= 0)
			dispatch(v, (enum event)deferred);
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
	dispatch(t->data, E_TIMER);
}

static void a_nothing(struct sv *v)
{
	(void)v;
}

static void a_begin(struct sv *v)
{
	struct job *j = current(v);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	uv_timer_stop(&v->timer);
	if (!wanted(v, j)) {
		set_state(v, S_STOPPED);
		return;
	}
	snapshot(v, j);
	if (v->singleton && v->singleton_fd < 0) {
		int fd = openat(v->dfd, "singleton.job.lock",
				O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0) {
			if (fd >= 0)
				close(fd);
			if (v->state != S_INACTIVE)
				set_state(v, S_INACTIVE);
			uv_timer_start(&v->timer, on_timer, SINGLETON_RETRY_MS, 0);
			return;
		}
		v->singleton_fd = fd;
		joblog_sys(v->log, 0, "WebJob singleton lock is acquired");
	} else if (!v->singleton && v->singleton_fd >= 0) {
		close(v->singleton_fd);
		v->singleton_fd = -1;
		joblog_sys(v->log, 0, "WebJob singleton lock is released");
	}
	set_state(v, S_STARTING);
	if (v->in_place || job_copy_gen(j) == v->gen) {
		struct stat st;

		if (v->in_place || stat(v->work_root, &st) == 0) {
			queue_spawn(v);
			return;
		}
	}
	job_set_copy_gen(j, v->gen);
	v->work.data = v;
	if (uv_queue_work(v->s->loop, &v->work, work_copy, after_copy) < 0) {
		v->copy_rc = -EIO;
		after_copy(&v->work, 0);
	}
}

static void a_defer(struct sv *v);

/* Asks the process to stop; SIGKILL when stopping_wait_time is over. */
static void a_stop(struct sv *v)
{
	int fd;

	set_state(v, S_STOPPING);
	joblog_sys(v->log, 0, "Stopping the job (waiting up to %lld seconds)", v->stop_wait);
	fd = open(v->shutdown_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	child_kill(v->child, SIGTERM);
	uv_timer_start(&v->timer, on_timer, (uint64_t)(v->stop_wait > 0 ? v->stop_wait : 0) * 1000, 0);
}

static void a_kill(struct sv *v)
{
	joblog_sys(v->log, 1, "The job did not stop within %lld seconds: killed", v->stop_wait);
	child_kill(v->child, SIGKILL);
}

static void release_singleton(struct sv *v)
{
	if (v->singleton_fd >= 0) {
		close(v->singleton_fd);
		v->singleton_fd = -1;
		joblog_sys(v->log, 0, "WebJob singleton lock is released");
	}
}

static void sv_free(struct sv *v);
static void check_shutdown(struct supervisor *s);

/* The process went down while it should run: wait, then start again. */
static void a_went(struct sv *v)
{
	uint64_t lived = uv_now(v->s->loop) - v->started_ms;
	int64_t wait = lived >= LONG_RUN_MS ? 0 : hostcfg_get(v->s->c.cfg)->restart_time;

	if (WIFEXITED(v->wstatus) && WEXITSTATUS(v->wstatus) == 0) {
		publish(v, "Success");
	} else if (WIFEXITED(v->wstatus)) {
		joblog_sys(v->log, 1, "Job failed due to exit code %d", WEXITSTATUS(v->wstatus));
	} else {
		char sig[32];

		process_signal_name(WTERMSIG(v->wstatus), sig, sizeof(sig));
		joblog_sys(v->log, 1, "Job failed due to signal %s", sig);
	}
	joblog_sys(v->log, 0, "Process went down, waiting for %lld seconds", (long long)wait);
	metrics_restart(v->name);
	set_state(v, S_PENDING);
	uv_timer_start(&v->timer, on_timer, (uint64_t)wait * 1000, 0);
}

/* The process is down after a stop: stay stopped, start again, or go. */
static void a_stopped(struct sv *v)
{
	uv_timer_stop(&v->timer);
	release_singleton(v);
	if (v->deleted || v->s->shutting) {
		set_state(v, S_STOPPED);
		sv_free(v);
		return;
	}
	if (wanted(v, current(v))) {
		a_begin(v);
		return;
	}
	set_state(v, S_STOPPED);
}

/* Down without a process: just stop (the lock goes with it). */
static void a_halt(struct sv *v)
{
	uv_timer_stop(&v->timer);
	release_singleton(v);
	set_state(v, S_STOPPED);
	if (v->deleted || v->s->shutting)
		sv_free(v);
}

static void a_remove(struct sv *v)
{
	v->deleted = 1;
	a_halt(v);
}

static void a_defer(struct sv *v)
{
	(void)v;
}

/* The job is deleted while its process runs: no grace, it goes now. */
static void a_delete_kill(struct sv *v)
{
	v->deleted = 1;
	set_state(v, S_STOPPING);
	child_kill(v->child, SIGKILL);
}

static void a_mark_deleted(struct sv *v)
{
	v->deleted = 1;
	child_kill(v->child, SIGKILL);
}

static const action table[S_COUNT][E_COUNT] = {
	/*              START      STOP       EXIT        TIMER      CHANGED    DELETED    SHUTDOWN */
	[S_STOPPED]  = { a_begin,   a_nothing, a_nothing,  a_nothing, a_nothing, a_remove,  a_halt },
	[S_INACTIVE] = { a_nothing, a_halt,    a_nothing,  a_begin,   a_nothing, a_remove,  a_halt },
	[S_STARTING] = { a_nothing, a_defer,   a_nothing,  a_nothing, a_defer,   a_defer,   a_defer },
	[S_RUNNING]  = { a_nothing, a_stop,    a_went,     a_nothing, a_stop,    a_delete_kill, a_stop },
	[S_PENDING]  = { a_begin,   a_halt,    a_nothing,  a_begin,   a_begin,   a_remove,  a_halt },
	[S_STOPPING] = { a_nothing, a_nothing, a_stopped,  a_kill,    a_nothing, a_mark_deleted, a_nothing },
};

static void dispatch(struct sv *v, enum event e)
{
	action a = table[v->state][e];

	if (a == a_defer) {
		/* The copy is on the thread pool: replay the event after it.
		 * The last deferred event wins; each reconciles from the
		 * job's current state anyway. */
		v->deferred = (int)e;
		if (e == E_DELETED)
			v->deleted = 1;
		return;
	}
	a(v);
}

/* ---- jobs come and go ---- */

static void on_closed(uv_handle_t *h)
{
	struct sv *v = h->data;
	struct supervisor *s = v->s;

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
	free(v->run_command);
	free(v->bin_root);
	free(v->work_root);
	free(v->shutdown_file);
	free(v->pid_file);
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
	unqueue(v);
	child_free(v->child);
	v->child = NULL;
	release_singleton(v);
	uv_close((uv_handle_t *)&v->timer, on_closed);
}

static struct sv *find(struct supervisor *s, const char *name)
{
	for (struct sv *v = s->jobs; v; v = v->next)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

static struct sv *add(struct supervisor *s, const char *name)
{
	struct sv *v = calloc(1, sizeof(*v));

	if (!v || !(v->name = strdup(name)))
		goto fail;
	v->s = s;
	v->deferred = -1;
	v->status_fd = v->singleton_fd = v->dfd = -1;
	v->state = S_STOPPED;
	if (asprintf(&v->shutdown_file, "%s/jobs/continuous/%s/shutdown", s->c.temp, name) < 0) {
		v->shutdown_file = NULL;
		goto fail;
	}
	if (asprintf(&v->pid_file, "%s/jobs/continuous/%s/pid", s->c.temp, name) < 0) {
		v->pid_file = NULL;
		goto fail;
	}
	{
		char *dir = strdup(v->shutdown_file);

		if (dir) {
			*strrchr(dir, '/') = '\0';
			home_mkdirs(AT_FDCWD, dir);
			free(dir);
		}
	}
	if (open_files(v) < 0)
		log_warn("job %s: cannot open its data folder", name);
	uv_timer_init(s->loop, &v->timer);
	v->timer.data = v;
	v->next = s->jobs;
	s->jobs = v;
	return v;
fail:
	if (v) {
		free(v->name);
		free(v->shutdown_file);
		free(v);
	}
	return NULL;
}

/* Brings one job in line with what it should be. */
static void reconcile(struct supervisor *s, const char *name, struct job *j, int changed)
{
	struct sv *v = find(s, name);

	if (!j) {
		if (v)
			dispatch(v, E_DELETED);
		return;
	}
	if (!v) {
		v = add(s, name);
		if (!v)
			return;
		if (!wanted(v, j)) {
			/* Publish this instance's view of a job it will not run. */
			set_state(v, S_STOPPED);
			return;
		}
	}
	if (!wanted(v, j)) {
		dispatch(v, s->shutting ? E_SHUTDOWN : E_STOP);
		return;
	}
	if (changed && job_bin_gen(j) != v->gen && v->state != S_STOPPED)
		dispatch(v, E_CHANGED);
	else
		dispatch(v, E_START);
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

/* Processes of continuous jobs that a host killed with -9 left running
 * (their pid files survived it) are ended before anything starts: pid and
 * start time must both match, so a recycled pid is never killed. */
static void kill_leftovers(const char *temp)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/jobs/continuous", temp);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char file[PATH_MAX + 300];
		FILE *f;
		int pid;
		long long start;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/pid", path, de->d_name);
		f = fopen(file, "re");
		if (!f)
			continue;
		if (fscanf(f, "%d %lld", &pid, &start) == 2 && pid > 1 &&
		    process_start_time(pid) == start) {
			kill(-pid, SIGKILL);
			log_warn("continuous job %s: killed process group %d left by a crash",
				 de->d_name, pid);
		}
		fclose(f);
		unlink(file);
	}
	if (d)
		closedir(d);
}

struct supervisor *supervisor_new(uv_loop_t *loop, const struct supervisor_config *c)
{
	struct supervisor *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = loop;
	s->c = *c;
	kill_leftovers(c->temp);
	uv_idle_init(loop, &s->idle);
	s->idle.data = s;
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
	/* Apply at once: re-read the job now rather than at the event. */
	registry_touch(s->c.registry, JOB_CONTINUOUS, job_name(j));
	registry_refresh(s->c.registry);
	return 0;
}

void supervisor_delete(struct supervisor *s, const char *name)
{
	struct sv *v = find(s, name);

	if (v)
		dispatch(v, E_DELETED);
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
		uv_close((uv_handle_t *)&s->idle, NULL);
		void (*done)(void *) = s->done;

		s->done = NULL;
		done(s->done_arg);
	}
}

void supervisor_shutdown(struct supervisor *s, void (*done)(void *), void *arg)
{
	struct sv *v, *next;

	s->shutting = 1;
	s->done = done;
	s->done_arg = arg;
	registry_listen(s->c.registry, NULL, NULL);
	for (v = s->jobs; v; v = next) {
		next = v->next;
		dispatch(v, E_SHUTDOWN);
	}
	check_shutdown(s);
}

void supervisor_free(struct supervisor *s)
{
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
