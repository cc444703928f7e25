/*
 * launch: one way to start a job process, for runs and continuous jobs.
 */
#define _GNU_SOURCE
#include "launch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "files.h"
#include "log.h"
#include "process.h"
#include "settings.h"

/* A copy of binaries being removed is made again COPY_RETRY_MS later, up to
 * COPY_TRIES times (past a network client's caches of names: 1 s). */
#define COPY_RETRY_MS 100
#define COPY_TRIES 20

void launch_clear(struct launch *l)
{
	free(l->name);
	free(l->run_command);
	free(l->bin_root);
	free(l->work_root);
	free(l->shutdown_file);
	free(l->pid_file);
	memset(l, 0, sizeof(*l));
}

int launch_snapshot(struct launch *l, const struct home *h, const char *temp,
		    const struct job *j, long long default_wait)
{
	const json_t *settings = job_settings(j);
	enum job_type t = job_type(j);
	const char *name = job_name(j);
	char *dir = NULL;

	launch_clear(l);
	l->home = h;
	l->type = t;
	l->host = job_host(j);
	l->in_place = settings_bool(settings, "is_in_place", strcmp(l->host->ext, ".js") == 0);
	l->stop_wait = settings_int(settings, "stopping_wait_time", default_wait);
	l->gen = job_bin_gen(j);
	l->name = strdup(name);
	l->run_command = strdup(job_run_command(j));
	if (asprintf(&l->bin_root, "%s/%s/%s", h->root, h->jobs_rel[t], name) < 0)
		l->bin_root = NULL;
	if (l->in_place)
		l->work_root = l->bin_root ? strdup(l->bin_root) : NULL;
	else if (asprintf(&l->work_root, "%s/jobs/%s/%s/copy", temp, home_type_name(t), name) < 0)
		l->work_root = NULL;
	if (asprintf(&dir, "%s/jobs/%s/%s", temp, home_type_name(t), name) < 0)
		dir = NULL;
	if (dir && (asprintf(&l->shutdown_file, "%s/shutdown", dir) < 0))
		l->shutdown_file = NULL;
	if (dir && (asprintf(&l->pid_file, "%s/pid", dir) < 0))
		l->pid_file = NULL;
	/* A triggered job's is made when a file in it first is (a call less
	 * per run); a continuous job's here, at each of its starts, rare: the
	 * helper, which makes all the spawns of a host's start, is spared the
	 * failed open and the mkdir. */
	if (dir && t == JOB_CONTINUOUS)
		home_mkdirs(AT_FDCWD, dir);
	free(dir);
	if (!l->name || !l->run_command || !l->bin_root || !l->work_root ||
	    !l->shutdown_file || !l->pid_file) {
		launch_clear(l);
		return -ENOMEM;
	}
	return 0;
}

int launch_use_slot(struct launch *l, int slot)
{
	char *work = NULL, *shut = NULL, *pid = NULL;

	l->slot = slot;
	if (slot <= 1)
		return 0;
	if ((!l->in_place && asprintf(&work, "%s-%d", l->work_root, slot) < 0) ||
	    asprintf(&shut, "%s-%d", l->shutdown_file, slot) < 0 ||
	    asprintf(&pid, "%s-%d", l->pid_file, slot) < 0) {
		free(work);
		free(shut);
		return -ENOMEM;
	}
	if (work) {
		free(l->work_root);
		l->work_root = work;
	}
	free(l->shutdown_file);
	l->shutdown_file = shut;
	free(l->pid_file);
	l->pid_file = pid;
	return 0;
}

int launch_copy_fresh(const struct launch *l, const struct job *j)
{
	struct stat st;

	return l->in_place ||
	       (job_copy_gen(j, l->slot) == l->gen && stat(l->work_root, &st) == 0);
}

int launch_make_copy(const struct launch *l)
{
	/* Copied by the job's name, which another machine's file system may
	 * lead for a second more to the old binaries a deploy is removing
	 * (docs/SCALE-OUT.md, "A job deployed again on one machine"): copied
	 * again a moment later until the folder copied is still the job's
	 * once copied. */
	for (int k = 0;; k++) {
		int top = open(l->bin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW), rc;
		int stale;

		if (top < 0)
			return -errno;
		rc = files_refresh_copy(top, ".", l->work_root, process_user_uid(),
					process_user_gid());
		stale = home_being_removed(top);
		close(top);
		if (!stale)
			return rc;
		if (k == COPY_TRIES)
			return -ESTALE;
		usleep(COPY_RETRY_MS * 1000);
	}
}

