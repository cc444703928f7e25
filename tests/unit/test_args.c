/* Unit tests of args (the arguments tokenizer) and deploy_filename (the
 * Content-Disposition parser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "args.h"
#include "deploy.h"

/* Splits text and compares with the expected words (NULL-terminated). */
static void expect_words(const char *text, const char *const *want)
{
	char **w, err[128];
	int n = args_split(text, &w, err, sizeof(err)), i;

	assert_true(n >= 0);
	for (i = 0; want[i]; i++) {
		assert_non_null(w[i]);
		assert_string_equal(w[i], want[i]);
	}
	assert_int_equal(n, i);
	assert_null(w[i]);
	args_free(w);
}

#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void plain_and_blanks(void **state)
{
	expect_words("", (const char *const[]){ NULL });
	expect_words("   \t\n ", (const char *const[]){ NULL });
	expect_words("a b  c", WORDS("a", "b", "c"));
	expect_words("  lead trail  ", WORDS("lead", "trail"));
}

static void quotes(void **state)
{
	expect_words("'two words' \"three more words\"", WORDS("two words", "three more words"));
	expect_words("a'b'\"c\"d", WORDS("abcd"));
	expect_words("'' \"\"", WORDS("", ""));
	expect_words("'it''s'", WORDS("its"));
	expect_words("'a\\b'", WORDS("a\\b"));
	expect_words("\"a\\\"b\\\\c\\$d\\x\"", WORDS("a\"b\\c$d\\x"));
	expect_words("a\\ b \\'c", WORDS("a b", "'c"));
}

static void nothing_expanded(void **state)
{
	expect_words("$HOME $(id) `id` *.sh ~ & ; | > < && {a,b} $((1+1))",
		     WORDS("$HOME", "$(id)", "`id`", "*.sh", "~", "&", ";", "|", ">", "<",
			   "&&", "{a,b}", "$((1+1))"));
	expect_words("\"$(rm -rf /)\"", WORDS("$(rm -rf /)"));
}

static void errors(void **state)
{
	char **w, err[128];

	assert_int_equal(args_split("'open", &w, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unterminated single quote");
	assert_int_equal(args_split("\"open", &w, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unterminated double quote");
	assert_int_equal(args_split("end\\", &w, err, sizeof(err)), -EINVAL);
	assert_null(w);
}

static void many_words(void **state)
{
	char text[20000], **w, err[128];
	size_t o = 0;

	for (int i = 0; i < 5000; i++)
		text[o++] = 'x', text[o++] = ' ';
	text[o] = '\0';
	assert_int_equal(args_split(text, &w, err, sizeof(err)), -E2BIG);
	text[2 * 4000] = '\0';
	assert_int_equal(args_split(text, &w, err, sizeof(err)), 4000);
	args_free(w);
}

static void filename(const char *header, const char *want)
{
	char out[256];
	int rc = deploy_filename(header, out, sizeof(out));

	if (!want) {
		assert_int_equal(rc, -EINVAL);
		return;
	}
	assert_int_equal(rc, 0);
	assert_string_equal(out, want);
}

static void dispositions(void **state)
{
	filename("attachment; filename=run.sh", "run.sh");
	filename("attachement; filename=run.cmd", "run.cmd");
	filename("attachment; filename=\"my job.zip\"", "my job.zip");
	filename("attachment;filename=\"q\\\"uote.sh\"", "q\"uote.sh");
	filename("attachment; FileName = run.py ", "run.py");
	filename("attachment; filename*=UTF-8''r%C3%BCn.sh", "r\xc3\xbcn.sh");
	filename("attachment; filename*=iso-8859-1''r%FCn.sh", "r\xc3\xbcn.sh");
	filename("attachment; filename=\"plain.sh\"; filename*=UTF-8''ext.sh", "ext.sh");
	filename("attachment; filename*=UTF-8''ext.sh; filename=plain.sh", "ext.sh");
	filename("attachment; filename*=bogus''x.sh; filename=plain.sh", "plain.sh");
	filename("attachment; filename=C:\\dir\\job.sh", "job.sh");
	filename("attachment; filename=../../etc/passwd", "passwd");
	filename("attachment; filename=dir/", NULL);
	filename("attachment; filename=..", NULL);
	filename("attachment; filename=\"a\x01b\"", NULL);
	filename("attachment; filename*=UTF-8''a%00b", NULL);
	filename("attachment", NULL);
	filename("", NULL);
	filename(NULL, NULL);
	filename("attachment; filename=", NULL);
	filename("attachment; name=x; filename=f.sh", "f.sh");
	/* Found by fuzzing: ISO-8859-1 bytes grow in UTF-8 and once overran
	 * the buffer they were decoded into. */
	{
		char h[1200] = "attachment; filename*=iso-8859-1''";

		for (int i = 0; i < 250; i++)
			strcat(h, "%FC");
		filename(h, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_and_blanks),
		cmocka_unit_test(quotes),
		cmocka_unit_test(nothing_expanded),
		cmocka_unit_test(errors),
		cmocka_unit_test(many_words),
		cmocka_unit_test(dispositions),
	};
	return cmocka_run_group_tests_name("args", tests, NULL, NULL);
}
