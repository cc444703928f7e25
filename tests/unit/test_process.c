/* Unit tests of the spawn's own account of a child: the start time a spawn
 * reports (without /proc) is the one /proc gives, whether the host clones
 * or the spawn helper does; an exec that fails is told with its errno
 * (through shared memory on the CLONE_VM path, a pipe on clone3's); the
 * pid file is written by whoever spawns, the helper before it answers; a
 * spawn held until a time (a tick accepted ahead of its second) starts
 * no sooner, and a clock far off holds it one second at most. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process.h"
#include "spawner.h"

#define SPAWNS 100

static char *argv_true[] = { "true", NULL };
static char *envp_none[] = { NULL };

static struct process_req req(const char *program, int null)
{
	struct process_req r = { .program = program, .argv = argv_true, .envp = envp_none,
				 .out_fd = null, .err_fd = null, .cgroup_fd = -1 };

	return r;
}

/* Spawns /bin/true SPAWNS times through spawn (0: the host's clone, 1:
 * the helper); every start time told must be /proc's, and at least one
 * must be told (a clone takes far less than the 10 ms of a tick). */
static void start_times(int helper)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC), told = 0;

	assert_true(null >= 0);
	for (int i = 0; i < SPAWNS; i++) {
		struct process_req r = req("/bin/true", null);
		int64_t start = -2;
		pid_t pid = 0;
		int rc = helper ? spawner_spawn(&r, &pid, &start) : process_clone_exec(&r, 0, &pid, &start);

		assert_int_equal(rc, 0);
		assert_true(pid > 0);
		/* Not reaped yet: /proc still has it (a zombie at worst). */
		if (start >= 0) {
			assert_int_equal(start, process_start_time(pid));
			told++;
		} else {
			assert_int_equal(start, -1);
		}
		assert_int_equal(waitpid(pid, NULL, 0), pid);
	}
	close(null);
	assert_true(told > 0);
}

static void test_the_start_time_told_is_procs(void **state)
{
	(void)state;
	start_times(0);
}

static void test_the_helper_tells_the_start_time_too(void **state)
{
	(void)state;
	assert_int_equal(spawner_start(), 0);
	start_times(1);
	spawner_stop();
}

static void test_a_failed_exec_is_told_with_its_errno(void **state)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct process_req r = req("/nonexistent/program", null);
	int64_t start;
	pid_t pid;

	(void)state;
	assert_int_equal(process_clone_exec(&r, 0, &pid, &start), ENOENT);
	assert_true(pid > 0); /* the child that failed, ours to reap */
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	r = req("/tmp", null);
	assert_int_equal(process_clone_exec(&r, 0, &pid, &start), EACCES);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	/* A program looked up in PATH that is nowhere: no child at all. */
	r = req("no-such-program-anywhere", null);
	assert_int_equal(process_clone_exec(&r, 0, &pid, &start), ENOENT);
	assert_int_equal(pid, 0);
	assert_int_equal(start, -1);
	close(null);
}

/* The pid file's "PID START TAIL" line: 1 when it names a process that
 * /proc knows with that start time and the tail is tail (*pid set). */
static int pid_file_names(const char *file, const char *tail, pid_t *pid)
{
	char text[200] = "";
	long long start;
	int p, n = 0;
	size_t len;
	FILE *f = fopen(file, "re");

	if (!f)
		return 0;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	/* One line, padded with spaces to a fixed size. */
	if (len == 0 || text[len - 1] != '\n' || strchr(text, '\n') != text + len - 1)
		return 0;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (sscanf(text, "%d %lld %n", &p, &start, &n) != 2 || n == 0)
		return 0;
	*pid = p;
	return strcmp(text + n, tail) == 0 && process_start_time(p) == start;
}

static void test_the_pid_file_is_written_by_the_spawn(void **state)
{
	char file[] = "/tmp/webjobs-pidfile-XXXXXX";
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC), fd = mkstemp(file);
	struct process_req r = req("/bin/true", null);
	int64_t start;
	pid_t pid, named = 0;
	char program[64];

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* Longer before than after: the rewrite in place covers it all. */
	fd = open(file, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "9999999 99999999999 this is a long line that was there\n", 56),
			 56);
	close(fd);
	r.pid_file = file;
	r.pid_tail = "123 456";
	assert_int_equal(process_clone_exec(&r, 0, &pid, &start), 0);
	assert_true(pid_file_names(file, "123 456", &named));
	assert_int_equal(named, pid);
	assert_int_equal(waitpid(pid, NULL, 0), pid);

	/* The helper's, read before its answer is: the file names the job
	 * while the host has not learnt its pid yet. */
	truncate(file, 0);
	assert_int_equal(spawner_start(), 0);
	r.pid_tail = "7 8";
	assert_int_equal(spawner_send(&r), 0);
	for (int i = 0; i < 5000 && !pid_file_names(file, "7 8", &named); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	assert_true(pid_file_names(file, "7 8", &named));
	assert_int_equal(spawner_receive(&r, 1, &pid, &start, program, sizeof(program)), 0);
	assert_int_equal(named, pid);
	assert_int_equal(waitpid(pid, NULL, 0), pid);

	/* An exec that fails leaves the file as it was. */
	truncate(file, 0);
	r = req("/nonexistent/program", null);
	r.pid_file = file;
	assert_int_equal(spawner_spawn(&r, &pid, &start), ENOENT);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_false(pid_file_names(file, "", &named));
	spawner_stop();
	unlink(file);
	close(null);
}

