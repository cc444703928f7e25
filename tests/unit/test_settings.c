/* Unit tests of settings: the lenient settings.job reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

static json_t *parse(const char *text, char *err)
{
	return settings_parse(text, strlen(text), err, 256);
}

/* The compact dump of a parsed text, or the error. */
static char *dump(const char *text)
{
	char err[256];
	json_t *o = parse(text, err);
	char *s;

	if (!o)
		return strdup(err);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void expect(const char *text, const char *want)
{
	char *got = dump(text);

	assert_string_equal(got, want);
	free(got);
}

static void plain_and_order(void **state)
{
	expect("{\"schedule\":\"0 * * * * *\",\"b\":1,\"a\":true}",
	       "{\"schedule\":\"0 * * * * *\",\"b\":1,\"a\":true}");
	expect("", "{}");
	expect("  \n\t", "{}");
	expect("\xEF\xBB\xBF{\"a\":1}", "{\"a\":1}");
}

static void comments_and_commas(void **state)
{
	expect("{ // the schedule\n\"schedule\": \"*/5 * * * * *\", /* every 5 s */\n}",
	       "{\"schedule\":\"*/5 * * * * *\"}");
	expect("{\"a\":[1,2,],}", "{\"a\":[1,2]}");
	expect("{\"a\":1, // x\n /* y */ }", "{\"a\":1}");
	/* Inside strings nothing is removed. */
	expect("{\"u\":\"http://x/*y*/,}\"}", "{\"u\":\"http://x/*y*/,}\"}");
	expect("{\"q\":\"a\\\"//b\",}", "{\"q\":\"a\\\"//b\"}");
}

static void errors(void **state)
{
	char err[256];

	assert_null(parse("{\"a\":", err));
	assert_non_null(strstr(err, "settings.job: line 1"));
	assert_null(parse("[1,2]", err));
	assert_string_equal(err, "settings.job: not a JSON object");
	assert_null(parse("\"x\"", err));
	assert_null(parse("{\"a\":1}{", err));
	assert_null(parse("{/* never closed", err));
	assert_null(parse("{\"a\":1,,}", err));
}

static void typed_lookups(void **state)
{
	char err[256];
	json_t *o = parse("{\"is_singleton\":true,\"stopping_wait_time\":\"5\",\"n\":7,\"s\":\"x\"}", err);

	assert_non_null(o);
	assert_int_equal(settings_bool(o, "is_singleton", 0), 1);
	assert_int_equal(settings_bool(o, "n", 0), 0);
	assert_int_equal(settings_int(o, "stopping_wait_time", 30), 30);
	assert_int_equal(settings_int(o, "n", 0), 7);
	assert_string_equal(settings_string(o, "s"), "x");
	assert_null(settings_string(o, "n"));
	assert_null(settings_string(o, "missing"));
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_and_order),
		cmocka_unit_test(comments_and_commas),
		cmocka_unit_test(errors),
		cmocka_unit_test(typed_lookups),
	};
	return cmocka_run_group_tests_name("settings", tests, NULL, NULL);
}
