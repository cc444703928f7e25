/* Unit tests of joblog (line cutting, format and roll-over), unpack (entry names and
 * modes) and hostcfg (host settings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostcfg.h"
#include "joblog.h"
#include "unpack.h"

static char dir[] = "/tmp/webjobs-unit-XXXXXX";

static char *slurp(const char *name)
{
	char path[256];
	FILE *f;
	static char buf[1 << 20];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Drops the time stamps: "[T > inst: LEVEL] text" -> "LEVEL|text". */
static char *levels(const char *text)
{
	static char out[1 << 20];
	size_t o = 0;

	for (const char *p = text; *p;) {
		const char *colon = strstr(p, ": "), *close_b = strstr(p, "] ");
		const char *nl = strchr(p, '\n');

		if (!colon || !close_b || !nl)
			break;
		memcpy(out + o, colon + 2, (size_t)(close_b - colon - 2));
		o += (size_t)(close_b - colon - 2);
		out[o++] = '|';
		memcpy(out + o, close_b + 2, (size_t)(nl - close_b - 2));
		o += (size_t)(nl - close_b - 2);
		out[o++] = '\n';
		p = nl + 1;
	}
	out[o] = '\0';
	return out;
}

static int setup(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/*", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void format(void **state)
{
	char buf[256];
	size_t n = joblog_format(buf, sizeof(buf), 17145668961234567LL, "inst01", "SYS INFO",
				 "hello", 5);

	buf[n] = '\0';
	assert_string_equal(buf, "[05/01/2024 12:34:56 > inst01: SYS INFO] hello\n");
}

static void lines_and_streams(void **state)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct joblog *l = joblog_open(dfd, "out.txt", "err.txt", "abcdefgh");

	joblog_sys(l, 0, "Status changed to %s", "Running");
	joblog_output(l, JOBLOG_OUT, "one\ntw", 6);
	joblog_output(l, JOBLOG_ERR, "e1\r\n", 4);
	joblog_output(l, JOBLOG_OUT, "o\r", 2);
	joblog_output(l, JOBLOG_OUT, "\nthree\rfour\n\nlast", 17);
	joblog_end(l, JOBLOG_OUT);
	joblog_end(l, JOBLOG_ERR);
	joblog_sys(l, 1, "Job failed due to exit code %d", 3);
	assert_int_equal(joblog_error(l), 0);
	joblog_close(l);
	assert_string_equal(levels(slurp("out.txt")),
			    "SYS INFO|Status changed to Running\n"
			    "INFO|one\n"
			    "ERR |e1\n"
			    "INFO|two\n"
			    "INFO|three\n"
			    "INFO|four\n"
			    "INFO|\n"
			    "INFO|last\n"
			    "SYS ERR |Job failed due to exit code 3\n");
	assert_string_equal(levels(slurp("err.txt")), "ERR |e1\n");
	assert_non_null(strstr(slurp("out.txt"), "> abcdef: INFO] one\n"));
	close(dfd);
}

static atomic_int rolling; /* the writer is still writing */
static atomic_int missing; /* times the reader found no main file */

/* A reader of the log, as /vfs or a dashboard: out.txt, looked for again
 * and again while the writer rolls it over. */
static void *look(void *arg)
{
	int dfd = *(int *)arg;

	while (atomic_load(&rolling))
		if (faccessat(dfd, "out.txt", F_OK, 0) < 0)
			atomic_fetch_add(&missing, 1);
	return NULL;
}

/* Past its size the main file is rolled over to the previous-log name:
 * no line lost across the two, no temporary file left, and the main
 * name never missing for a reader in between. */
static void rolled_over_in_place(void **state)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY), first = 0, last = 0, n = 0;
	struct joblog *l = joblog_open(dfd, "out.txt", NULL, "abcdefgh");
	pthread_t reader;
	char line[32], *text;
	DIR *d;
	struct dirent *e;

	joblog_set_rollover(l, "prev.txt", 200);
	atomic_store(&rolling, 1);
	assert_int_equal(pthread_create(&reader, NULL, look, &dfd), 0);
	for (int i = 1; i <= 2000; i++) {
		int w = snprintf(line, sizeof(line), "line-%d\n", i);

		joblog_output(l, JOBLOG_OUT, line, (size_t)w);
	}
	atomic_store(&rolling, 0);
	pthread_join(reader, NULL);
	joblog_close(l);
	assert_int_equal(atomic_load(&missing), 0);
	/* The lines the two files hold run without a gap up to the last. */
	text = slurp("prev.txt");
	assert_non_null(text);
	text = strdup(text);
	text = realloc(text, strlen(text) + strlen(slurp("out.txt")) + 1);
	strcat(text, slurp("out.txt"));
	for (char *p = strstr(text, "line-"); p; p = strstr(p + 1, "line-")) {
		int k = atoi(p + 5);

		if (!n++)
			first = last = k;
		else
			assert_int_equal(k, ++last);
	}
	free(text);
	assert_true(first > 1);
	assert_int_equal(last, 2000);
	d = fdopendir(dup(dfd));
	while ((e = readdir(d)))
		assert_null(strstr(e->d_name, ".tmp-"));
	closedir(d);
	close(dfd);
}

