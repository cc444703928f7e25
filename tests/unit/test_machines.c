/* The state machines below HTTP — the supervisor's (continuous jobs) and
 * the runs' (triggered jobs) — every state x event, with a fake process
 * layer (this file defines child_*, so src/child.c is not linked) and
 * events injected as the loop would post them. After each step the
 * invariants are checked: one process at most per job, a process exactly
 * when the state says so, no timer left in a state that waits for nothing,
 * an ended run's lock released and its record final, and at the end every
 * entry freed (LeakSanitizer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#include <time.h>

#include "child.h"
#include "evq.h"
#include "files.h"
#include "home.h"
#include "hostcfg.h"
#include "job.h"
#include "registry.h"
#include "registry_int.h"
#include "run.h"
#include "supervisor.h"
#include "timefmt.h"

/* ---- the fake process layer ---- */

/* A spawn whose owner takes the answer later (ops->started) is pending,
 * as with the spawn helper: its pid comes with the answer, which the
 * loop gives (answer_all, from settle) before anything about the process
 * — its exit, a signal's effect. fail_answers: the answers say the
 * process could not start (its exit, 127, follows at once). */
struct child {
	struct child_ops ops;
	void *arg;
	char name[64];
	pid_t pid;
	int alive, pending;
	int last_signal;
	struct child *next;
};

static struct child *children;
static void (*room_fn)(void *);
static void *room_arg;
static int next_pid = 1000;
static int fail_spawns, fail_answers;

struct child *child_spawn(uv_loop_t *loop, struct process_req *req, struct joblog *log,
			  const struct child_ops *ops, void *arg, char *err, size_t errsz)
{
	struct child *c;

	(void)loop;
	(void)log;
	if (fail_spawns) {
		snprintf(err, errsz, "fake spawn failure");
		return NULL;
	}
	/* No process finds a shutdown file at its start: a stop's file goes
	 * with the process it was made for (launch_ended), whatever the
	 * order of the stop, the exit and the next start. */
	for (char *const *e = req->envp; *e; e++)
		if (strncmp(*e, "WEBJOBS_SHUTDOWN_FILE=", 22) == 0 && access(*e + 22, F_OK) == 0)
			fail_msg("%s starts with its shutdown file %s there", req->name, *e + 22);
	c = calloc(1, sizeof(*c));
	c->ops = *ops;
	c->arg = arg;
	snprintf(c->name, sizeof(c->name), "%s", req->name);
	c->pending = ops->started != NULL;
	c->pid = c->pending ? 0 : next_pid++;
	c->alive = 1;
	c->next = children;
	children = c;
	return c;
}

/* The answers owed, oldest first (the list is newest first). */
static void answer_all(void)
{
	for (;;) {
		struct child *c = NULL;

		for (struct child *k = children; k; k = k->next)
			if (k->pending)
				c = k;
		if (!c)
			return;
		c->pending = 0;
		if (room_fn)
			room_fn(room_arg);
		if (fail_answers) {
			c->alive = 0;
			c->ops.started(c->arg, c, "fake start failure");
			c->ops.done(c->arg, 127 << 8);
		} else {
			c->pid = next_pid++;
			c->ops.started(c->arg, c, NULL);
		}
	}
}

/* The helper's room: 32 answers owed at most, as src/child.c; an answer
 * read makes room (the supervisor's on_room). */

size_t child_spawn_room(void)
{
	size_t owed = 0;

	for (struct child *c = children; c; c = c->next)
		owed += c->pending;
	return owed < 32 ? 32 - owed : 0;
}

void child_on_room(void (*fn)(void *), void *arg)
{
	room_fn = fn;
	room_arg = arg;
}

pid_t child_pid(const struct child *c) { return c->pid; }
int64_t child_start_time(const struct child *c) { (void)c; return 1; }
int child_exited(const struct child *c) { return !c->alive; }
int64_t child_cpu(const struct child *c) { (void)c; return 0; }

void child_kill(struct child *c, int sig)
{
	if (c && c->alive)
		c->last_signal = sig;
}

void child_free(struct child *c)
{
	struct child **p;

	if (!c)
		return;
	for (p = &children; *p && *p != c; p = &(*p)->next)
		;
	if (*p)
		*p = c->next;
	free(c);
}

static int live_children(const char *name)
{
	int n = 0;

	for (struct child *c = children; c; c = c->next)
		n += c->alive && strcmp(c->name, name) == 0;
	return n;
}

/* The process of job name exits with wstatus (as the kernel would after
 * a signal, or on its own). */
static int exit_child(const char *name, int wstatus)
{
	answer_all();
	for (struct child *c = children; c; c = c->next)
		if (c->alive && strcmp(c->name, name) == 0) {
			c->alive = 0;
			c->ops.done(c->arg, wstatus);
			return 1;
		}
	return 0;
}

