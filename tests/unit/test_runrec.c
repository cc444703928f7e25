/* Unit tests of runrec (status records and run JSON), home names and
 * siphash, and the status file written by exchange. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "home.h"
#include "jsonw.h"
#include "runrec.h"
#include "siphash.h"

#define ID "202405011234561234"

static void parse_full(void **state)
{
	const char *text = "{\"Trigger\":\"External - curl/8\",\"Status\":\"Success\","
			   "\"StartTime\":\"2024-05-01T12:34:56.1234Z\","
			   "\"EndTime\":\"2024-05-01T12:35:01Z\",\"ExitCode\":0,"
			   "\"Pid\":42,\"InstanceId\":\"i1\",\"Arguments\":\"a b\",\"Extra\":1,"
			   "\"Attempt\":2}";
	struct runrec r;
	char *again;

	assert_int_equal(runrec_parse(ID, text, strlen(text), &r), 0);
	assert_string_equal(r.status, "Success");
	assert_string_equal(r.trigger, "External - curl/8");
	assert_int_equal(r.exit_code, 0);
	assert_true(r.has_exit_code);
	assert_int_equal(r.pid, 42);
	assert_string_equal(r.instance, "i1");
	assert_false(runrec_in_progress(&r));
	again = runrec_serialize(&r);
	assert_string_equal(again,
			    "{\"Trigger\":\"External - curl/8\",\"Status\":\"Success\","
			    "\"StartTime\":\"2024-05-01T12:34:56.1234Z\","
			    "\"EndTime\":\"2024-05-01T12:35:01Z\",\"ExitCode\":0,"
			    "\"Pid\":42,\"PidStart\":0,\"InstanceId\":\"i1\",\"Arguments\":\"a b\","
			    "\"Attempt\":2}");
	free(again);
	runrec_free(&r);
}

static void parse_lenient_and_damaged(void **state)
{
	struct runrec r;
	const char *lower = "{\"status\":\"Running\"}";
	const char *bad[] = { "", "{", "[]", "{\"Status\":1}", "{\"Status\":\"\"}",
			      "{\"Trigger\":\"x\"}" };

	assert_int_equal(runrec_parse(ID, lower, strlen(lower), &r), 0);
	assert_string_equal(r.status, "Running");
	assert_string_equal(r.trigger, "");
	assert_true(runrec_in_progress(&r));
	assert_true(r.start > 0); /* from the run id */
	runrec_free(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(runrec_parse(ID, bad[i], strlen(bad[i]), &r), -22);
	assert_int_equal(runrec_parse("../x", lower, strlen(lower), &r), -22);
}

static void json_shape(void **state)
{
	const char *text = "{\"Trigger\":\"Schedule - 0 * * * * *\",\"Status\":\"Running\","
			   "\"StartTime\":\"2024-05-01T12:34:56Z\"}";
	struct runrec r;
	struct run_view v = { .prefix = "http://h:1", .job = "my job",
			      .has_output = 1, .has_error = 0,
			      .status = "Running", .end = 0 };
	json_t *o;
	char *s;

	assert_int_equal(runrec_parse(ID, text, strlen(text), &r), 0);
	v.now = r.start + 58642043;
	o = runrec_json(&r, &v);
	s = json_dumps(o, JSON_COMPACT);
	assert_string_equal(s,
		"{\"id\":\"" ID "\",\"name\":\"" ID "\",\"status\":\"Running\","
		"\"start_time\":\"2024-05-01T12:34:56Z\",\"end_time\":\"0001-01-01T00:00:00\","
		"\"duration\":\"00:00:05.8642043\","
		"\"output_url\":\"http://h:1/vfs/data/jobs/triggered/my job/" ID "/output_log.txt\","
		"\"error_url\":null,"
		"\"url\":\"http://h:1/api/triggeredwebjobs/my job/history/" ID "\","
		"\"job_name\":\"my job\",\"trigger\":\"Schedule - 0 * * * * *\",\"attempt\":1}");
	free(s);
	json_decref(o);
	runrec_free(&r);
}