/* A pending log (joblog_pending): nothing reaches the folder until it is
 * placed; then the lines go after what its main file holds, in order,
 * and stderr's file is made for its lines. Closed unplaced, nothing is
 * written. */
static void pending_then_placed(void **state)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY), fd;
	struct joblog *l = joblog_pending("out.txt", "err.txt", "abcdefgh");

	joblog_sys_held(l, "Run script");
	joblog_sys(l, 0, "Status changed to Running");
	joblog_output(l, JOBLOG_OUT, "one\ntw", 6);
	joblog_output(l, JOBLOG_ERR, "e1\n", 3);
	assert_true(joblog_waiting(l) > 0);
	assert_null(slurp("out.txt"));
	assert_null(slurp("err.txt"));
	assert_false(joblog_has_err(l));
	fd = openat(dfd, "out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, "[first]\n", 8), 8);
	joblog_place(l, dfd, fd);
	assert_int_equal(joblog_waiting(l), 0);
	assert_true(joblog_has_err(l));
	joblog_output(l, JOBLOG_OUT, "o\n", 2);
	joblog_close(l);
	assert_memory_equal(slurp("out.txt"), "[first]\n", 8);
	assert_string_equal(levels(slurp("out.txt") + 8),
			    "SYS INFO|Run script\n"
			    "SYS INFO|Status changed to Running\n"
			    "INFO|one\n"
			    "ERR |e1\n"
			    "INFO|two\n");
	assert_string_equal(levels(slurp("err.txt")), "ERR |e1\n");

	l = joblog_pending("never.txt", NULL, "abcdefgh");
	joblog_sys(l, 0, "lost");
	joblog_close(l);
	assert_null(slurp("never.txt"));
	close(dfd);
}

/* joblog_set_time: the lines after it carry the time given (a line
 * written later than what it tells: the scheduler's held lines), until
 * it is 0 again. */
static void lines_at_a_given_time(void **state)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct joblog *l = joblog_open(dfd, "at.txt", NULL, "abcdefgh");
	const char *text;

	joblog_sys(l, 0, "now");
	joblog_set_time(l, 17145668961234567LL);
	joblog_sys(l, 0, "then");
	joblog_set_time(l, 0);
	joblog_sys(l, 0, "now again");
	joblog_close(l);
	text = slurp("at.txt");
	assert_string_equal(levels(text), "SYS INFO|now\nSYS INFO|then\nSYS INFO|now again\n");
	assert_non_null(strstr(text, "\n[05/01/2024 12:34:56 > abcdef: SYS INFO] then\n"));
	assert_null(strstr(text, "2024 12:34:56 > abcdef: SYS INFO] now"));
	close(dfd);
}

static void long_lines_cut(void **state)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	struct joblog *l = joblog_open(dfd, "long.txt", NULL, "i");
	size_t len = 2 * JOBLOG_MAX_LINE + 10;
	char *big = malloc(len + 1);
	char *text;
	int count = 0;

	memset(big, 'x', len);
	big[len] = '\n';
	joblog_output(l, JOBLOG_OUT, big, len + 1);
	/* The same line, arriving in small pieces. */
	for (size_t i = 0; i < len; i += 1000)
		joblog_output(l, JOBLOG_OUT, big, len - i < 1000 ? len - i : 1000);
	joblog_output(l, JOBLOG_OUT, "\n", 1);
	/* Exactly the limit: one line, no empty line after it. */
	joblog_output(l, JOBLOG_OUT, big, JOBLOG_MAX_LINE);
	joblog_output(l, JOBLOG_OUT, "\n", 1);
	joblog_close(l);
	text = slurp("long.txt");
	for (char *p = text; (p = strchr(p, '\n')); p++)
		count++;
	assert_int_equal(count, 3 + 3 + 1);
	assert_null(strstr(text, "INFO] \n"));
	free(big);
	close(dfd);
}