/* What a pid file holds after the job's pid and start time: the host's,
 * so that a host that finds the file at its start ends the job only when
 * the host that wrote it is gone (another host may share --temp). Only
 * the start-up of a host reads the file. */
static const char *host_tail(void)
{
	static char tail[64];

	/* Once: only the host spawns (not the helper it forks), and getpid
	 * is a call each time. */
	if (!tail[0])
		snprintf(tail, sizeof(tail), "%d %lld", (int)getpid(),
			 (long long)process_start_time(getpid()));
	return tail;
}

struct child *launch_spawn(uv_loop_t *loop, const struct launch *l,
			   const struct launch_args *a, struct joblog *log,
			   const struct child_ops *ops, void *arg, char *err,
			   size_t errsz)
{
	char *script = NULL, *cwd = NULL, **words = NULL, **argv = NULL, **env = NULL;
	struct child *c = NULL;
	struct process_req req = { 0 };
	char *slash;
	int nw, k = 0;
	struct job_env e = { l->name, l->type == JOB_CONTINUOUS, l->work_root, NULL, NULL,
			     a->run_id, a->arguments, l->shutdown_file, a->port, a->attempt };

	char bad[1024];

	/* Held: the answer's "Running" (or the failure's line) goes with it,
	 * one write for both. */
	joblog_sys_held(log, "Run script '%s' with script host - '%s'", l->run_command,
			l->host->name);
	/* A copy lives under --temp, which start-up requires the user to
	 * reach; an in-place job runs from the home, which it only warns of. */
	if (l->in_place && !process_user_can_reach(l->work_root, bad, sizeof(bad))) {
		snprintf(err, errsz, "the user jobs run as cannot enter %.900s (see --run-as)", bad);
		return NULL;
	}
	nw = args_split(a->arguments, &words, err, errsz);
	if (nw < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errsz, "bad arguments: %s", why);
		return NULL;
	}
	if (asprintf(&script, "%s/%s", l->work_root, l->run_command) < 0)
		script = NULL;
	cwd = script ? strdup(script) : NULL;
	if (cwd && (slash = strrchr(cwd, '/')))
		*slash = '\0';
	argv = calloc((size_t)nw + 4, sizeof(*argv));
	e.home = l->home->root;
	e.data_rel = l->home->data_rel[l->type];
	env = process_job_env(&e);
	if (!script || !cwd || !argv || !env) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	argv[k++] = l->host->program ? (char *)l->host->program : script;
	if (l->host->option)
		argv[k++] = (char *)l->host->option;
	if (l->host->program)
		argv[k++] = script;
	for (int i = 0; i < nw; i++)
		argv[k++] = words[i];
	req.program = l->host->program ? l->host->program : script;
	req.argv = argv;
	req.envp = env;
	req.cwd = cwd;
	req.type = home_type_name(l->type);
	req.name = l->name;
	req.run_id = a->run_id;
	/* Written by the job's process before its exec (src/clone.c). */
	req.pid_file = l->pid_file;
	req.pid_tail = host_tail();
	req.not_before = a->not_before ? process_hold_until(a->not_before) : 0;
	c = child_spawn(loop, &req, log, ops, arg, err, errsz);
out:
	free(script);
	free(cwd);
	free(argv);
	args_free(words);
	process_env_free(env);
	return c;
}

/* Creates file path (its folder too, when missing); -1 or an fd. */
static int create_in_temp(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd >= 0 || errno != ENOENT || files_make_parent(path) < 0)
		return fd;
	return open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
}

void launch_ask_stop(struct launch *l, struct child *c)
{
	int fd;

	/* A stop acted on after the process exited (its exit's event still
	 * queued behind a request's) makes no file: nothing would remove it
	 * before the next process, which would stop at once. */
	if (c && !child_exited(c)) {
		fd = create_in_temp(l->shutdown_file);
		if (fd >= 0)
			close(fd);
		l->stop_asked = 1;
	}
	child_kill(c, SIGTERM);
}

