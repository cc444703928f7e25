/* Unit tests of route: decoding, families, captures, 404/405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

static const struct route table[] = {
	{ HTTP_GET, "/healthz", 0, 0 },
	{ HTTP_GET, "{J}", 1, 0 },
	{ HTTP_GET, "{T}", 2, 0 },
	{ HTTP_GET, "{C}", 2, 0 },
	{ HTTP_GET | HTTP_PUT | HTTP_DELETE, "{T}/{name}", 3, 0 },
	{ HTTP_POST, "{T}/{name}/run", 4, 0 },
	{ HTTP_GET, "{T}/{name}/history/{id}", 5, 0 },
	{ HTTP_GET, "/api/vfs/{*}", 6, 0 },
};
#define N (sizeof(table) / sizeof(table[0]))

static int match(unsigned method, const char *path, struct route_match *m,
		 unsigned *allow)
{
	return route_match(table, N, method, path, m, allow);
}

static void decode(void **state)
{
	char out[32];

	assert_int_equal(route_decode("a%20b", 5, out, sizeof(out)), 3);
	assert_string_equal(out, "a b");
	assert_int_equal(route_decode("a+b", 3, out, sizeof(out)), 3);
	assert_string_equal(out, "a+b");
	assert_int_equal(route_decode("%2F%2e%2E", 9, out, sizeof(out)), 3);
	assert_string_equal(out, "/..");
	assert_int_equal(route_decode("%", 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(route_decode("%4", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(route_decode("%zz", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(route_decode("a%00b", 5, out, sizeof(out)), -EINVAL);
	assert_int_equal(route_decode("abcdef", 6, out, 4), -ENAMETOOLONG);
}

static void families(void **state)
{
	const char *paths[] = { "/api/triggeredwebjobs/x", "/api/triggeredjobs/x",
				"/jobs/triggered/x", "/api/jobs/triggered/x",
				"/API/TriggeredWebJobs/x", "/api/triggeredwebjobs/x/" };
	struct route_match m;
	unsigned allow;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(match(HTTP_GET, paths[i], &m, &allow), 0);
		assert_int_equal(m.route->handler, 3);
		assert_int_equal(m.type, JOB_TRIGGERED);
		assert_string_equal(m.params[0], "x");
		route_match_free(&m);
	}
	assert_int_equal(match(HTTP_GET, "/jobs/continuous", &m, &allow), 0);
	assert_int_equal(m.type, JOB_CONTINUOUS);
	route_match_free(&m);
	for (const char *p = "/api/webjobs\0/api/jobs\0/jobs\0/JOBS\0"; *p;
	     p += strlen(p) + 1) {
		assert_int_equal(match(HTTP_GET, p, &m, &allow), 0);
		assert_int_equal(m.route->handler, 1);
		route_match_free(&m);
	}
}

static void names_are_exact_and_decoded(void **state)
{
	struct route_match m;
	unsigned allow;

	assert_int_equal(match(HTTP_GET, "/api/triggeredwebjobs/My%20Job", &m, &allow), 0);
	assert_string_equal(m.params[0], "My Job");
	route_match_free(&m);
	/* An encoded slash stays inside its segment. */
	assert_int_equal(match(HTTP_GET, "/api/triggeredwebjobs/a%2Fb", &m, &allow), 0);
	assert_string_equal(m.params[0], "a/b");
	route_match_free(&m);
	assert_int_equal(match(HTTP_GET, "/api/triggeredwebjobs/%2e%2e", &m, &allow), 0);
	assert_string_equal(m.params[0], "..");
	route_match_free(&m);
	assert_int_equal(match(HTTP_GET, "/api/triggeredwebjobs/a/history/1", &m, &allow), 0);
	assert_string_equal(m.params[0], "a");
	assert_string_equal(m.params[1], "1");
	route_match_free(&m);
	assert_int_equal(match(HTTP_GET, "/api/triggeredwebjobs/%zz", &m, &allow), -EINVAL);
	assert_null(m.route);
}

static void not_found_and_not_allowed(void **state)
{
	struct route_match m;
	unsigned allow = 0;

	assert_int_equal(match(HTTP_GET, "/nope", &m, &allow), -ENOENT);
	assert_int_equal(match(HTTP_GET, "/api/triggeredwebjobs/a/b", &m, &allow), -ENOENT);
	assert_int_equal(match(HTTP_GET, "/api/triggeredwebjobs//run", &m, &allow), -ENOENT);
	assert_int_equal(match(HTTP_GET, "", &m, &allow), -ENOENT);
	assert_int_equal(match(HTTP_GET, "/api/triggeredwebjobs/a/run", &m, &allow), -EPERM);
	assert_int_equal(allow, HTTP_POST);
	assert_int_equal(match(HTTP_POST, "/api/triggeredwebjobs/a", &m, &allow), -EPERM);
	assert_int_equal(allow, HTTP_GET | HTTP_PUT | HTTP_DELETE);
}

static void rest_capture(void **state)
{
	struct route_match m;
	unsigned allow;

	assert_int_equal(match(HTTP_GET, "/api/vfs/site/wwwroot/", &m, &allow), 0);
	assert_string_equal(m.rest, "site/wwwroot/");
	route_match_free(&m);
	assert_int_equal(match(HTTP_GET, "/API/VFS/a%2Fb", &m, &allow), 0);
	assert_string_equal(m.rest, "a%2Fb");
	route_match_free(&m);
}

static void allow_text(void **state)
{
	char b[64];

	route_allow_text(HTTP_GET | HTTP_HEAD | HTTP_DELETE, b, sizeof(b));
	assert_string_equal(b, "GET, HEAD, DELETE");
	route_allow_text(0, b, sizeof(b));
	assert_string_equal(b, "");
	assert_int_equal(route_method("PATCH"), HTTP_OTHER);
	assert_int_equal(route_method("PUT"), HTTP_PUT);
}

static void query(void **state)
{
	char *v = route_query_get("a=1&arguments=x%20y+z&b", "arguments");

	assert_string_equal(v, "x y+z");
	free(v);
	v = route_query_get("a=1&B", "b");
	assert_string_equal(v, "");
	free(v);
	assert_null(route_query_get("a=1", "arguments"));
	assert_null(route_query_get("arguments=%zz", "arguments"));
	assert_null(route_query_get("", "a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decode),
		cmocka_unit_test(families),
		cmocka_unit_test(names_are_exact_and_decoded),
		cmocka_unit_test(not_found_and_not_allowed),
		cmocka_unit_test(rest_capture),
		cmocka_unit_test(allow_text),
		cmocka_unit_test(query),
	};
	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