static void entry_names(void **state)
{
	char out[256], err[256];

	assert_int_equal(unpack_check_name("a/b/c.sh", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "a/b/c.sh");
	assert_int_equal(unpack_check_name("./a//b/./c", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "a/b/c");
	assert_int_equal(unpack_check_name("dir\\file.sh", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "dir/file.sh");
	assert_int_equal(unpack_check_name("a..b/..c", out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "a..b/..c");
	const char *bad[] = { "", "/etc/passwd", "\\x", "../x", "a/../../x", "a/..", "..",
			      "a\\..\\b", "C:/x", "c:\\x", "a\x01", ".", "./", "a/\x7f" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(unpack_check_name(bad[i], out, sizeof(out), err, sizeof(err)),
				 -EINVAL);
	assert_int_equal(unpack_check_name("../secret", out, sizeof(out), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'../secret'"));
}

static void modes(void **state)
{
	assert_int_equal(unpack_mode(0, 0), 0644);
	assert_int_equal(unpack_mode(0, 1), 0755);
	assert_int_equal(unpack_mode(04755, 0), 0755);
	assert_int_equal(unpack_mode(02775, 1), 0755);
	assert_int_equal(unpack_mode(0200, 0), 0600);
	assert_int_equal(unpack_mode(0000 | 01000, 1), 0500);
	assert_int_equal(unpack_mode(0666, 0), 0644);
}

static void host_settings(void **state)
{
	struct hostcfg c;
	char err[256];
	char *env[] = { "WEBJOBS_HISTORY_SIZE=5", "WEBJOBS_STOPPED=TRUE", "TZ=Europe/Berlin",
			"WEBJOBS_IDLE_TIMEOUT=-3", "OTHER=1", NULL };
	const char *json = "{\"WEBJOBS_HISTORY_SIZE\": 7, \"WEBJOBS_STOPPED\": false,"
			   "\"WEBSITE_TIME_ZONE\": \"America/New_York\", \"WEBJOBS_RESTART_TIME\": \"1\"}";

	hostcfg_build(&c, NULL, NULL, 0, err, sizeof(err));
	assert_int_equal(c.history_size, 50);
	assert_int_equal(c.idle_timeout, 120);
	assert_int_equal(c.restart_time, 60);
	assert_int_equal(c.log_max_size, 10485760);
	assert_int_equal(c.stopped, 0);
	assert_string_equal(c.time_zone, "");
	hostcfg_build(&c, env, NULL, 0, err, sizeof(err));
	assert_int_equal(c.history_size, 5);
	assert_int_equal(c.stopped, 1);
	assert_int_equal(c.idle_timeout, 0);
	assert_string_equal(c.time_zone, "Europe/Berlin");
	hostcfg_build(&c, env, json, strlen(json), err, sizeof(err));
	assert_string_equal(err, "");
	assert_int_equal(c.history_size, 7);
	assert_int_equal(c.stopped, 0);
	assert_int_equal(c.restart_time, 1);
	assert_string_equal(c.time_zone, "America/New_York");
	hostcfg_build(&c, env, "{\"WEBJOBS_HISTORY_SIZE\": \"lots\"}", 32, err, sizeof(err));
	assert_int_equal(c.history_size, 5);
	assert_non_null(strstr(err, "WEBJOBS_HISTORY_SIZE"));
	hostcfg_build(&c, env, "[1]", 3, err, sizeof(err));
	assert_non_null(strstr(err, "not a JSON object"));
	assert_true(hostcfg_truthy("1") && hostcfg_truthy("True") && !hostcfg_truthy("yes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format),
		cmocka_unit_test_setup(lines_and_streams, setup),
		cmocka_unit_test_setup(pending_then_placed, setup),
		cmocka_unit_test_setup(lines_at_a_given_time, setup),
		cmocka_unit_test_setup(long_lines_cut, setup),
		cmocka_unit_test_setup(rolled_over_in_place, setup),
		cmocka_unit_test(entry_names),
		cmocka_unit_test(modes),
		cmocka_unit_test(host_settings),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests_name("joblog", tests, NULL, NULL);
	setup(NULL);
	rmdir(dir);
	return rc;
}
