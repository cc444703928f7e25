/* Unit tests of the spawn's own account of a child: the start time a spawn
 * reports (without /proc) is the one /proc gives, whether the host clones
 * or the spawn helper does; an exec that fails is told with its errno
 * (through shared memory on the CLONE_VM path, a pipe on clone3's). */
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
#include <sys/wait.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_start_time_told_is_procs),
		cmocka_unit_test(test_the_helper_tells_the_start_time_too),
		cmocka_unit_test(test_a_failed_exec_is_told_with_its_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