void launch_ended(struct launch *l)
{
	/* Emptied, not removed: the next spawn reuses the file. A triggered
	 * run's is left as it is: it names a process gone, and the next run
	 * rewrites it. */
	if (l->type == JOB_CONTINUOUS && l->pid_file)
		(void)!truncate(l->pid_file, 0);
	if (l->stop_asked && l->shutdown_file)
		unlink(l->shutdown_file);
	l->stop_asked = 0;
}

/* The process named by pid file `file` (in folder dfd; of job `name`)
 * is killed when it still runs and the host that wrote the file is gone;
 * the file goes. An empty file — a continuous job's whose process ended
 * (launch_ended) — names none and stays, for the next spawn to reuse.
 * Returns 1 when that host lives (another host sharing --temp). */
static int kill_leftover(int dfd, const char *file, const char *what, const char *name)
{
	char text[256]; /* a pid file is one line of 96 bytes (clone.c, PID_LINE) */
	int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), pid, host = 0, n;
	long long start, host_start = 0;
	ssize_t len;

	if (fd < 0)
		return 0;
	len = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (len == 0)
		return 0;
	text[len > 0 ? len : 0] = '\0';
	n = sscanf(text, "%d %lld %d %lld", &pid, &start, &host, &host_start);
	if (n == 4 && host > 1 && host != getpid() && process_start_time(host) == host_start)
		return 1;
	if (n >= 2 && pid > 1 && process_start_time(pid) == start) {
		kill(-pid, SIGKILL);
		log_warn("%s job %s: killed process group %d left by a crash", what, name, pid);
	}
	unlinkat(dfd, file, 0);
	return 0;
}

/* 1 for `base` and `base`-{slot}: the names of a job's pid files and
 * shutdown files. */
static int slot_name(const char *n, const char *base)
{
	size_t len = strlen(base);

	if (strncmp(n, base, len) != 0)
		return 0;
	if (!n[len])
		return 1;
	if (n[len] != '-' || !n[len + 1])
		return 0;
	for (n += len + 1; *n; n++)
		if (*n < '0' || *n > '9')
			return 0;
	return 1;
}

/* The leftovers in one job's folder under temp: its processes (pid
 * files), then its shutdown files — asked for by a stop the crash cut
 * short, they would stop the next process at once (a process's own is
 * removed when it ends, not before each spawn) — unless the folder is
 * another live host's too. A continuous job has one of each, opened by
 * name; a triggered job's slots are listed, once. */
static void job_leftovers(int tdfd, enum job_type t, const char *name)
{
	char file[PATH_MAX], shut[130][16];
	const char *type = home_type_name(t);
	int lives, n = 0, dfd;
	struct dirent *de;
	DIR *d;

	/* Relative to the type folder: 1,000 jobs at a restart are 1,000
	 * short lookups, not walks of the whole path. */
	if (t == JOB_CONTINUOUS) {
		snprintf(file, sizeof(file), "%s/pid", name);
		lives = kill_leftover(tdfd, file, type, name);
		snprintf(file, sizeof(file), "%s/shutdown", name);
		if (!lives)
			unlinkat(tdfd, file, 0);
		return;
	}
	dfd = openat(tdfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	lives = 0;
	while ((de = readdir(d))) {
		if (slot_name(de->d_name, "pid"))
			lives |= kill_leftover(dirfd(d), de->d_name, type, name);
		else if (slot_name(de->d_name, "shutdown") && n < 130 &&
			 strlen(de->d_name) < sizeof(shut[0]))
			memcpy(shut[n++], de->d_name, strlen(de->d_name) + 1);
	}
	for (int i = 0; i < n && !lives; i++)
		unlinkat(dirfd(d), shut[i], 0);
	closedir(d);
}

/* Processes that a host killed with -9 left running (their pid files
 * survived it) are ended before anything starts: pid and start time must
 * both match, so a recycled pid is never killed, and the host that wrote
 * the file must be gone, so a host sharing --temp (the same instance id
 * twice on one machine) never loses its jobs to another one's start. A
 * triggered job has a file per run slot. */
void launch_kill_leftovers(const char *temp)
{
	for (int k = 0; k < 2; k++) {
		enum job_type t = k ? JOB_CONTINUOUS : JOB_TRIGGERED;
		const char *type = home_type_name(t);
		char path[PATH_MAX];
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/jobs/%s", temp, type);
		d = opendir(path);
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			job_leftovers(dirfd(d), t, de->d_name);
		}
		if (d)
			closedir(d);
	}
}
