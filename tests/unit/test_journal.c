/* Unit tests of journal: records survive a reopen in order, a torn or
 * damaged record ends the journal there, a new epoch forgets every record
 * (and the old ones left beyond the end never count again), a full
 * journal refuses, a foreign file is refused. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

static char dir[] = "/tmp/webjobs-unit-XXXXXX";
static int dfd;

struct seen {
	int n;
	char lines[64][128];
};

static void collect(void *arg, const char *line)
{
	struct seen *s = arg;

	if (s->n < 64)
		snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s", line);
	s->n++;
}

static struct journal *reopen(struct journal *j, struct seen *s)
{
	struct journal *k;

	journal_close(j);
	assert_int_equal(journal_open(dfd, "j", &k), 0);
	memset(s, 0, sizeof(*s));
	journal_replay(k, collect, s);
	return k;
}

static void fresh(struct journal **j)
{
	unlinkat(dfd, "j", 0);
	assert_int_equal(journal_open(dfd, "j", j), 0);
}

static void test_records_survive(void **state)
{
	struct journal *j;
	struct seen s;
	struct stat st;

	(void)state;
	fresh(&j);
	assert_int_equal(fstatat(dfd, "j", &st, 0), 0);
	assert_int_equal(st.st_size, JOURNAL_SIZE); /* allocated once, up front */
	assert_int_equal(journal_append(j, "[\"a\",1]", 7), 0);
	assert_int_equal(journal_append(j, "second record", 13), 0);
	assert_true(journal_unsynced(j));
	assert_int_equal(journal_sync(j), 0);
	assert_false(journal_unsynced(j));
	j = reopen(j, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.lines[0], "[\"a\",1]");
	assert_string_equal(s.lines[1], "second record");
	/* Appends continue after what was replayed. */
	assert_int_equal(journal_append(j, "third", 5), 0);
	j = reopen(j, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.lines[2], "third");
	assert_int_equal(fstatat(dfd, "j", &st, 0), 0);
	assert_int_equal(st.st_size, JOURNAL_SIZE);
	journal_close(j);
}

static void test_torn_record_ends_it(void **state)
{
	struct journal *j;
	struct seen s;
	char buf[256];
	int fd;

	(void)state;
	fresh(&j);
	journal_append(j, "one", 3);
	journal_append(j, "two", 3);
	journal_append(j, "three", 5);
	journal_close(j);
	/* A bit flipped in the second record's text. */
	fd = openat(dfd, "j", O_RDWR);
	assert_true(pread(fd, buf, sizeof(buf), JOURNAL_HEADER) > 0);
	{
		char *two = strstr(buf, "two");

		assert_non_null(two);
		two[1] ^= 1;
		assert_int_equal(pwrite(fd, two + 1, 1, JOURNAL_HEADER + (two + 1 - buf)), 1);
	}
	close(fd);
	j = reopen(NULL, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "one");
	/* A record cut short (no newline yet) ends it too. */
	journal_close(j);
	fresh(&j);
	journal_append(j, "whole", 5);
	journal_append(j, "cut", 3);
	journal_close(j);
	fd = openat(dfd, "j", O_RDWR);
	assert_true(pread(fd, buf, sizeof(buf), JOURNAL_HEADER) > 0);
	{
		char *nl = strchr(strstr(buf, "cut"), '\n');

		assert_int_equal(pwrite(fd, "\0", 1, JOURNAL_HEADER + (nl - buf)), 1);
	}
	close(fd);
	j = reopen(NULL, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "whole");
	journal_close(j);
}

static void test_epochs(void **state)
{
	struct journal *j;
	struct seen s;

	(void)state;
	fresh(&j);
	journal_append(j, "a long record of the first epoch", 32);
	journal_append(j, "another record of the first epoch", 33);
	assert_int_equal(journal_count(j), 2);
	assert_int_equal(journal_reset(j, journal_epoch(j) + 5), 0);
	assert_int_equal(journal_count(j), 0);
	j = reopen(j, &s);
	assert_int_equal(s.n, 0);
	/* A shorter record over the old ones: they do not come back. */
	journal_append(j, "new", 3);
	j = reopen(j, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "new");
	journal_close(j);
}

static void test_full_and_bad_lines(void **state)
{
	struct journal *j;
	struct seen s;
	static char big[64 * 1024];
	int n = 0;

	(void)state;
	fresh(&j);
	memset(big, 'x', sizeof(big));
	assert_int_equal(journal_append(j, "a\nb", 3), -EINVAL);
	while (journal_append(j, big, sizeof(big) - 100) == 0)
		n++;
	assert_int_equal(journal_append(j, big, sizeof(big) - 100), -ENOSPC);
	assert_true(journal_room(j) < sizeof(big));
	assert_int_equal(n, (JOURNAL_SIZE - JOURNAL_HEADER) / (sizeof(big) - 100 + 35));
	j = reopen(j, &s);
	assert_int_equal(s.n, n);
	journal_close(j);
}

/* The replay reads the journal a piece (64 KiB) at a time: records cut
 * by a piece's end, and one longer than a piece, all come back, and the
 * next append goes after the last. */
static void test_records_across_pieces(void **state)
{
	struct journal *j;
	struct seen s;
	static char big[150 * 1024];
	char line[128];
	int n = 0;

	(void)state;
	fresh(&j);
	for (; n < 3000; n++) {
		snprintf(line, sizeof(line), "record %d %0*d", n, 60 + n % 17, n);
		assert_int_equal(journal_append(j, line, strlen(line)), 0);
	}
	memset(big, 'y', sizeof(big));
	assert_int_equal(journal_append(j, big, sizeof(big)), 0);
	assert_int_equal(journal_append(j, "after the big one", 17), 0);
	assert_int_equal(journal_sync(j), 0);
	j = reopen(j, &s);
	assert_int_equal(s.n, 3002);
	assert_int_equal(strncmp(s.lines[63], "record 63 ", 10), 0);
	assert_int_equal(journal_append(j, "one more", 8), 0);
	j = reopen(j, &s);
	assert_int_equal(s.n, 3003);
	journal_close(j);
}

static void test_foreign_file(void **state)
{
	struct journal *j;
	int fd;

	(void)state;
	unlinkat(dfd, "j", 0);
	fd = openat(dfd, "j", O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "not a journal at all, not one bit of it, no no no no no no no\n",
			       63), 63);
	close(fd);
	assert_int_equal(journal_open(dfd, "j", &j), -EBADMSG);
	unlinkat(dfd, "j", 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_survive),
		cmocka_unit_test(test_torn_record_ends_it),
		cmocka_unit_test(test_epochs),
		cmocka_unit_test(test_full_and_bad_lines),
		cmocka_unit_test(test_records_across_pieces),
		cmocka_unit_test(test_foreign_file),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlinkat(dfd, "j", 0);
	close(dfd);
	rmdir(dir);
	return rc;
}
