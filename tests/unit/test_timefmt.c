/* Unit tests of timefmt: ISO times, durations, run ids, log stamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "timefmt.h"

/* 2024-05-01T12:34:56Z in ticks. */
#define T0 (1714566896LL * TICKS_PER_SEC)

static void iso_fraction_trimmed(void **state)
{
	char b[TIME_ISO_MAX];

	time_format_iso(T0, b);
	assert_string_equal(b, "2024-05-01T12:34:56Z");
	time_format_iso(T0 + 1234500, b);
	assert_string_equal(b, "2024-05-01T12:34:56.12345Z");
	time_format_iso(T0 + 1, b);
	assert_string_equal(b, "2024-05-01T12:34:56.0000001Z");
	time_format_iso(T0 + 9999999, b);
	assert_string_equal(b, "2024-05-01T12:34:56.9999999Z");
}

static void iso_parse_forms(void **state)
{
	int64_t t;

	assert_int_equal(time_parse_iso("2024-05-01T12:34:56Z", &t), 0);
	assert_true(t == T0);
	assert_int_equal(time_parse_iso("2024-05-01T12:34:56.12345Z", &t), 0);
	assert_true(t == T0 + 1234500);
	assert_int_equal(time_parse_iso("2024-05-01T14:34:56+02:00", &t), 0);
	assert_true(t == T0);
	assert_int_equal(time_parse_iso("2024-05-01T07:34:56.5-05:00", &t), 0);
	assert_true(t == T0 + 5000000);
	assert_int_equal(time_parse_iso("2024-05-01T12:34:56", &t), 0);
	assert_true(t == T0);
	/* Eight fraction digits: the eighth is below a tick. */
	assert_int_equal(time_parse_iso("2024-05-01T12:34:56.12345678Z", &t), 0);
	assert_true(t == T0 + 1234567);
}

static void iso_parse_rejects(void **state)
{
	int64_t t;
	const char *bad[] = { "", "2024-05-01", "2024-13-01T00:00:00Z",
			      "2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z",
			      "2024-05-01T12:34:56.Z", "2024-05-01T12:34:56Zjunk",
			      "2024-05-01T12:34:56+2:00", "x024-05-01T12:34:56Z" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(time_parse_iso(bad[i], &t), 0);
	assert_int_equal(time_parse_iso("2024-02-29T00:00:00Z", &t), 0);
}

static void iso_round_trip(void **state)
{
	char b[TIME_ISO_MAX];
	int64_t t;

	for (int64_t x = T0; x < T0 + 3 * TICKS_PER_SEC; x += 1234567) {
		time_format_iso(x, b);
		assert_int_equal(time_parse_iso(b, &t), 0);
		assert_true(t == x);
	}
}

static void durations(void **state)
{
	char b[48];

	time_format_duration(0, b, sizeof(b));
	assert_string_equal(b, "00:00:00");
	time_format_duration(5 * TICKS_PER_SEC, b, sizeof(b));
	assert_string_equal(b, "00:00:05");
	time_format_duration(58642043, b, sizeof(b));
	assert_string_equal(b, "00:00:05.8642043");
	time_format_duration((86400 + 2 * 3600 + 3 * 60 + 4) * TICKS_PER_SEC + 5000000,
			     b, sizeof(b));
	assert_string_equal(b, "1.02:03:04.5000000");
	time_format_duration(-5, b, sizeof(b));
	assert_string_equal(b, "00:00:00");
	time_format_duration(100LL * 86400 * TICKS_PER_SEC, b, sizeof(b));
	assert_string_equal(b, "100.00:00:00");
}

static void run_ids(void **state)
{
	char id[RUN_ID_LEN + 1];
	int64_t t;

	time_format_run_id(T0 + 1234567, id);
	assert_string_equal(id, "202405011234561234");
	assert_true(time_is_run_id(id));
	assert_int_equal(time_parse_run_id(id, &t), 0);
	assert_true(t == T0 + 1234000);
	assert_false(time_is_run_id("20240501123456123"));
	assert_false(time_is_run_id("2024050112345612345"));
	assert_false(time_is_run_id("20240501123456123x"));
	assert_false(time_is_run_id("../../../etc/passw"));
	assert_int_not_equal(time_parse_run_id("202413011234561234", &t), 0);
}

static void log_stamp(void **state)
{
	char b[20];

	time_format_log(T0 + 9999999, b);
	assert_string_equal(b, "05/01/2024 12:34:56");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(iso_fraction_trimmed),
		cmocka_unit_test(iso_parse_forms),
		cmocka_unit_test(iso_parse_rejects),
		cmocka_unit_test(iso_round_trip),
		cmocka_unit_test(durations),
		cmocka_unit_test(run_ids),
		cmocka_unit_test(log_stamp),
	};
	return cmocka_run_group_tests_name("timefmt", tests, NULL, NULL);
}
