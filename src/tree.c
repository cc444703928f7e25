/*
 * tree: cgroup folders per job process, or the subreaper's sweep.
 */
#define _GNU_SOURCE
#include "tree.h"
#include "spawner.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "process.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

struct tree_cg {
	int fd;
	char *path;
	uv_fs_event_t ev;
	int watching;
	void (*fn)(void *);
	void *arg;
};

struct tracked {
	pid_t pid;
	int exited;
	void *owner;
	char *ident; /* "TYPE\0NAME\0RUN_ID\0" as the environment says */
	size_t len;
};

static struct {
	uv_loop_t *loop;
	int cgroups;
	int root_fd;
	char *root;
	char mode[PATH_MAX + 16];
	unsigned long seq;
	uv_poll_t sigchld; /* a signalfd: SIGCHLD is blocked in every thread */
	int sigfd;
	uv_check_t sweep;  /* one sweep at the end of a turn, however many exits */
	uv_timer_t sweep_later; /* the next one, SWEEP_GAP_MS after the last */
	uint64_t swept_at; /* uv_now of the last sweep (0: none yet) */
	int signal_on;
	struct tracked *t;
	size_t n, cap;
	pid_t killed[16]; /* the last orphans killed, so each is logged once */
	size_t nkilled;
} tr = { .root_fd = -1 };

/* ---- small file helpers ---- */

static int write_at(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* The number after "key " in a keyed file of the cgroup, or -1. */
static long long read_key(int dfd, const char *file, const char *key)
{
	char buf[2048], *p;
	size_t klen = strlen(key);
	int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 10);
	return -1;
}

static int is_cgroup2(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* Kills everything in the cgroup folder dfd: cgroup.kill (Linux 5.14), or
 * each process of cgroup.procs on older kernels. */
static void kill_all(int dfd)
{
	char buf[4096];
	int fd;
	ssize_t n;

	if (write_at(dfd, "cgroup.kill", "1") == 0)
		return;
	fd = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		for (char *p = buf; *p;) {
			long pid = strtol(p, &p, 10);

			if (pid > 0)
				kill((pid_t)pid, SIGKILL);
			while (*p && !isdigit((unsigned char)*p))
				p++;
		}
	}
	close(fd);
}

/* Removes a job cgroup, waiting a little for killed processes to go. */
static int remove_cg(int parent, const char *name, int fd, int tries)
{
	for (int i = 0; i < tries; i++) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };

		if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -errno;
		kill_all(fd);
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}

/* What a host killed with -9 left: every job-* folder is emptied and
 * removed. */
static void clean_leftovers(void)
{
	int fd = dup(tr.root_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		int cfd;

		if (strncmp(de->d_name, "job-", 4) != 0)
			continue;
		cfd = openat(tr.root_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cfd < 0)
			continue;
		if (read_key(cfd, "cgroup.events", "populated") > 0)
			log_warn("cgroup %s/%s: ended processes left by a crash", tr.root,
				 de->d_name);
		kill_all(cfd);
		if (remove_cg(tr.root_fd, de->d_name, cfd, 250) < 0)
			log_warn("cannot remove cgroup %s/%s", tr.root, de->d_name);
		close(cfd);
	}
	closedir(d);
}

static int use_root(const char *path, char *err, size_t errsz)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errsz, "cannot make cgroup folder %s: %s", path, strerror(errno));
		return -1;
	}
	if (!is_cgroup2(path)) {
		snprintf(err, errsz, "%s is not in a cgroup2 file system (mount -t cgroup2 none DIR)",
			 path);
		return -1;
	}
	tr.root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tr.root_fd < 0 || access(path, W_OK) < 0) {
		snprintf(err, errsz, "cannot use cgroup folder %s: %s", path, strerror(errno));
		return -1;
	}
	tr.root = strdup(path);
	tr.cgroups = 1;
	snprintf(tr.mode, sizeof(tr.mode), "cgroup %s", path);
	clean_leftovers();
	return 0;
}

/* Under systemd with Delegate=yes: the service's own cgroup. The host
 * moves itself into the leaf "host" (cgroup v2 allows processes only in
 * leaves once children have controllers) and makes job folders beside it. */
