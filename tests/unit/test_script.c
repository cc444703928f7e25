/* Unit tests of script: which file runs (SPEC 8.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "script.h"

#define F(n) { n, 1, 0 }
#define X(n) { n, 1, 1 }
#define D(n) { n, 0, 0 }

/* The chosen name, or NULL. */
static const char *pick(const struct script_entry *e, size_t n,
			const char **host)
{
	size_t i;
	const struct script_host *h = script_select(e, n, &i);

	*host = h ? h->name : NULL;
	return h ? e[i].name : NULL;
}

static void run_files_first(void **state)
{
	const char *host;
	struct script_entry a[] = { F("a.sh"), F("run.py"), F("run.sh") };
	struct script_entry b[] = { F("RUN.SH"), F("aaa.sh") };
	struct script_entry c[] = { X("run"), F("run.sh") };
	struct script_entry d[] = { F("run"), F("run.py") };

	assert_string_equal(pick(a, 3, &host), "run.sh");
	assert_string_equal(host, "BashScriptHost");
	assert_string_equal(pick(b, 2, &host), "RUN.SH");
	assert_string_equal(pick(c, 2, &host), "run");
	assert_string_equal(host, "ExecutableScriptHost");
	/* "run" without an exec bit is not the executable host. */
	assert_string_equal(pick(d, 2, &host), "run.py");
	assert_string_equal(host, "PythonScriptHost");
}

static void then_by_table_then_byte_order(void **state)
{
	const char *host;
	struct script_entry a[] = { F("b.py"), F("z.sh"), F("a.py") };
	struct script_entry b[] = { F("b.jar"), F("B.JS"), F("a.php") };
	struct script_entry c[] = { F("Zed.sh"), F("abc.sh") };

	assert_string_equal(pick(a, 3, &host), "z.sh");
	assert_string_equal(pick(b, 3, &host), "a.php");
	assert_string_equal(host, "PhpScriptHost");
	assert_string_equal(pick(c, 2, &host), "Zed.sh");
}

static void nothing_runnable(void **state)
{
	const char *host;
	struct script_entry a[] = { F("readme.txt"), D("x.sh"), F(".sh"),
				    F("settings.job"), F("run.cmd") };

	assert_null(pick(a, 5, &host));
	assert_null(pick(a, 0, &host));
}

static void jar_and_js(void **state)
{
	const char *host;
	struct script_entry a[] = { F("app.jar") };
	struct script_entry b[] = { F("index.js"), F("x.jar") };

	assert_string_equal(pick(a, 1, &host), "app.jar");
	assert_string_equal(host, "JavaScriptHost");
	assert_string_equal(pick(b, 2, &host), "index.js");
	assert_string_equal(host, "NodeScriptHost");
	assert_string_equal(script_host_by_name("x.PY")->name, "PythonScriptHost");
	assert_null(script_host_by_name("x.txt"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(run_files_first),
		cmocka_unit_test(then_by_table_then_byte_order),
		cmocka_unit_test(nothing_runnable),
		cmocka_unit_test(jar_and_js),
	};
	return cmocka_run_group_tests_name("script", tests, NULL, NULL);
}