/* ---- the rig ---- */

static uv_loop_t loop;
static struct home home;
static struct registry *reg;
static struct hostcfg_watch *cfg;
static struct supervisor *sup;
static struct runner *rn;
static char root[64], temp[80];
static int held_fd = -1;

/* Lets the loop run until things settle: events, timers due, and the
 * thread pool's copies (given up to ~30 ms). */
static void settle(void)
{
	for (int i = 0; i < 30; i++) {
		struct timespec ts = { 0, 1000 * 1000 };

		answer_all();
		/* SIGKILL ends a fake process at once. */
		for (struct child *c = children; c; c = c->next)
			if (c->alive && c->last_signal == SIGKILL) {
				c->alive = 0;
				c->ops.done(c->arg, SIGKILL);
				break;
			}
		uv_run(&loop, UV_RUN_NOWAIT);
		evq_drain(100000);
		nanosleep(&ts, NULL);
	}
}

static const char *state_of(const char *name, struct supervisor_probe *p)
{
	return supervisor_probe(sup, name, p) == 0 ? p->state : "GONE";
}

static void invariants(const char *name, const char *where)
{
	struct supervisor_probe p;
	const char *st = state_of(name, &p);
	int live = live_children(name);

	if (live > 1)
		fail_msg("%s: %d processes of %s", where, live, name);
	if (strcmp(st, "GONE") == 0) {
		if (live)
			fail_msg("%s: %s is gone but its process lives", where, name);
		return;
	}
	if (strcmp(st, "RUNNING") == 0 && live != 1)
		fail_msg("%s: RUNNING without a process", where);
	if ((strcmp(st, "STOPPED") == 0 || strcmp(st, "INACTIVE") == 0 ||
	     strcmp(st, "PENDING") == 0) && live)
		fail_msg("%s: %s with a process", where, st);
	if (strcmp(st, "STOPPED") == 0 && p.timer_active)
		fail_msg("%s: STOPPED with a timer armed", where);
	if ((strcmp(st, "PENDING") == 0 || strcmp(st, "INACTIVE") == 0) && !p.timer_active)
		fail_msg("%s: %s waits for nothing", where, st);
	/* STOPPING waits for its process: its exit, or a timer to kill it. */
	if (strcmp(st, "STOPPING") == 0 && (live != 1 || !p.has_child))
		fail_msg("%s: STOPPING without a process", where);
}

/* Writes a job folder (run.sh, settings.job, maybe disable.job) and lets the
 * registry see it. */
/* A job's files in folder path (under root's jobs: "continuous/NAME"
 * or deeper), written and not yet read by any registry. */
static void write_job_files(const char *path, const char *script, const char *settings,
			    int disabled)
{
	char dir[256];
	int dfd;

	snprintf(dir, sizeof(dir), "%s/site/wwwroot/App_Data/jobs/%s", root, path);
	assert_int_equal(home_mkdirs(AT_FDCWD, dir), 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	files_write_atomic(dfd, "run.sh", script, strlen(script), 0755, 0);
	files_write_atomic(dfd, "settings.job", settings, strlen(settings), 0644, 0);
	if (disabled)
		files_write_atomic(dfd, "disable.job", "", 0, 0644, 0);
	close(dfd);
}

static void write_job(enum job_type type, const char *name, const char *script,
		      const char *settings, int disabled)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", home_type_name(type), name);
	write_job_files(path, script, settings, disabled);
	registry_touch(reg, type, name);
	registry_refresh(reg);
}

static void make_job(const char *name, int singleton, int disabled)
{
	char settings[128];

	snprintf(settings, sizeof(settings), "{\"is_in_place\":true,\"is_singleton\":%s}",
		 singleton ? "true" : "false");
	write_job(JOB_CONTINUOUS, name, "sleep 1\n", settings, disabled);
}

/* Holds the singleton lock of name as another instance would. */
static void hold_singleton(const char *name)
{
	char path[300];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	snprintf(path, sizeof(path), "%s/data/jobs/continuous/%s", root, name);
	home_mkdirs(AT_FDCWD, path);
	strcat(path, "/singleton.job.lock");
	held_fd = open(path, O_RDWR | O_CREAT, 0644);
	assert_int_equal(fcntl(held_fd, F_OFD_SETLK, &fl), 0);
}

static void release_held(void)
{
	if (held_fd >= 0)
		close(held_fd);
	held_fd = -1;
}