static int try_delegated(void)
{
	char line[PATH_MAX], path[PATH_MAX + 32], err[256];
	FILE *f;
	int ok = 0;
	size_t len;

	if (!getenv("INVOCATION_ID") || !is_cgroup2("/sys/fs/cgroup"))
		return -1;
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "0::/", 4) == 0) {
			ok = 1;
			break;
		}
	if (f)
		fclose(f);
	if (!ok)
		return -1;
	line[strcspn(line, "\n")] = '\0';
	len = strlen(line);
	if (len < 12 || strcmp(line + len - 8, ".service") != 0)
		return -1;
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s", line + 3);
	if (access(path, W_OK) < 0)
		return -1;
	{
		char host[PATH_MAX + 48];
		int dfd;

		snprintf(host, sizeof(host), "%s/host", path);
		if (mkdir(host, 0755) < 0 && errno != EEXIST)
			return -1;
		dfd = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -1;
		ok = write_at(dfd, "cgroup.procs", "0") == 0;
		close(dfd);
		if (!ok)
			return -1;
	}
	return use_root(path, err, sizeof(err));
}

/* ---- subreaper ---- */

/* A sweep reads the host's list of children (/proc/.../children): some
 * 1,000 of them while 1,000 continuous jobs run, and the kernel walks the
 * list again for each pid read when children come and go meanwhile. Run
 * after every turn with an exit, a restart storm's sweeps were 17 % of the
 * host's CPU in it (perf); an orphan waits SWEEP_GAP_MS at most more. */
#define SWEEP_GAP_MS 50

static void sweep_now(void)
{
	tr.swept_at = uv_now(tr.loop);
	tree_sweep();
}

static void on_sweep(uv_check_t *h)
{
	uv_check_stop(h);
	sweep_now();
}

static void on_sweep_later(uv_timer_t *t)
{
	(void)t;
	sweep_now();
}

/* A sweep at the end of this turn of the loop, or SWEEP_GAP_MS after the
 * last one: the exits of a burst (a second's scheduled runs, a restart
 * storm) cost one sweep, not one each. */
static void sweep_soon(void)
{
	uint64_t since;

	if (!tr.signal_on) {
		tree_sweep();
		return;
	}
	if (uv_is_active((uv_handle_t *)&tr.sweep) || uv_is_active((uv_handle_t *)&tr.sweep_later))
		return;
	since = uv_now(tr.loop) - tr.swept_at;
	if (tr.swept_at && since < SWEEP_GAP_MS)
		uv_timer_start(&tr.sweep_later, on_sweep_later, SWEEP_GAP_MS - since, 0);
	else
		uv_check_start(&tr.sweep, on_sweep);
}

static void (*on_exit_fn)(void);
static int (*owed_fn)(void);
static int put_off; /* a sweep left children alone: answers were owed */

void tree_on_sigchld(void (*fn)(void))
{
	on_exit_fn = fn;
}

void tree_on_owed(int (*owed)(void))
{
	owed_fn = owed;
}

void tree_spawns_answered(void)
{
	if (put_off) {
		put_off = 0;
		sweep_soon();
	}
}

static void on_sigchld(uv_poll_t *h, int status, int events)
{
	struct signalfd_siginfo si[16];

	(void)h;
	(void)status;
	(void)events;
	/* Pending SIGCHLDs merge into one: what they said is waitpid's. */
	while (read(tr.sigfd, si, sizeof(si)) > 0)
		;
	if (on_exit_fn)
		on_exit_fn();
	sweep_soon();
}