static void job_names(void **state)
{
	assert_true(home_valid_job_name("a"));
	assert_true(home_valid_job_name("My Job-1.2_x"));
	assert_true(home_valid_job_name("caf\xc3\xa9"));
	assert_false(home_valid_job_name(""));
	assert_false(home_valid_job_name("."));
	assert_false(home_valid_job_name(".."));
	assert_false(home_valid_job_name(".hidden"));
	assert_false(home_valid_job_name("a/b"));
	assert_false(home_valid_job_name("a\\b"));
	assert_false(home_valid_job_name("a\nb"));
	assert_false(home_valid_job_name("a\x7f"));
	assert_false(home_valid_job_name("\xc3"));       /* cut short */
	assert_false(home_valid_job_name("\xc0\xaf"));   /* overlong */
	assert_false(home_valid_job_name("\xed\xa0\x80")); /* surrogate */
	char long_name[130];
	memset(long_name, 'a', 129);
	long_name[129] = '\0';
	assert_false(home_valid_job_name(long_name));
	long_name[128] = '\0';
	assert_true(home_valid_job_name(long_name));
}

static void siphash_vectors(void **state)
{
	uint8_t key[16], in[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		in[i] = (uint8_t)i;
	/* The reference vectors of the SipHash paper's implementation. */
	assert_true(siphash24(key, in, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(siphash24(key, in, 15) == 0xa129ca6149be45e5ULL);
}

/* Reads dir/name whole into buf. */
static const char *slurp(int dfd, const char *name, char *buf, size_t size)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* files_write_swap cuts the spare only when it was longer than the new
 * record: each record is whole, whatever the lengths before it. */
static void swap_lengths(void **state)
{
	const char *texts[] = { "{\"a\":1}", "{\"a\":1,\"longer\":true}", "{}",
				"{\"b\":2222222}", "{\"b\":3333333}", "{\"c\":\"the longest one\"}",
				"{\"d\":4}" };
	char dir[] = "/tmp/webjobs-swap-XXXXXX", buf[256];
	int dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(files_write_swap(dfd, "status", ".status-prev", texts[i],
						  strlen(texts[i])), 0);
		assert_string_equal(slurp(dfd, "status", buf, sizeof(buf)), texts[i]);
		if (i)
			assert_string_equal(slurp(dfd, ".status-prev", buf, sizeof(buf)),
					    texts[i - 1]);
	}
	unlinkat(dfd, "status", 0);
	unlinkat(dfd, ".status-prev", 0);
	close(dfd);
	rmdir(dir);
}


/* ---- jsonw against jansson ---- */

/* The record as the host wrote it with jansson before jsonw. */
static char *serialize_with_jansson(const struct runrec *r)
{
	json_t *o = json_object();
	char t[TIME_ISO_MAX], *text;

	json_object_set_new(o, "Trigger", json_string(r->trigger ? r->trigger : ""));
	json_object_set_new(o, "Status", json_string(r->status));
	time_format_iso(r->start, t);
	json_object_set_new(o, "StartTime", json_string(t));
	if (r->end) {
		time_format_iso(r->end, t);
		json_object_set_new(o, "EndTime", json_string(t));
	}
	if (r->has_exit_code)
		json_object_set_new(o, "ExitCode", json_integer(r->exit_code));
	if (r->pid) {
		json_object_set_new(o, "Pid", json_integer(r->pid));
		json_object_set_new(o, "PidStart", json_integer(r->pid_start));
	}
	if (r->instance)
		json_object_set_new(o, "InstanceId", json_string(r->instance));
	if (r->arguments)
		json_object_set_new(o, "Arguments", json_string(r->arguments));
	if (r->attempt)
		json_object_set_new(o, "Attempt", json_integer(r->attempt));
	if (r->never_started)
		json_object_set_new(o, "NeverStarted", json_true());
	if (r->slot)
		json_object_set_new(o, "Slot", json_integer(r->slot));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* A random string of up to max bytes: ASCII, the characters JSON
 * escapes, UTF-8 of every length, and (when bad) bytes that are not
 * UTF-8 — lone continuations, overlong forms, surrogates, past U+10FFFF,
 * cut sequences. */
static char *random_text(unsigned *seed, size_t max, int bad)
{
	static const char *const pieces[] = {
		"a", "Z", " ", "/", "-", "\"", "\\", "\b", "\f", "\n", "\r", "\t", "\x01",
		"\x1f", "\x7f", "\xc2\x80", "\xc3\xa9", "\xe2\x82\xac", "\xef\xbf\xbf",
		"\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "Schedule - * * * * * *",
	};
	static const char *const wrong[] = {
		"\x80", "\xbf", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xed\xa0\x80",
		"\xf0\x8f\xbf\xbf",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xc3", "\xe2\x82", "\xf0\x9f\x98",
	};
	size_t n = (size_t)rand_r(seed) % (max + 1), len = 0;
	char *s = malloc(max * 24 + 1);

	for (size_t i = 0; i < n; i++) {
		const char *p = bad && rand_r(seed) % 8 == 0
					? wrong[rand_r(seed) % (sizeof(wrong) / sizeof(*wrong))]
					: pieces[rand_r(seed) % (sizeof(pieces) / sizeof(*pieces))];

		memcpy(s + len, p, strlen(p));
		len += strlen(p);
	}
	s[len] = '\0';
	return s;
}

static void jsonw_writes_as_jansson(void **state)
{
	unsigned seed = 16;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		struct runrec r;
		char *ours, *theirs, *line;
		json_t *a;
		struct jsonw w;

		memset(&r, 0, sizeof(r));
		memcpy(r.id, ID, sizeof(ID));
		snprintf(r.status, sizeof(r.status), "%s", i % 3 ? "Success" : "Running");
		r.trigger = random_text(&seed, 12, i % 2);
		r.instance = i % 5 ? random_text(&seed, 6, i % 4 == 1) : NULL;
		r.arguments = i % 7 ? random_text(&seed, 8, i % 3 == 1) : NULL;
		r.start = (int64_t)rand_r(&seed) * 1000;
		r.end = i % 2 ? r.start + rand_r(&seed) : 0;
		r.has_exit_code = i % 3 == 0;
		r.exit_code = rand_r(&seed) % 512 - 256;
		r.pid = i % 4 ? rand_r(&seed) : 0;
		r.pid_start = (int64_t)rand_r(&seed) << 20;
		r.attempt = i % 6;
		r.never_started = i % 9 == 0;
		r.slot = i % 10;
		ours = runrec_serialize(&r);
		theirs = serialize_with_jansson(&r);
		assert_non_null(ours);
		assert_string_equal(ours, theirs);
		/* A journal line: the record inside an array of three strings;
		 * a string that is not UTF-8 fails it, in both. */
		a = json_pack("[sss]", r.trigger, r.id, ours);
		line = a ? json_dumps(a, JSON_COMPACT) : NULL;
		jsonw_init(&w);
		jsonw_raw(&w, "[", 1);
		jsonw_str(&w, r.trigger);
		jsonw_raw(&w, ",", 1);
		jsonw_str(&w, r.id);
		jsonw_raw(&w, ",", 1);
		jsonw_str(&w, ours);
		jsonw_raw(&w, "]", 1);
		free(theirs);
		theirs = jsonw_end(&w);
		if (line)
			assert_string_equal(theirs, line);
		else
			assert_null(theirs);
		json_decref(a);
		a = json_string(r.trigger);
		assert_int_equal(utf8_valid(r.trigger), a != NULL);
		json_decref(a);
		free(line);
		free(theirs);
		free(ours);
		runrec_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_full),
		cmocka_unit_test(jsonw_writes_as_jansson),
		cmocka_unit_test(parse_lenient_and_damaged),
		cmocka_unit_test(json_shape),
		cmocka_unit_test(job_names),
		cmocka_unit_test(siphash_vectors),
		cmocka_unit_test(swap_lengths),
	};
	return cmocka_run_group_tests_name("runrec", tests, NULL, NULL);
}