/* Brings a new job into state st (by the way a real one gets there). */
static void reach(const char *name, const char *st)
{
	struct supervisor_probe p;

	if (strcmp(st, "STOPPED") == 0) {
		make_job(name, 0, 1);
		settle();
	} else if (strcmp(st, "INACTIVE") == 0) {
		hold_singleton(name);
		make_job(name, 1, 0);
		settle();
	} else if (strcmp(st, "STARTING") == 0) {
		/* The listener's START drained, the spawn queue not yet run. */
		make_job(name, 0, 0);
		evq_drain(100000);
		evq_drain(100000);
	} else {
		make_job(name, 0, 0);
		settle();
		if (strcmp(st, "PENDING") == 0) {
			exit_child(name, 1 << 8);
			settle();
		} else if (strcmp(st, "STOPPING") == 0) {
			supervisor_inject(sup, name, "STOP");
			settle();
		}
	}
	assert_string_equal(state_of(name, &p), st);
	invariants(name, "reach");
}

static const char *const states[] = { "STOPPED", "INACTIVE", "STARTING", "RUNNING",
				      "PENDING", "STOPPING" };
static const char *const events[] = { "START", "STOP", "EXIT", "TIMER", "CHANGED",
				      "DELETED", "SHUTDOWN", "READY", "FAILED", "STARTED" };

static void on_host_changed(void *arg, const struct hostcfg *old)
{
	(void)arg;
	(void)old;
}

static void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/webjobs-unit-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(temp, sizeof(temp), "%s/temp", root);
}

