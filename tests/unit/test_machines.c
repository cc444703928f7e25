/* The supervisor's machine below HTTP: every state x event, with a fake
 * process layer (this file defines child_*, so src/child.c is not linked)
 * and events injected as the loop would post them. After each step the
 * invariants are checked: one process at most per job, a process exactly
 * when the state says so, no timer left in a state that waits for nothing,
 * and at the end every entry freed (LeakSanitizer). */
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

#include "child.h"
#include "evq.h"
#include "files.h"
#include "home.h"
#include "hostcfg.h"
#include "registry.h"
#include "supervisor.h"

/* ---- the fake process layer ---- */

struct child {
	struct child_ops ops;
	void *arg;
	char name[64];
	pid_t pid;
	int alive;
	int last_signal;
	struct child *next;
};

static struct child *children;
static int next_pid = 1000;
static int fail_spawns;

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
	c = calloc(1, sizeof(*c));
	c->ops = *ops;
	c->arg = arg;
	snprintf(c->name, sizeof(c->name), "%s", req->name);
	c->pid = next_pid++;
	c->alive = 1;
	c->next = children;
	children = c;
	return c;
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
static char root[64], temp[80];
static int held_fd = -1;

static void settle(void)
{
	for (int i = 0; i < 20; i++) {
		/* SIGKILL ends a fake process at once. */
		for (struct child *c = children; c; c = c->next)
			if (c->alive && c->last_signal == SIGKILL) {
				c->alive = 0;
				c->ops.done(c->arg, SIGKILL);
				break;
			}
		uv_run(&loop, UV_RUN_NOWAIT);
		evq_drain(100000);
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

static void make_job(const char *name, int singleton, int disabled)
{
	char dir[256], settings[128];
	int dfd;

	snprintf(dir, sizeof(dir), "%s/site/wwwroot/App_Data/jobs/continuous/%s", root, name);
	assert_int_equal(home_mkdirs(AT_FDCWD, dir), 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	files_write_atomic(dfd, "run.sh", "sleep 1\n", 8, 0755, 0);
	snprintf(settings, sizeof(settings), "{\"is_in_place\":true,\"is_singleton\":%s}",
		 singleton ? "true" : "false");
	files_write_atomic(dfd, "settings.job", settings, strlen(settings), 0644, 0);
	if (disabled)
		files_write_atomic(dfd, "disable.job", "", 0, 0644, 0);
	close(dfd);
	registry_touch(reg, JOB_CONTINUOUS, name);
	registry_refresh(reg);
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
				      "DELETED", "SHUTDOWN", "READY", "FAILED" };

static void on_host_changed(void *arg, const struct hostcfg *old)
{
	(void)arg;
	(void)old;
}

static int setup(void **state)
{
	char err[256];
	struct supervisor_config c;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/webjobs-unit-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(temp, sizeof(temp), "%s/temp", root);
	setenv("WEBJOBS_RESTART_TIME", "60", 1);
	uv_loop_init(&loop);
	evq_start(&loop);
	assert_int_equal(home_open(&home, root, err, sizeof(err)), 0);
	reg = registry_new(&loop, &home);
	cfg = hostcfg_watch_start(&loop, home.root, on_host_changed, NULL);
	c = (struct supervisor_config){ &home, reg, cfg, "unit", temp };
	sup = supervisor_new(&loop, &c);
	assert_non_null(sup);
	return 0;
}

static void on_down(void *arg)
{
	*(int *)arg = 1;
}

static int teardown(void **state)
{
	int down = 0;
	char cmd[128];

	(void)state;
	supervisor_shutdown(sup, on_down, &down);
	for (int i = 0; i < 50 && !down; i++) {
		/* TIMER ends a stop's wait: SIGKILL, then the fake exit. */
		for (struct child *c = children; c; c = c->next)
			if (c->alive)
				c->last_signal = SIGKILL;
		settle();
	}
	assert_true(down);
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

/* A failed spawn is its own event: the job waits its restart time. */
static void failed_spawn_waits(void **state)
{
	struct supervisor_probe p;

	(void)state;
	fail_spawns = 1;
	make_job("failing", 0, 0);
	settle();
	fail_spawns = 0;
	assert_string_equal(state_of("failing", &p), "PENDING");
	assert_true(p.timer_active);
	invariants("failing", "failed spawn");
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

/* A random walk: 5,000 events and exits in any order on four jobs. */
static void random_walk(void **state)
{
	const char *names[] = { "w0", "w1", "w2", "w3" };

	(void)state;
	srand(11);
	for (int i = 0; i < 4; i++) {
		make_job(names[i], i == 3, 0);
	}
	settle();
	for (int step = 0; step < 5000; step++) {
		const char *name = names[rand() % 4];
		int what = rand() % 12;

		/* EXIT comes from the process alone, never out of turn. */
		if (what < 9 && what != 2)
			supervisor_inject(sup, name, events[what]);
		else if (what == 2 || what == 9)
			exit_child(name, (rand() % 3) << 8);
		else if (what == 10)
			make_job(name, name[1] == '3', rand() % 2);
		else
			settle();
		if (rand() % 4 == 0)
			evq_drain(100000);
		if (rand() % 3 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
		if (live_children(name) > 1)
			fail_msg("step %d: two processes of %s", step, name);
	}
	settle();
	for (int i = 0; i < 4; i++)
		invariants(names[i], "random walk");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_state_and_event, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_spawn_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(deferred_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(random_walk, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
