/* Unit tests of cron: parsing and its errors, expansion, and the vectors
 * of cron_vectors.txt (made by cron_reference.py, an independent
 * implementation) run with a fake clock: cron_next from a given instant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

static void expands(const char *expr, const char *want)
{
	struct cron c;
	char err[256], *buf;

	if (cron_parse(expr, &c, err, sizeof(err)) != 0)
		fail_msg("%s: %s", expr, err);
	buf = cron_expand(&c);
	assert_non_null(buf);
	if (strcmp(buf, want) != 0)
		fail_msg("%s expands to '%s', want '%s'", expr, buf, want);
	free(buf);
}

static void expansion(void **state)
{
	expands("*/10 * * * * *", "0,10,20,30,40,50 * * * * *");
	expands("0 0 9 * * mon,wed", "0 0 9 * * 1,3");
	expands("1,2,3,5 * * * * *", "1-3,5 * * * * *");
	expands("0 0 0 * * 5-7", "0 0 0 * * 0,5-6");
	expands("0 0 0 * * 7-5", "0 0 0 * * 0,5-6");
	expands("0 0 0 * * 0-7", "0 0 0 * * *");
	/* Long expansions are never cut (issue 12: "*\/2" stopped at 44). */
	expands("*/2 * * * * *",
		"0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,36,38,40,42,44,46,48,50,"
		"52,54,56,58 * * * * *");
	expands("0-1,3-4,6-7,9-10,12-13,15-16,18-19,21-22,24-25,27-28,30-31,33-34,36-37,"
		"39-40,42-43,45-46,48-49,51-52,54-55,57-58 */3 0-1,3-4,6-7,9-10,12-13,15-16,"
		"18-19,21-22 1-2,4-5,7-8,10-11,13-14,16-17,19-20,22-23,25-26,28-29,31 "
		"1-2,4-5,7-8,10-11 0-1,3-4",
		"0-1,3-4,6-7,9-10,12-13,15-16,18-19,21-22,24-25,27-28,30-31,33-34,36-37,"
		"39-40,42-43,45-46,48-49,51-52,54-55,57-58 0,3,6,9,12,15,18,21,24,27,30,33,36,39,"
		"42,45,48,51,54,57 0-1,3-4,6-7,9-10,12-13,15-16,18-19,21-22 1-2,4-5,7-8,10-11,"
		"13-14,16-17,19-20,22-23,25-26,28-29,31 1-2,4-5,7-8,10-11 0-1,3-4");
	expands("0 0 0 * * 1-7", "0 0 0 * * *");
	expands("0 0 0 * jan-dec *", "0 0 0 * * *");
	expands("0 0 */1 * * *", "0 0 * * * *");
	expands("0 0 0-23 * * *", "0 0 * * * *");
	expands("0-59 * * * * *", "* * * * * *");
	expands("1,2 * * * * *", "1-2 * * * * *");
	expands("40-20 * * * * *", "20-40 * * * * *");
	expands("50-10/5 * * * * *", "10,15,20,25,30,35,40,45,50 * * * * *");
	expands("5/15 * * * * *", "5,20,35,50 * * * * *");
	expands("0 0 0 1 MAR,ma,mAy *", "0 0 0 1 3,5 *");
	expands("0 0 0 * * t,th,s,sa", "0 0 0 * * 0,2,4,6");
	expands("0 0 0 * j *", "0 0 0 * 1 *");
	expands("0 0 0 * ju *", "0 0 0 * 6 *");
	expands("0  0\t0 * * *", "0 0 0 * * *");
}

static void rejects(const char *expr, const char *part)
{
	struct cron c;
	char err[256];

	if (cron_parse(expr, &c, err, sizeof(err)) != -EINVAL)
		fail_msg("'%s' was accepted", expr);
	if (!strstr(err, part))
		fail_msg("'%s': reason '%s' does not say '%s'", expr, err, part);
}

static void errors(void **state)
{
	rejects("* * * * *", "expected 6 fields");
	rejects("* * * * * * *", "more than 6");
	rejects("", "expected 6 fields");
	rejects("60 * * * * *", "field 'second': '60' is out of range 0-59");
	rejects("* 61 * * * *", "field 'minute'");
	rejects("* * 24 * * *", "field 'hour': '24' is out of range 0-23");
	rejects("* * * 0 * *", "field 'day of month': '0' is out of range 1-31");
	rejects("* * * 32 * *", "day of month");
	rejects("* * * * 13 *", "field 'month'");
	rejects("* * * * * 8", "field 'day of week': '8' is out of range 0-7");
	rejects("*/0 * * * * *", "step of 0");
	rejects("1-5/0 * * * * *", "step of 0");
	rejects("x * * * * *", "'x' is not a number");
	rejects("* * * * foo *", "'foo' is not a number or a name");
	rejects("* * * * * funday", "day of week");
	rejects("1-x * * * * *", "bad range end");
	rejects("1,,2 * * * * *", "empty");
	rejects("*/x * * * * *", "bad step");
	rejects("1-2-3 * * * * *", "unexpected");
	rejects("-1 * * * * *", "not a number");
	rejects("*/ * * * * *", "bad step");
}

