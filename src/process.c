/*
 * process: the spawn of a job process (through the spawn helper, else a
 * clone of our own, both CLONE_VFORK), and the /proc readings that
 * identify and measure a job's processes.
 */
#define _GNU_SOURCE
#include "process.h"
#include "files.h"
#include "spawner.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int run_uid = -1, run_gid = -1;

void process_set_user(int uid, int gid)
{
	run_uid = uid;
	run_gid = gid;
}

int process_user_uid(void) { return run_uid; }

/* 1 when uid/gid may search folder st (no supplementary groups: setpriv
 * clears them). */
static int may_search(const struct stat *st, int uid, int gid)
{
	if (uid == 0)
		return 1;
	if (st->st_uid == (uid_t)uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (st->st_gid == (gid_t)gid)
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

/* 1 when jobs run as the host's own user (nothing to drop). The host
 * never changes its user: its id is read once. */
static int same_user(void)
{
	static uid_t euid = (uid_t)-1;

	if (euid == (uid_t)-1)
		euid = geteuid();
	return run_uid < 0 || (uid_t)run_uid == euid;
}

int process_user_can_reach(const char *path, char *bad, size_t size)
{
	char *full, *p;
	struct stat st;
	int ok = 1;

	if (same_user())
		return 1;
	full = path[0] == '/' ? strdup(path) : realpath(".", NULL);
	if (full && path[0] != '/') {
		char *joined = NULL;

		if (asprintf(&joined, "%s/%s", full, path) < 0)
			joined = NULL;
		free(full);
		full = joined;
	}
	if (!full)
		return 1;
	/* Every folder from the root down that exists; folders still to be
	 * made are made reachable by the host. */
	for (p = full + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (stat(full, &st) < 0) {
			*p = c;
			break;
		}
		if (S_ISDIR(st.st_mode) && !may_search(&st, run_uid, run_gid)) {
			snprintf(bad, size, "%s", full);
			ok = 0;
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(full);
	return ok;
}
int process_user_gid(void) { return run_gid; }

/* A spawn does not change the user: a job that must run as another user
 * is started through util-linux's setpriv, which drops to it (real and
 * effective ids, no supplementary groups) and execs the job in place, so
 * the pid the host watches is the job's. */
static int spawn_as(const struct process_req *r, pid_t *pid, int64_t *start, char *err,
		    size_t errsz, int send);
static int spawn_plain(const struct process_req *r, pid_t *pid, int64_t *start, char *err,
		       size_t errsz, int send);

int process_spawn(const struct process_req *r, pid_t *pid, int64_t *start, char *err,
		  size_t errsz)
{
	if (!same_user())
		return spawn_as(r, pid, start, err, errsz, 0);
	return spawn_plain(r, pid, start, err, errsz, 0);
}

int process_spawn_send(const struct process_req *r, pid_t *pid, int64_t *start, char *err,
		       size_t errsz)
{
	if (!same_user())
		return spawn_as(r, pid, start, err, errsz, 1);
	return spawn_plain(r, pid, start, err, errsz, 1);
}

static void spawn_error(const struct process_req *r, int rc, char *err, size_t errsz)
{
	if (rc == ENOENT)
		snprintf(err, errsz, "cannot run '%s': the program is not installed (not found)",
			 r->program);
	else
		snprintf(err, errsz, "cannot run '%s': %s", r->program, strerror(rc));
}

int process_resolve(const char *program, char *out, size_t size)
{
	const char *path = getenv("PATH");

	if (strchr(program, '/')) {
		snprintf(out, size, "%s", program);
		return 0;
	}
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t len = strcspn(p, ":");

		snprintf(out, size, "%.*s%s%s", (int)len, p, len ? "/" : "", program);
		if (access(out, X_OK) == 0)
			return 0;
		p += len + (p[len] == ':');
	}
	return ENOENT;
}

/* The spawn done here (clone3 with CLONE_INTO_CGROUP for a cgroup, else
 * a CLONE_VM clone, both CLONE_VFORK): the parent waits until the child
 * has exec'ed (or failed, which it reports). */
static int spawn_here(const struct process_req *r, pid_t *pid, int64_t *start, char *err,
			     size_t errsz)
{
	int rc = process_clone_exec(r, 0, pid, start);

	if (rc && *pid > 0)
		waitpid(*pid, NULL, 0);
	if (rc) {
		spawn_error(r, rc, err, errsz);
		return -rc;
	}
	return 0;
}

/* What the helper answered for r (rc: the exec's errno, 0 when it ran):
 * 0, or -errno with the reason in err. A child that failed to exec is
 * ours to reap (CLONE_PARENT). */
static int helper_answer(const struct process_req *r, int rc, pid_t pid, char *err,
			 size_t errsz)
{
	if (rc && pid > 0)
		waitpid(pid, NULL, 0);
	if (rc)
		spawn_error(r, rc, err, errsz);
	return -rc;
}

/* A spawn without the change of user; with send, a request the helper
 * takes is only sent (1). */
static int spawn_plain(const struct process_req *r, pid_t *pid, int64_t *start, char *err,
		       size_t errsz, int send)
{
	int rc;

	/* The helper first: its small descriptor table is copied, not ours. */
	*pid = 0;
	*start = -1;
	if (send && spawner_send(r) == 0)
		return 1;
	rc = send ? -ENOSYS : spawner_spawn(r, pid, start);
	if (rc >= 0)
		return helper_answer(r, rc, *pid, err, errsz);
	/* Ours, not glibc's posix_spawn: that one leaves its two internal
	 * signals (32, 33) ignored in the job when the host has handlers
	 * for them, and an ignored signal outlives the exec. */
	return spawn_here(r, pid, start, err, errsz);
}

extern char **environ;

/* 1 when entry e ("NAME=value") names one of names; a name ending in '_'
 * is a prefix. */
static int named(const char *e, const char *const *names)
{
	for (; *names; names++) {
		size_t len = strlen(*names);

		if (strncmp(e, *names, len) == 0 &&
		    (e[len] == '=' || (*names)[len - 1] == '_'))
			return 1;
	}
	return 0;
}

/* 1 when e names the same variable as one of adds. */
static int added(const char *e, char *const *adds)
{
	size_t len = strcspn(e, "=");

	for (; *adds; adds++)
		if (strncmp(*adds, e, len) == 0 && (*adds)[len] == '=')
			return 1;
	return 0;
}

/* 1 when host variable e is not passed on: a dropped name or one of
 * adds. Every name dropped starts with 'W' or 'N', and so do the adds
 * unless odd_adds: the rest of the host's variables pass after one
 * comparison. */
static int held_back(const char *e, const char *const *dropped, char *const *adds,
		     int odd_adds)
{
	if (e[0] != 'W' && e[0] != 'N')
		return odd_adds && added(e, adds);
	return named(e, dropped) || added(e, adds);
}

char **process_env(char *const *adds)
{
	static const char *const dropped[] = {
		/* credentials and the host's own plumbing */
		"WEBJOBS_PASSWORD", "WEBJOBS_USERNAME", "WEBJOBS_AUTH_FILE",
		"NOTIFY_SOCKET",
		/* job variables: only the job's own are passed */
		"WEBJOBS_NAME", "WEBJOBS_TYPE", "WEBJOBS_PATH", "WEBJOBS_DATA_PATH",
		"WEBJOBS_RUN_ID", "WEBJOBS_COMMAND_ARGUMENTS", "WEBJOBS_SHUTDOWN_FILE",
		"WEBJOBS_RUN_ATTEMPT",
		"WEBJOBS_PORT", "WEBROOT_PATH", "WEBSITE_TRIGGERED_JOB_RUNNING_",
		"WEBSITE_ALWAYS_ON_JOB_RUNNING_", NULL
	};
	size_t n = 0, cap = 1, bytes = 0;
	int odd = 0;
	char **env, *p;

	for (char *const *a = adds; *a; a++) {
		odd |= (*a)[0] != 'W' && (*a)[0] != 'N';
		cap++;
		bytes += strlen(*a) + 1;
	}
	for (char **e = environ; *e; e++)
		if (!held_back(*e, dropped, adds, odd)) {
			cap++;
			bytes += strlen(*e) + 1;
		}
	/* One block: the pointers, then the strings (a spawn is a burst of
	 * these: one allocation, not one per variable). */
	env = malloc(cap * sizeof(*env) + bytes);
	if (!env)
		return NULL;
	p = (char *)(env + cap);
	for (char **e = environ; *e; e++)
		if (!held_back(*e, dropped, adds, odd)) {
			env[n++] = p;
			p = stpcpy(p, *e) + 1;
		}
	for (char *const *a = adds; *a; a++) {
		env[n++] = p;
		p = stpcpy(p, *a) + 1;
	}
	env[n] = NULL;
	return env;
}

void process_env_free(char **env)
{
	free(env);
}

char **process_job_env(const struct job_env *e)
{
	char *adds[12] = { 0 }; /* eleven variables at most and the NULL end */
	char **env = NULL;
	int n = 0, ok;

	ok = asprintf(&adds[n++], "WEBJOBS_NAME=%s", e->name) >= 0 &&
	     asprintf(&adds[n++], "WEBJOBS_TYPE=%s", e->continuous ? "continuous" : "triggered") >= 0 &&
	     asprintf(&adds[n++], "WEBJOBS_PATH=%s", e->path) >= 0 &&
	     asprintf(&adds[n++], "WEBJOBS_DATA_PATH=%s/%s/%s", e->home, e->data_rel, e->name) >= 0 &&
	     asprintf(&adds[n++], "WEBJOBS_RUN_ID=%s", e->run_id) >= 0 &&
	     asprintf(&adds[n++], "WEBJOBS_COMMAND_ARGUMENTS=%s", e->arguments) >= 0 &&
	     asprintf(&adds[n++], "WEBJOBS_SHUTDOWN_FILE=%s", e->shutdown_file) >= 0 &&
	     asprintf(&adds[n++], "WEBROOT_PATH=%s/site/wwwroot", e->home) >= 0 &&
	     asprintf(&adds[n++], "%s_%s=true",
		      e->continuous ? "WEBSITE_ALWAYS_ON_JOB_RUNNING" : "WEBSITE_TRIGGERED_JOB_RUNNING",
		      e->name) >= 0 &&
	     (!e->continuous || asprintf(&adds[n++], "WEBJOBS_PORT=%d", e->port) >= 0) &&
	     (!e->attempt || asprintf(&adds[n++], "WEBJOBS_RUN_ATTEMPT=%d", e->attempt) >= 0);
	if (ok)
		env = process_env(adds);
	else
		adds[n - 1] = NULL;
	for (int i = 0; i < n; i++)
		free(adds[i]);
	return env;
}

/* The ports process_free_port gave to jobs and no one released: a bit
 * each (loop thread only). */
static uint64_t given[65536 / 64];

static int bound_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

int process_free_port(void)
{
	/* bind(0) draws at random: 1,000 draws repeated 26 ports (measured
	 * here), and two live jobs must not be given the same one. */
	for (int tries = 0; tries < 32; tries++) {
		int port = bound_port();
		uint64_t bit = 1ull << (port % 64);

		if (port <= 0)
			return 0;
		if (!(given[port / 64] & bit)) {
			given[port / 64] |= bit;
			return port;
		}
	}
	return 0;
}

void process_port_release(int port)
{
	if (port > 0 && port < 65536)
		given[port / 64] &= ~(1ull << (port % 64));
}

static int spawn_as(const struct process_req *r, pid_t *pid, int64_t *start, char *err,
		    size_t errsz, int send)
{
	char uid[32], gid[32];
	size_t n = 0;
	char **argv;
	struct process_req req = *r;
	int rc;

	while (r->argv[n])
		n++;
	argv = calloc(n + 6, sizeof(*argv));
	if (!argv) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	snprintf(uid, sizeof(uid), "--reuid=%d", run_uid);
	snprintf(gid, sizeof(gid), "--regid=%d", run_gid);
	argv[0] = "setpriv";
	argv[1] = uid;
	argv[2] = gid;
	argv[3] = "--clear-groups";
	argv[4] = "--";
	argv[5] = (char *)r->program;
	for (size_t i = 1; i < n; i++)
		argv[5 + i] = r->argv[i];
	req.program = "/usr/bin/setpriv";
	req.argv = argv;
	rc = spawn_plain(&req, pid, start, err, errsz, send);
	free(argv);
	return rc;
}

int process_spawn_result(const struct process_req *r, int wait, pid_t *pid, int64_t *start,
			 char *err, size_t errsz)
{
	char program[1024];
	struct process_req named = *r;
	int rc = spawner_receive(r, wait, pid, start, program, sizeof(program));

	if (rc == -EAGAIN)
		return rc;
	named.program = program;
	if (rc < 0)
		snprintf(err, errsz, "cannot start the process: %s", strerror(-rc));
	return rc < 0 ? rc : helper_answer(&named, rc, *pid, err, errsz);
}

/* Reads /proc/PID/stat and returns a pointer past the ")" of the command
 * name (which may hold spaces and parentheses), or NULL. */
static const char *stat_fields(pid_t pid, char *buf, size_t size)
{
	char path[64];
	int fd;
	ssize_t n;
	char *close_p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	close_p = strrchr(buf, ')');
	return close_p ? close_p + 2 : NULL;
}

/* Field k (1-based, as in proc(5)) from the text after the command name,
 * which starts at field 3. */
static long long field(const char *p, int k)
{
	for (int i = 3; i < k && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtoll(p, NULL, 10) : -1;
}

char process_state(pid_t pid)
{
	char buf[1024];
	const char *p = stat_fields(pid, buf, sizeof(buf));

	return p ? p[0] : 0;
}

int64_t process_start_time(pid_t pid)
{
	char buf[1024];
	const char *p = stat_fields(pid, buf, sizeof(buf));

	return p ? field(p, 22) : -1;
}

int64_t process_group_cpu(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int64_t sum = 0;
	int found = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char buf[1024];
		const char *p;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		p = stat_fields((pid_t)atoi(de->d_name), buf, sizeof(buf));
		if (!p || field(p, 5) != pgid)
			continue;
		found = 1;
		sum += field(p, 14) + field(p, 15) + field(p, 16) + field(p, 17);
	}
	closedir(d);
	return found ? sum : -1;
}

void process_signal_name(int sig, char *buf, size_t size)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, size, "SIG%s", abbrev);
	else
		snprintf(buf, size, "SIG%d", sig);
}