static int open_rig(void)
{
	char err[256];
	struct supervisor_config c;

	setenv("WEBJOBS_RESTART_TIME", "60", 1);
	uv_loop_init(&loop);
	evq_start(&loop);
	assert_int_equal(home_open(&home, root, err, sizeof(err)), 0);
	reg = registry_new(&loop, &home);
	cfg = hostcfg_watch_start(&loop, home.root, on_host_changed, NULL);
	c = (struct supervisor_config){ &home, reg, cfg, "unit", temp };
	sup = supervisor_new(&loop, &c);
	assert_non_null(sup);
	{
		struct runner_config rc = { &home, reg, cfg, "unit", temp };

		rn = runner_new(&loop, &rc);
		assert_non_null(rn);
		runner_recover(rn); /* opens the run journal, as serve does */
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	make_root();
	return open_rig();
}

/* The home a host leaves: START_JOBS continuous jobs, each with its data
 * folder, found by the rig's registry at its start. */
#define START_JOBS 300

static int setup_home_of_jobs(void **state)
{
	(void)state;
	make_root();
	for (int i = 0; i < START_JOBS; i++) {
		char dir[256];

		snprintf(dir, sizeof(dir), "continuous/c%03d", i);
		write_job_files(dir, "sleep 1\n", "{\"is_in_place\":true}", 0);
		snprintf(dir, sizeof(dir), "%s/data/jobs/continuous/c%03d", root, i);
		assert_int_equal(home_mkdirs(AT_FDCWD, dir), 0);
	}
	return open_rig();
}


static void on_down(void *arg)
{
	*(int *)arg = 1;
}

/* Lets a shutdown finish: the stop waits end (every process is killed,
 * as their timers would) until *down. */
static void wind_down(const int *down)
{
	for (int i = 0; i < 50 && !*down; i++) {
		for (struct child *c = children; c; c = c->next)
			if (c->alive)
				c->last_signal = SIGKILL;
		settle();
	}
	assert_true(*down);
}

static int teardown(void **state)
{
	int down = 0, runs_down = 0;
	char cmd[128];

	(void)state;
	runner_shutdown(rn, on_down, &runs_down);
	wind_down(&runs_down);
	runner_free(rn);
	supervisor_shutdown(sup, on_down, &down);
	wind_down(&down);
	assert_null(children);
	registry_close(reg);
	hostcfg_watch_close(cfg);
	evq_close();
	uv_run(&loop, UV_RUN_DEFAULT);
	supervisor_free(sup);
	evq_free();
	assert_int_equal(uv_loop_close(&loop), 0);
	home_close(&home);
	release_held();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	(void)!system(cmd);
	return 0;
}

static void every_state_and_event(void **state)
{
	(void)state;
	for (size_t s = 0; s < sizeof(states) / sizeof(*states); s++)
		for (size_t e = 0; e < sizeof(events) / sizeof(*events); e++) {
			char name[64], where[64];

			snprintf(name, sizeof(name), "j-%zu-%zu", s, e);
			snprintf(where, sizeof(where), "%s x %s", states[s], events[e]);
			reach(name, states[s]);
			if (strcmp(events[e], "EXIT") == 0 && live_children(name))
				exit_child(name, 0);
			else
				assert_int_equal(supervisor_inject(sup, name, events[e]), 0);
			evq_drain(100000);
			invariants(name, where);
			settle();
			invariants(name, where);
			release_held();
		}
}

/* A new job name whose start fails while *failing is set: it must wait
 * its restart time. */
static void start_failing(const char *name, int *failing)
{
	struct supervisor_probe p;

	*failing = 1;
	make_job(name, 0, 0);
	settle();
	*failing = 0;
	assert_string_equal(state_of(name, &p), "PENDING");
	assert_true(p.timer_active);
	invariants(name, "failed start");
}

/* A failed spawn is its own event: the job waits its restart time. */
static void failed_spawn_waits(void **state)
{
	(void)state;
	start_failing("failing", &fail_spawns);
}

/* The helper's answer says the process could not start: a failed start
 * in the log (once), and the job waits its restart time. */
static void failed_answer_waits(void **state)
{
	char path[300], text[8192];
	FILE *f;
	size_t n;

	(void)state;
	start_failing("lost", &fail_answers);
	snprintf(path, sizeof(path), "%s/data/jobs/continuous/lost/job_log.txt", root);
	assert_non_null(f = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_non_null(strstr(text, "Job failed to start: fake start failure"));
	assert_null(strstr(strstr(text, "fake start failure") + 1, "fake start failure"));
	assert_null(strstr(text, "Status changed to Running"));
	assert_non_null(strstr(text, "Status changed to PendingRestart"));
}

/* Many jobs at once: no more spawns owed their answer than the helper
 * takes (32), however many turns pass before the answers — the READYs
 * released and not yet acted on count too; then every job runs. */
static void spawns_wait_for_room(void **state)
{
	char name[32];
	size_t most = 0;

	(void)state;
	for (int i = 0; i < 80; i++) {
		snprintf(name, sizeof(name), "many%02d", i);
		make_job(name, 0, 0);
	}
	for (int turn = 0; turn < 40; turn++) {
		size_t owed = 0;

		uv_run(&loop, UV_RUN_NOWAIT);
		if (turn % 3)
			evq_drain(turn % 2 ? 5 : 100000);
		for (struct child *c = children; c; c = c->next)
			owed += c->pending;
		most = owed > most ? owed : most;
		if (turn == 20)
			answer_all();
	}
	assert_true(most > 0);
	assert_true(most <= 32);
	for (int i = 0; i < 30; i++)
		settle();
	for (int i = 0; i < 80; i++) {
		struct supervisor_probe p;

		snprintf(name, sizeof(name), "many%02d", i);
		assert_string_equal(state_of(name, &p), "RUNNING");
		invariants(name, "many at once");
	}
}

/* STARTING with its spawn sent, the answer not yet read: a FAILED or an
 * EXIT out of turn changes nothing (its process is still to answer); the
 * answer then makes it RUNNING. */
static void failed_while_answer_owed(void **state)
{
	struct supervisor_probe p;

	(void)state;
	make_job("owed", 0, 0);
	for (int i = 0; i < 5; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		evq_drain(100000);
	}
	assert_string_equal(state_of("owed", &p), "STARTING");
	assert_true(p.has_child);
	supervisor_inject(sup, "owed", "FAILED");
	supervisor_inject(sup, "owed", "EXIT");
	evq_drain(100000);
	assert_string_equal(state_of("owed", &p), "STARTING");
	assert_true(p.has_child);
	settle();
	assert_string_equal(state_of("owed", &p), "RUNNING");
	invariants("owed", "failed while answer owed");
}

/* Events that come while STARTING wait, then apply in the new state. */
static void deferred_stop(void **state)
{
	struct supervisor_probe p;

	(void)state;
	reach("deferred", "STARTING");
	supervisor_inject(sup, "deferred", "STOP");
	evq_drain(100000);
	assert_string_equal(state_of("deferred", &p), "STARTING");
	settle();
	assert_string_equal(state_of("deferred", &p), "STOPPING");
	invariants("deferred", "deferred stop");
}

/* A stop acted on after its process exited (the EXIT still queued: a
 * request's STOP goes first) makes no shutdown file, which the next
 * process would find at its start (the fake child_spawn checks). */
static void stop_after_the_exit(void **state)
{
	struct supervisor_probe p;

	(void)state;
	reach("late", "RUNNING");
	assert_int_equal(exit_child("late", 0), 1);
	evq_request(1);
	supervisor_inject(sup, "late", "STOP");
	evq_request(0);
	settle();
	/* Not disabled: it starts again. */
	assert_string_equal(state_of("late", &p), "RUNNING");
	assert_int_equal(live_children("late"), 1);
	invariants("late", "stop after the exit");
}

/* A job deleted while it stops (its shutdown file made, its process
 * abandoned: no exit comes) and deployed again under its name: the new
 * process finds no shutdown file either. */
static void deleted_while_stopping(void **state)
{
	struct supervisor_probe p;
	char dir[256];

	(void)state;
	reach("again", "STOPPING");
	snprintf(dir, sizeof(dir), "%s/jobs/continuous/again/shutdown", temp);
	assert_int_equal(access(dir, F_OK), 0);
	snprintf(dir, sizeof(dir), "%s/site/wwwroot/App_Data/jobs/continuous/again", root);
	assert_int_equal(files_remove_tree(AT_FDCWD, dir), 0);
	registry_touch(reg, JOB_CONTINUOUS, "again");
	registry_refresh(reg);
	settle();
	assert_string_equal(state_of("again", &p), "GONE");
	make_job("again", 0, 0);
	settle();
	assert_string_equal(state_of("again", &p), "RUNNING");
	invariants("again", "deleted while stopping");
}

/* A random walk: 5,000 events and exits in any order on four jobs
 * (WALK_STEPS and WALK_SEED make a longer or another one by hand). */
static void random_walk(void **state)
{
	const char *names[] = { "w0", "w1", "w2", "w3" };
	const char *steps = getenv("WALK_STEPS"), *seed = getenv("WALK_SEED");
	long n = steps ? atol(steps) : 5000;

	(void)state;
	srand(seed ? (unsigned)atol(seed) : 11);
	for (int i = 0; i < 4; i++) {
		make_job(names[i], i == 3, 0);
	}
	settle();
	for (long step = 0; step < n; step++) {
		const char *name = names[rand() % 4];
		int what = rand() % 15;

		/* EXIT comes from the process alone, never out of turn; the
		 * helper's answers at any point (some saying the spawn failed). */
		if (what < 9 && what != 2)
			supervisor_inject(sup, name, events[what]);
		else if (what == 2 || what == 9)
			exit_child(name, (rand() % 3) << 8);
		else if (what == 10)
			make_job(name, name[1] == '3', rand() % 2);
		else if (what == 12)
			answer_all();
		else if (what == 13)
			fail_answers = rand() % 4 == 0;
		else
			settle();
		if (rand() % 4 == 0)
			evq_drain(100000);
		if (rand() % 3 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
		if (live_children(name) > 1)
			fail_msg("step %ld: two processes of %s", step, name);
	}
	fail_answers = 0;
	settle();
	for (int i = 0; i < 4; i++)
		invariants(names[i], "random walk");
}

/* ---- the runs' machine ---- */

static const char *const run_states[] = { "ACCEPTED", "COPYING", "CANCELLED", "RUNNING",
					  "STOPPING", "WAITING" };
static const char *const run_events[] = { "BEGIN", "COPIED", "NOCOPY", "EXIT", "IDLE",
					  "SHUTDOWN", "DELETED", "KILL", "ABORT", "TIMEOUT", "RETRY",
					  "STARTED" };
static char last_id[RUN_ID_LEN + 1];

static void make_tjob_retries(const char *name, int in_place, int retries)
{
	char settings[128];

	snprintf(settings, sizeof(settings), "{\"is_in_place\":%s,\"retries\":%d,\"retry_delay\":60}",
		 in_place ? "true" : "false", retries);
	write_job(JOB_TRIGGERED, name, "echo hi\n", settings, 0);
}

static void make_tjob(const char *name, int in_place)
{
	make_tjob_retries(name, in_place, 0);
}

/* Runs start as a schedule's tick (with the journal open: its group
 * commit) or by a request. */
static int scheduled;

static int start_run(const char *name)
{
	char err[256];
	struct job *j = registry_find(reg, JOB_TRIGGERED, name);

	assert_non_null(j);
	return runner_start(rn, j, scheduled ? "Schedule - unit" : "External - unit", NULL,
			    scheduled ? TICKS_PER_SEC : 0, last_id, err, sizeof(err));
}

static const char *run_state(const char *name, int *has_child)
{
	const char *st = runner_probe(rn, name, has_child);

	return st ? st : "GONE";
}

/* 1 when the run lock of job name is free. */
static int lock_free(const char *name)
{
	char path[300];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd, ok;

	snprintf(path, sizeof(path), "%s/data/jobs/triggered/%s/triggeredJob.lock", root, name);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return 1;
	ok = fcntl(fd, F_OFD_SETLK, &fl) == 0;
	close(fd);
	return ok;
}

static void run_invariants(const char *name, const char *id, int deleted, const char *where)
{
	int has_child;
	const char *st = run_state(name, &has_child);
	int live = live_children(name);

	if (live > 1)
		fail_msg("%s: %d processes of %s", where, live, name);
	if ((strcmp(st, "RUNNING") == 0 || strcmp(st, "STOPPING") == 0) && (!has_child || live != 1))
		fail_msg("%s: %s without a process", where, st);
	if ((strcmp(st, "ACCEPTED") == 0 || strcmp(st, "COPYING") == 0 ||
	     strcmp(st, "CANCELLED") == 0 || strcmp(st, "WAITING") == 0) && live)
		fail_msg("%s: %s with a process", where, st);
	if (strcmp(st, "GONE") == 0 || strcmp(st, "ENDED") == 0) {
		char path[300], text[512] = "";
		FILE *f;

		if (live)
			fail_msg("%s: the run ended but its process lives", where);
		if (!lock_free(name))
			fail_msg("%s: the run ended but holds its lock", where);
		snprintf(path, sizeof(path), "%s/data/jobs/triggered/%s/%s/status", root, name, id);
		if (!deleted && !(f = fopen(path, "r")))
			fail_msg("%s: the run ended without its record", where);
		if (!deleted && f) {
			(void)!fread(text, 1, sizeof(text) - 1, f);
			fclose(f);
			if (strstr(text, "\"Initializing\"") || strstr(text, "\"Running\""))
				fail_msg("%s: the run ended but its record says %s", where, text);
		}
	} else if (lock_free(name)) {
		fail_msg("%s: a live run (%s) without its lock", where, st);
	}
}

/* Makes the working copy of job name fail: a file where the folder of its
 * copy goes. */
static void break_copy(const char *name)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/jobs/triggered", temp);
	assert_int_equal(home_mkdirs(AT_FDCWD, path), 0);
	snprintf(path, sizeof(path), "%s/jobs/triggered/%s", temp, name);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void reach_run(const char *name, const char *st, int copy_fails)
{
	int has_child;

	make_tjob_retries(name, strcmp(st, "COPYING") != 0 && strcmp(st, "CANCELLED") != 0,
			  strcmp(st, "WAITING") == 0 ? 2 : 0);
	if (copy_fails)
		break_copy(name);
	assert_int_equal(start_run(name), 0);
	if (strcmp(st, "ACCEPTED") != 0)
		evq_drain(100000);
	if (strcmp(st, "CANCELLED") == 0) {
		runner_inject(rn, name, "SHUTDOWN");
		evq_drain(100000);
	} else if (strcmp(st, "STOPPING") == 0) {
		/* A shutdown's graceful stop: SIGTERM, SIGKILL after 30 s. */
		runner_inject(rn, name, "SHUTDOWN");
		evq_drain(100000);
	} else if (strcmp(st, "WAITING") == 0) {
		/* The first of three attempts failed: 60 s to the next. */
		exit_child(name, 1 << 8);
		evq_drain(100000);
	}
	assert_string_equal(run_state(name, &has_child), st);
	run_invariants(name, last_id, 0, "reach");
}

/* The same for a run: an abort acted on after its process exited, then
 * the job's next run. */
static void abort_after_the_exit(void **state)
{
	int has_child;

	(void)state;
	reach_run("late", "RUNNING", 0);
	assert_int_equal(exit_child("late", 1 << 8), 1);
	evq_request(1);
	runner_inject(rn, "late", "ABORT");
	evq_request(0);
	settle();
	assert_string_equal(run_state("late", &has_child), "GONE");
	assert_int_equal(start_run("late"), 0);
	settle();
	assert_int_equal(live_children("late"), 1);
	assert_int_equal(exit_child("late", 0), 1);
	settle();
}

static void every_run_state_and_event(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++)
	for (size_t s = 0; s < sizeof(run_states) / sizeof(*run_states); s++)
		for (size_t e = 0; e < sizeof(run_events) / sizeof(*run_events); e++) {
			char name[64], where[80], id[RUN_ID_LEN + 1];

			scheduled = k;
			snprintf(name, sizeof(name), "%c-%zu-%zu", k ? 's' : 'r', s, e);
			snprintf(where, sizeof(where), "%s%s x %s", k ? "scheduled " : "",
				 run_states[s], run_events[e]);
			/* While a copy is on the thread pool, COPIED and NOCOPY
			 * come from it alone (it succeeds, or is made to fail):
			 * never out of turn, like EXIT from the process. */
			int copying = strcmp(run_states[s], "COPYING") == 0 ||
				      strcmp(run_states[s], "CANCELLED") == 0;
			int from_copy = copying && (strcmp(run_events[e], "COPIED") == 0 ||
						    strcmp(run_events[e], "NOCOPY") == 0);

			reach_run(name, run_states[s], from_copy && strcmp(run_events[e], "NOCOPY") == 0);
			memcpy(id, last_id, sizeof(id));
			if (strcmp(run_events[e], "EXIT") == 0 && live_children(name))
				exit_child(name, 0);
			else if (from_copy)
				settle();
			else if (strcmp(run_events[e], "EXIT") != 0) {
				/* A request's event (an abort) goes before a
				 * BEGIN still queued: the run ends before it. */
				evq_request(strcmp(run_states[s], "ACCEPTED") == 0);
				assert_int_equal(runner_inject(rn, name, run_events[e]), 0);
				evq_request(0);
			}
			evq_drain(100000);
			run_invariants(name, id, strcmp(run_events[e], "DELETED") == 0, where);
			settle();
			run_invariants(name, id, strcmp(run_events[e], "DELETED") == 0, where);
		}
	scheduled = 0;
}

/* The spawn helper answers that the process could not start: the run
 * ends Failed, and its retries are not used (the start would fail the
 * same way). */
static void failed_start_is_not_retried(void **state)
{
	int has_child;
	char path[300], text[512] = "";
	FILE *f;

	(void)state;
	make_tjob_retries("unstartable", 1, 2);
	assert_int_equal(start_run("unstartable"), 0);
	evq_drain(100000); /* BEGIN: the spawn is sent */
	assert_string_equal(run_state("unstartable", &has_child), "RUNNING");
	fail_answers = 1;
	answer_all();
	fail_answers = 0;
	settle();
	assert_string_equal(run_state("unstartable", &has_child), "GONE");
	run_invariants("unstartable", last_id, 0, "failed start");
	snprintf(path, sizeof(path), "%s/data/jobs/triggered/unstartable/%s/status", root, last_id);
	f = fopen(path, "r");
	assert_non_null(f);
	(void)!fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	assert_non_null(strstr(text, "\"Failed\""));
}

/* A second run is refused while one holds the lock; allowed after. */
static void one_run_at_a_time(void **state)
{
	int has_child;

	(void)state;
	make_tjob("once", 1);
	assert_int_equal(start_run("once"), 0);
	assert_int_equal(start_run("once"), -EBUSY);
	settle();
	assert_string_equal(run_state("once", &has_child), "RUNNING");
	exit_child("once", 0);
	settle();
	assert_string_equal(run_state("once", &has_child), "GONE");
	assert_int_equal(start_run("once"), 0);
	settle();
	exit_child("once", 3 << 8);
	settle();
	run_invariants("once", last_id, 0, "second run");
}

/* A working copy that cannot be made fails the run (NOCOPY), unlocked. */
static void copy_failure_fails_the_run(void **state)
{
	char path[300], text[512] = "";
	FILE *f;

	(void)state;
	make_tjob("nocopy", 0);
	break_copy("nocopy");
	assert_int_equal(start_run("nocopy"), 0);
	settle();
	snprintf(path, sizeof(path), "%s/data/jobs/triggered/nocopy/%s/status", root, last_id);
	f = fopen(path, "r");
	assert_non_null(f);
	(void)!fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	{
		int hc;

		if (!strstr(text, "\"Status\":\"Failed\""))
			fail_msg("record %s, state %s", text, run_state("nocopy", &hc));
	}
	assert_int_equal(live_children("nocopy"), 0);
	assert_true(lock_free("nocopy"));
}

/* What an event sees of the continuous jobs read when it runs. */
static size_t probe_listed = SIZE_MAX;

static void probe(void *obj, int event)
{
	struct job **v;

	(void)obj;
	(void)event;
	probe_listed = registry_list(reg, JOB_CONTINUOUS, &v);
	/* It spends the turn's share: the reads still go on, one a turn. */
	while (uv_hrtime() <= evq_turn_until())
		;
}

/* The start of a home of jobs: in a turn, while the start-up's read goes
 * on, the settle pass runs the queue's waiting events before it reads
 * more jobs — what the reads
 * before caused (a job to start) goes first, so the first spawns go out
 * while the rest are read, not after all of them (docs/DECISIONS.md, "The
 * reads of the start-up after the queue"). The reads still take one step
 * when the events spent the share. Then all go on: every job is read and
 * started. */
static void first_spawn_while_the_rest_are_read(void **state)
{
	(void)state;
	assert_true(registry_reading(reg));
	evq_post(probe, NULL, 0);
	uv_run(&loop, UV_RUN_NOWAIT); /* the settle timer is due: its pass */
	if (probe_listed != 0)
		fail_msg("the waiting event ran after %zu jobs were read", probe_listed);
	{
		struct job **v;

		assert_int_equal(registry_list(reg, JOB_CONTINUOUS, &v), 1);
	}
	for (int i = 0; i < 200 && registry_reading(reg); i++)
		settle();
	assert_false(registry_reading(reg));
	settle();
	{
		int n = 0;

		for (struct child *c = children; c; c = c->next)
			n += c->alive;
		assert_int_equal(n, START_JOBS);
	}
}

/* A job whose folder is read in the middle of its removal (the delete's
 * mark in it, as another machine's client may still lead there by the
 * name) is kept as it was; when the folder then goes with no event to
 * tell (a change made through another machine), the registry reads it
 * again by itself and lets it go. */
static void kept_job_read_again_without_an_event(void **state)
{
	struct supervisor_probe p;
	char dir[256], buf[4096];
	int fd;

	(void)state;
	make_job("kept", 0, 0);
	settle();
	assert_string_equal(state_of("kept", &p), "RUNNING");
	snprintf(dir, sizeof(dir), "%s/site/wwwroot/App_Data/jobs/continuous/kept", root);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	files_write_atomic(fd, HOME_DELETED_MARK, "", 0, 0644, 0);
	close(fd);
	registry_touch(reg, JOB_CONTINUOUS, "kept");
	registry_refresh(reg);
	assert_non_null(registry_find(reg, JOB_CONTINUOUS, "kept"));
	/* Gone unannounced: the removal's inotify events are dropped. */
	assert_int_equal(files_remove_tree(AT_FDCWD, dir), 0);
	while (read(reg->ifd, buf, sizeof(buf)) > 0)
		;
	for (int i = 0; i < 60 && registry_find(reg, JOB_CONTINUOUS, "kept"); i++)
		settle(); /* ~30 ms each */
	assert_null(registry_find(reg, JOB_CONTINUOUS, "kept"));
	settle();
	assert_string_equal(state_of("kept", &p), "GONE");
	assert_int_equal(live_children("kept"), 0);
}

/* The reading of a job's folder, wrapped (-Wl,--wrap, Makefile): once
 * armed, it writes disable.job into the folder of job scan_hook_job (or
 * its sub-folder scan_hook_sub) right after that folder has been read — a
 * change made in the moment between a reading and what follows it. */
int __real_job_scan_bin(struct job *j, const struct home *h);
int __wrap_job_scan_bin(struct job *j, const struct home *h);
static const char *scan_hook_job, *scan_hook_sub = "";

int __wrap_job_scan_bin(struct job *j, const struct home *h)
{
	int rc = __real_job_scan_bin(j, h);

	if (scan_hook_job && strcmp(job_name(j), scan_hook_job) == 0) {
		char dir[256];
		int fd;

		scan_hook_job = NULL;
		snprintf(dir, sizeof(dir), "%s/site/wwwroot/App_Data/jobs/%s/%s/%s", root,
			 home_type_name(job_type(j)), job_name(j), scan_hook_sub);
		fd = open(dir, O_RDONLY | O_DIRECTORY);
		assert_true(fd >= 0);
		files_write_atomic(fd, "disable.job", "", 0, 0644, 0);
		close(fd);
	}
	return rc;
}

/* A change made in a job's folder just as it is read is seen: the
 * folder stays watched while it is read (it was not watched between
 * the reading and the watch made again after it, and the change was lost
 * — a job written by hand and made executable then never listed, in
 * make check under load). */
static void change_while_read_is_seen(void **state)
{
	struct supervisor_probe p;

	(void)state;
	make_job("during", 0, 0);
	settle();
	assert_string_equal(state_of("during", &p), "RUNNING");
	assert_false(job_disabled(registry_find(reg, JOB_CONTINUOUS, "during")));
	scan_hook_job = "during";
	registry_touch(reg, JOB_CONTINUOUS, "during");
	registry_refresh(reg);
	assert_null(scan_hook_job); /* the hook ran */
	for (int i = 0; i < 10 && !job_disabled(registry_find(reg, JOB_CONTINUOUS, "during")); i++)
		settle();
	assert_true(job_disabled(registry_find(reg, JOB_CONTINUOUS, "during")));
	settle();
	assert_string_equal(state_of("during", &p), "STOPPING"); /* disabled: stopped */
}

/* The same in a sub-folder watched for the first time: a job whose
 * script is in sub/ is read (the job folder watched before), sub/ gets
 * its watch only after the reading found it, and disable.job written
 * there in between comes to no watch — the registry reads the job once
 * more when it adds a watch on a folder it read unwatched. */
static void change_in_a_new_script_folder_is_seen(void **state)
{
	(void)state;
	write_job_files("continuous/nested/sub", "sleep 1\n", "{\"is_in_place\":true}", 0);
	scan_hook_job = "nested";
	scan_hook_sub = "sub";
	registry_touch(reg, JOB_CONTINUOUS, "nested");
	registry_refresh(reg);
	scan_hook_sub = "";
	assert_null(scan_hook_job); /* the hook ran */
	assert_string_equal(job_script_dir(registry_find(reg, JOB_CONTINUOUS, "nested")), "sub");
	for (int i = 0; i < 10 && !job_disabled(registry_find(reg, JOB_CONTINUOUS, "nested")); i++)
		settle();
	assert_true(job_disabled(registry_find(reg, JOB_CONTINUOUS, "nested")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_state_and_event, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_spawn_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_answer_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(spawns_wait_for_room, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_while_answer_owed, setup, teardown),
		cmocka_unit_test_setup_teardown(deferred_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(stop_after_the_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(deleted_while_stopping, setup, teardown),
		cmocka_unit_test_setup_teardown(random_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(every_run_state_and_event, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_start_is_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(one_run_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(abort_after_the_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(copy_failure_fails_the_run, setup, teardown),
		cmocka_unit_test_setup_teardown(first_spawn_while_the_rest_are_read,
						setup_home_of_jobs, teardown),
		cmocka_unit_test_setup_teardown(kept_job_read_again_without_an_event, setup,
						teardown),
		cmocka_unit_test_setup_teardown(change_while_read_is_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(change_in_a_new_script_folder_is_seen, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