/* Spawns /bin/true held until not_before (0: the host's clone, 1: the
 * helper, sent then answered); returns when the spawn returned (ns). */
static int64_t held_spawn(int helper, int64_t not_before)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct process_req r = req("/bin/true", null);
	char program[64];
	int64_t start, sent, before = process_realtime_ns();
	pid_t pid = 0;

	r.not_before = process_hold_until(not_before);
	if (helper) {
		assert_int_equal(spawner_send(&r), 0);
		sent = process_realtime_ns();
		/* Sent without waiting for the time: the helper holds it. */
		assert_true(not_before <= before || sent < not_before);
		assert_int_equal(spawner_receive(&r, 1, &pid, &start, program, sizeof(program)), 0);
	} else {
		assert_int_equal(process_clone_exec(&r, 0, &pid, &start), 0);
	}
	sent = process_realtime_ns();
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	close(null);
	return sent;
}

static void test_a_held_spawn_starts_at_its_time(void **state)
{
	int64_t at;

	(void)state;
	assert_int_equal(spawner_start(), 0);
	for (int helper = 0; helper < 2; helper++) {
		at = process_realtime_ns() + 150 * 1000000ll;
		assert_true(held_spawn(helper, at) >= at);
		/* Past: at once. */
		at = process_realtime_ns();
		assert_true(held_spawn(helper, at - 1000000000ll) < at + 100 * 1000000ll);
	}
	/* An hour ahead: a second at most, whoever asks. */
	at = process_realtime_ns();
	assert_true(held_spawn(1, at + 3600 * 1000000000ll) < at + 1500 * 1000000ll);
	{
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		struct process_req r = req("/bin/true", null);
		int64_t start, t0 = process_monotonic_ns();
		pid_t pid;

		r.not_before = t0 + 3600 * 1000000000ll;
		assert_int_equal(process_clone_exec(&r, 0, &pid, &start), 0);
		assert_true(process_monotonic_ns() < t0 + 1500 * 1000000ll);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		close(null);
	}
	spawner_stop();
}

/* The child names itself in the pid file before its exec: a host killed
 * while a spawn is under way leaves no process that no file names. Seen
 * by inotify on one folder, in the order it happened: the pid file
 * written, then the program opened by the exec (the helper's write after
 * the clone came after that open). */
static void test_the_pid_file_names_the_child_before_its_exec(void **state)
{
	char dir[] = "/tmp/webjobs-exec-XXXXXX", prog[64], file[64], buf[4096];
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC), in, src, dst;
	struct process_req r;
	int64_t start;
	pid_t pid;
	ssize_t n;
	int written = -1, opened = -1, k = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(prog, sizeof(prog), "%s/true", dir);
	snprintf(file, sizeof(file), "%s/pid", dir);
	src = open("/bin/true", O_RDONLY | O_CLOEXEC);
	dst = open(prog, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	assert_true(src >= 0 && dst >= 0);
	while ((n = read(src, buf, sizeof(buf))) > 0)
		assert_int_equal(write(dst, buf, (size_t)n), n);
	close(src);
	close(dst);
	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	assert_true(in >= 0);
	assert_true(inotify_add_watch(in, dir, IN_OPEN | IN_MODIFY) >= 0);
	r = req(prog, null);
	r.pid_file = file;
	r.pid_tail = "1 2";
	assert_int_equal(process_clone_exec(&r, 0, &pid, &start), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; k++) {
			struct inotify_event *e = (struct inotify_event *)p;

			if (e->len && strcmp(e->name, "pid") == 0 && (e->mask & IN_MODIFY) &&
			    written < 0)
				written = k;
			if (e->len && strcmp(e->name, "true") == 0 && (e->mask & IN_OPEN) &&
			    opened < 0)
				opened = k;
			p += sizeof(*e) + e->len;
		}
	assert_true(written >= 0 && opened >= 0);
	assert_true(written < opened);
	close(in);
	unlink(prog);
	unlink(file);
	rmdir(dir);
	close(null);
}

/* WEBJOBS_PORT: bind(0) draws at random and repeats itself (26 of 1,000
 * here); the ports given to jobs are never given twice until released. */
static void test_free_ports_are_never_given_twice(void **state)
{
	static int ports[2000];
	static unsigned char seen[65536];

	(void)state;
	for (int i = 0; i < 2000; i++) {
		ports[i] = process_free_port();
		assert_true(ports[i] > 0);
		assert_false(seen[ports[i]]);
		seen[ports[i]] = 1;
	}
	for (int i = 0; i < 2000; i++)
		process_port_release(ports[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_ports_are_never_given_twice),
		cmocka_unit_test(test_the_start_time_told_is_procs),
		cmocka_unit_test(test_the_helper_tells_the_start_time_too),
		cmocka_unit_test(test_a_failed_exec_is_told_with_its_errno),
		cmocka_unit_test(test_the_pid_file_is_written_by_the_spawn),
		cmocka_unit_test(test_a_held_spawn_starts_at_its_time),
		cmocka_unit_test(test_the_pid_file_names_the_child_before_its_exec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