static void never_and_hours(void **state)
{
	struct cron c;
	char err[256];
	int64_t t;

	assert_int_equal(cron_parse("0 0 0 30 2 *", &c, err, sizeof(err)), 0);
	assert_false(cron_can_fire(&c));
	assert_int_equal(cron_next(&c, "", 0, &t), -ENOENT);
	assert_int_equal(cron_parse("0 0 0 29 2 *", &c, err, sizeof(err)), 0);
	assert_true(cron_can_fire(&c));
	assert_int_equal(cron_parse("0 0 */1 * * *", &c, err, sizeof(err)), 0);
	assert_true(cron_hour_is_star(&c));
	assert_int_equal(cron_parse("0 0 0-22 * * *", &c, err, sizeof(err)), 0);
	assert_false(cron_hour_is_star(&c));
}

static void zones_and_times(void **state)
{
	char buf[64];
	int64_t t;

	assert_true(cron_zone_valid(""));
	assert_true(cron_zone_valid("UTC"));
	assert_true(cron_zone_valid("Europe/Berlin"));
	assert_false(cron_zone_valid("Mars/Olympus"));
	assert_false(cron_zone_valid("../../etc/passwd"));
	assert_false(cron_zone_valid("/etc/localtime"));
	cron_format_local("America/New_York", 1772953200, buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-08T03:00:00-04:00");
	cron_format_local("", 0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00+00:00");
	cron_format_local("Asia/Kolkata", 0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T05:30:00+05:30");
	/* In a gap: moved forward by the gap. */
	assert_int_equal(cron_parse_time("America/New_York", "2026-03-08T02:30:00", &t), 0);
	cron_format_local("America/New_York", t, buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-08T03:30:00-04:00");
	/* Ambiguous: the first of the two. */
	assert_int_equal(cron_parse_time("America/New_York", "2026-11-01T01:30:00", &t), 0);
	cron_format_local("America/New_York", t, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-01T01:30:00-04:00");
	assert_int_equal(cron_parse_time("", "2026-11-01T01:30:00+05:30", &t), 0);
	assert_true(t == 1793476800);
	assert_int_equal(cron_parse_time("", "2026-11-01T01:30:00Z", &t), 0);
	assert_true(t == 1793496600);
	assert_int_equal(cron_parse_time("", "2026-02-30T00:00:00", &t), -EINVAL);
	assert_int_equal(cron_parse_time("", "yesterday", &t), -EINVAL);
	assert_int_equal(cron_parse_time("", "2026-11-01T01:30:00+5", &t), -EINVAL);
}

static void vectors(void **state)
{
	FILE *f = fopen(VECTORS, "r");
	char line[1024];
	int checked = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *expr = line, *zone, *after, *want, err[256];
		struct cron c;
		int64_t t;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		zone = strchr(expr, '|');
		*zone++ = '\0';
		after = strchr(zone, '|');
		*after++ = '\0';
		want = strchr(after, '|');
		*want++ = '\0';
		if (cron_parse(expr, &c, err, sizeof(err)) != 0)
			fail_msg("%s: %s", expr, err);
		t = strtoll(after, NULL, 10);
		if (strcmp(want, "NEVER") == 0) {
			assert_int_equal(cron_next(&c, zone, t, &t), -ENOENT);
			checked++;
			continue;
		}
		for (char *w = strtok(want, " "); w; w = strtok(NULL, " ")) {
			int64_t expect = strtoll(w, NULL, 10);

			if (cron_next(&c, zone, t, &t) != 0 || t != expect) {
				char got[64], exp[64];

				cron_format_local(zone, t, got, sizeof(got));
				cron_format_local(zone, expect, exp, sizeof(exp));
				fail_msg("'%s' in '%s': got %s, want %s", expr, zone, got, exp);
			}
			checked++;
		}
	}
	fclose(f);
	assert_true(checked >= 150);
	printf("    %d vectors checked\n", checked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(expansion),
		cmocka_unit_test(errors),
		cmocka_unit_test(never_and_hours),
		cmocka_unit_test(zones_and_times),
		cmocka_unit_test(vectors),
	};
	return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