int tree_init(uv_loop_t *loop, const char *dir, const char *instance, char *err,
	      size_t errsz)
{
	char mine[PATH_MAX];
	sigset_t chld;

	tr.loop = loop;
	/* One folder per instance: instances sharing DIR never end each
	 * other's jobs when they clean up after a crash. */
	if (dir) {
		snprintf(mine, sizeof(mine), "%s/%s", dir, instance);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errsz, "cannot make cgroup folder %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	if (dir ? use_root(mine, err, errsz) < 0 : try_delegated() < 0)
		snprintf(tr.mode, sizeof(tr.mode), "subreaper");
	if (dir && !tr.cgroups)
		return -1;
	/* A subreaper in both modes: with cgroups, orphans killed by
	 * cgroup.kill are reaped here rather than left to an init that may
	 * not reap (as in some containers). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		snprintf(err, errsz, "cannot become a child subreaper: %s", strerror(errno));
		return -1;
	}
	/* SIGCHLD through a signalfd, not a handler: an exit costs no signal
	 * frame, no interrupted system call, and none of libuv's three
	 * calls per signal (docs/DECISIONS.md, "The cost of a scheduled
	 * run"). Blocked here, before any thread and before the spawn
	 * helper is forked, so every thread inherits it; job processes
	 * start with an empty mask (process.c, spawner.c). */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (pthread_sigmask(SIG_BLOCK, &chld, NULL) != 0 ||
	    (tr.sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		snprintf(err, errsz, "cannot watch SIGCHLD: %s", strerror(errno));
		return -1;
	}
	uv_poll_init(loop, &tr.sigchld, tr.sigfd);
	uv_poll_start(&tr.sigchld, UV_READABLE, on_sigchld);
	uv_unref((uv_handle_t *)&tr.sigchld);
	uv_check_init(loop, &tr.sweep);
	uv_unref((uv_handle_t *)&tr.sweep);
	uv_timer_init(loop, &tr.sweep_later);
	uv_unref((uv_handle_t *)&tr.sweep_later);
	tr.swept_at = 0;
	tr.signal_on = 1;
	return 0;
}

const char *tree_mode(void)
{
	return tr.mode;
}

int tree_uses_cgroups(void)
{
	return tr.cgroups;
}

/* ---- cgroup mode ---- */

struct tree_cg *tree_cg_new(void)
{
	struct tree_cg *g;
	char name[64];

	if (!tr.cgroups) {
		errno = ENOTSUP;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	for (int tries = 0; tries < 100; tries++) {
		snprintf(name, sizeof(name), "job-%lu", ++tr.seq);
		if (mkdirat(tr.root_fd, name, 0755) == 0)
			break;
		if (errno != EEXIST) {
			free(g);
			return NULL;
		}
	}
	g->fd = openat(tr.root_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g->fd < 0 || asprintf(&g->path, "%s/%s", tr.root, name) < 0) {
		int e = errno;

		if (g->fd >= 0)
			close(g->fd);
		unlinkat(tr.root_fd, name, AT_REMOVEDIR);
		free(g);
		errno = e;
		return NULL;
	}
	return g;
}

int tree_cg_fd(const struct tree_cg *g)
{
	return g->fd;
}

void tree_cg_kill(struct tree_cg *g)
{
	if (g)
		kill_all(g->fd);
}

int tree_cg_populated(const struct tree_cg *g)
{
	return read_key(g->fd, "cgroup.events", "populated") != 0;
}

int64_t tree_cg_cpu(const struct tree_cg *g)
{
	return read_key(g->fd, "cpu.stat", "usage_usec");
}

static void on_events(uv_fs_event_t *h, const char *file, int events, int status)
{
	struct tree_cg *g = h->data;

	(void)file;
	(void)events;
	(void)status;
	if (g->fn)
		g->fn(g->arg);
}

int tree_cg_watch(struct tree_cg *g, void (*fn)(void *), void *arg)
{
	char path[PATH_MAX];
	int rc;

	g->fn = fn;
	g->arg = arg;
	snprintf(path, sizeof(path), "%s/cgroup.events", g->path);
	uv_fs_event_init(tr.loop, &g->ev);
	g->ev.data = g;
	g->watching = 1;
	rc = uv_fs_event_start(&g->ev, on_events, path, 0);
	return rc;
}

static void free_cg(struct tree_cg *g)
{
	const char *name = strrchr(g->path, '/') + 1;

	kill_all(g->fd);
	if (remove_cg(tr.root_fd, name, g->fd, 50) < 0)
		log_warn("cannot remove cgroup %s: %s", g->path, strerror(EBUSY));
	close(g->fd);
	free(g->path);
	free(g);
}

static void on_ev_closed(uv_handle_t *h)
{
	free_cg(h->data);
}

void tree_cg_free(struct tree_cg *g)
{
	if (!g)
		return;
	g->fn = NULL;
	if (g->watching)
		uv_close((uv_handle_t *)&g->ev, on_ev_closed);
	else
		free_cg(g);
}

/* ---- subreaper mode ---- */

/* The tracked leaders are kept sorted by pid: a sweep looks up every
 * child of the host, and a host may run thousands of jobs. */
static size_t tracked_pos(pid_t pid)
{
	size_t lo = 0, hi = tr.n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (tr.t[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct tracked *find_tracked(pid_t pid)
{
	size_t i = tracked_pos(pid);

	return i < tr.n && tr.t[i].pid == pid ? &tr.t[i] : NULL;
}

int tree_track(pid_t leader, void *owner, const char *type, const char *name,
	       const char *run_id)
{
	struct tracked *t;
	char *ident;
	int len;

	len = asprintf(&ident, "%s%c%s%c%s", type, 0, name, 0, run_id);
	if (len < 0)
		return -ENOMEM;
	if (tr.n == tr.cap) {
		size_t cap = tr.cap ? tr.cap * 2 : 16;
		struct tracked *v = realloc(tr.t, cap * sizeof(*v));

		if (!v) {
			free(ident);
			return -ENOMEM;
		}
		tr.t = v;
		tr.cap = cap;
	}
	{
		size_t i = tracked_pos(leader);

		if (i < tr.n && tr.t[i].pid == leader) {
			free(tr.t[i].ident); /* a pid reused after a missed untrack */
		} else {
			memmove(&tr.t[i + 1], &tr.t[i], (tr.n - i) * sizeof(*tr.t));
			tr.n++;
		}
		t = &tr.t[i];
	}
	t->pid = leader;
	t->exited = 0;
	t->owner = owner;
	t->ident = ident;
	t->len = (size_t)len + 1;
	return 0;
}

void *tree_owner(pid_t leader)
{
	struct tracked *t = find_tracked(leader);

	return t && !t->exited ? t->owner : NULL;
}

void tree_leader_exited(pid_t leader)
{
	struct tracked *t = find_tracked(leader);

	if (t)
		t->exited = 1;
	/* With cgroups, cgroup.kill ends the rest; SIGCHLD's sweep reaps. */
	if (!tr.cgroups)
		sweep_soon();
}

void tree_untrack(pid_t leader, const void *owner)
{
	struct tracked *t = find_tracked(leader);

	if (!t || t->owner != owner)
		return;
	free(t->ident);
	memmove(t, t + 1, (size_t)(&tr.t[tr.n] - (t + 1)) * sizeof(*t));
	tr.n--;
}

/* The identity of process pid from its environment ("TYPE\0NAME\0RUN\0"),
 * into buf; 0 when it has none (or cannot be read). */
static size_t identity(pid_t pid, char *buf, size_t size)
{
	static const char *const keys[3] = { "WEBJOBS_TYPE=", "WEBJOBS_NAME=", "WEBJOBS_RUN_ID=" };
	char path[64], *env = NULL, *vals[3] = { 0 };
	size_t cap = 0, len = 0, out = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	for (;;) {
		char chunk[4096];
		size_t n = fread(chunk, 1, sizeof(chunk), f);
		char *grown;

		if (!n)
			break;
		grown = realloc(env, cap = len + n + 1);
		if (!grown)
			break;
		env = grown;
		memcpy(env + len, chunk, n);
		len += n;
	}
	fclose(f);
	for (size_t i = 0; env && i < len; i += strlen(env + i) + 1) {
		env[len] = '\0';
		for (int k = 0; k < 3; k++)
			if (strncmp(env + i, keys[k], strlen(keys[k])) == 0)
				vals[k] = env + i + strlen(keys[k]);
	}
	if (vals[0] && vals[1] && vals[2]) {
		int n = snprintf(buf, size, "%s%c%s%c%s", vals[0], 0, vals[1], 0, vals[2]);

		out = n > 0 && (size_t)n < size ? (size_t)n + 1 : 0;
	}
	free(env);
	(void)cap;
	return out;
}

/* 1 when an orphan with this identity belongs to a job process still up. */
static int claimed(const char *ident, size_t len)
{
	for (size_t i = 0; i < tr.n; i++)
		if (!tr.t[i].exited && tr.t[i].len == len && memcmp(tr.t[i].ident, ident, len) == 0)
			return 1;
	return 0;
}

/* Kills orphan pid and says so, once per orphan (ident: its identity, of
 * len bytes, or none). SIGCHLD brings it back to a sweep to be reaped. */
static void kill_orphan(pid_t pid, const char *ident, size_t len)
{
	char type[32], name[300];

	kill(pid, SIGKILL);
	for (size_t i = 0; i < sizeof(tr.killed) / sizeof(tr.killed[0]); i++)
		if (tr.killed[i] == pid)
			return; /* said already */
	tr.killed[tr.nkilled++ % (sizeof(tr.killed) / sizeof(tr.killed[0]))] = pid;
	log_escape(len ? ident : "a", type, sizeof(type));
	log_escape(len ? ident + strlen(ident) + 1 : "that is gone", name, sizeof(name));
	log_info("killed process %d left behind by %s job %s", (int)pid, type, name);
}

/* One child of the host, in a sweep. final: the host is shutting down and
 * every job process has ended, so no orphan is anyone's any more. Returns
 * 1 when the child is still there (killed or left alone), 0 when it was
 * reaped or is not the sweep's. */
static int sweep_child(pid_t pid, int final)
{
	char ident[1024];
	size_t len;

	if (!final && find_tracked(pid))
		return 0; /* a leader: child.c's reaper has it */
	if (pid == spawner_pid())
		return 0; /* the spawn helper: reaped by child.c's reaper if it ends */
	if (!final && owed_fn && owed_fn()) {
		/* Perhaps a spawn whose answer is unread: neither reaped
		 * (its status is its job's) nor killed. Later. */
		put_off = 1;
		return 1;
	}
	if (process_state(pid) == 'Z')
		return waitpid(pid, NULL, WNOHANG) == pid ? 0 : 1;
	if (tr.cgroups && !final)
		return 1; /* its cgroup ends it with its job */
	len = identity(pid, ident, sizeof(ident));
	if (!final && len && claimed(ident, len))
		return 1;
	/* An orphan of a job process that is gone (or of nothing we know):
	 * it ends now. */
	kill_orphan(pid, ident, len);
	return 1;
}

/* Sweeps the host's children; the number still there. */
static size_t sweep_children(int final)
{
	/* Room for the pids of some 100,000 children. */
	static char buf[1 << 20];
	static pid_t self;
	char path[64];
	size_t n = 0, left = 0;
	ssize_t k;
	int fd;

	/* The main thread's children only: the jobs are cloned for it (the
	 * helper's CLONE_PARENT; the host spawns from the loop's thread),
	 * and the kernel hands orphans to a subreaper's first live thread,
	 * the main one. The pool's threads start no process. */
	if (!self)
		self = getpid();
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)self);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (n < sizeof(buf) - 1 && (k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	close(fd);
	buf[n] = '\0';
	for (char *p = buf; *p;) {
		long pid = strtol(p, &p, 10);

		if (pid > 0)
			left += (size_t)sweep_child((pid_t)pid, final);
		while (*p == ' ' || *p == '\n')
			p++;
	}
	return left;
}

void tree_sweep(void)
{
	sweep_children(0);
}

/* How long the last sweep waits for what it killed, and its step. */
#define FINAL_SWEEP_MS 3000
#define FINAL_STEP_MS 2

void tree_sweep_final(void)
{
	struct timespec step = { 0, FINAL_STEP_MS * 1000000L };
	size_t left = 0;

	/* Each orphan killed hands its own children to the host: round after
	 * round, down to the last descendant. */
	for (int i = 0; i < FINAL_SWEEP_MS / FINAL_STEP_MS; i++) {
		left = sweep_children(1);
		if (!left)
			return;
		nanosleep(&step, NULL);
	}
	log_error("%zu processes left behind by jobs did not end within %d ms of SIGKILL",
		  left, FINAL_SWEEP_MS);
}

static void on_sigfd_closed(uv_handle_t *h)
{
	(void)h;
	close(tr.sigfd);
	tr.sigfd = -1;
}

void tree_close(void)
{
	if (tr.signal_on) {
		uv_close((uv_handle_t *)&tr.sigchld, on_sigfd_closed);
		uv_close((uv_handle_t *)&tr.sweep, NULL);
		uv_close((uv_handle_t *)&tr.sweep_later, NULL);
	}
	tr.signal_on = 0;
}
