/* The state x event tables written at the top of supervisor.c and run.c
 * are the tables the code runs: each comment is compared, cell by cell,
 * with the table as the code renders it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "supervisor.h"

/* The words of the comment's table in file: the lines between " * table:"
 * and " * end of table", each without its " * " and with runs of blanks
 * made one space. */
static char *comment_table(const char *file)
{
	FILE *f = fopen(file, "r");
	char line[512], *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	int in = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, " * table:", 9) == 0) {
			in = 1;
			continue;
		}
		if (strncmp(line, " * end of table", 15) == 0)
			break;
		if (!in)
			continue;
		{
			const char *p = line + 2;
			int space = 0, any = 0;

			for (; *p && *p != '\n'; p++) {
				if (*p == ' ') {
					space = any;
					continue;
				}
				if (space)
					fputc(' ', m);
				fputc(*p, m);
				space = 0;
				any = 1;
			}
			fputc('\n', m);
		}
	}
	fclose(f);
	fclose(m);
	return out;
}

static void check(const char *file, char *code)
{
	char *comment = comment_table(file);

	assert_non_null(code);
	if (strcmp(comment, code) != 0)
		fprintf(stderr, "%s, the comment says:\n%s\nthe code has:\n%s\n", file, comment,
			code);
	assert_string_equal(comment, code);
	free(comment);
	free(code);
}

static void supervisor_table(void **state)
{
	(void)state;
	check("src/supervisor.c", supervisor_table_text());
}

static void run_table(void **state)
{
	(void)state;
	check("src/run.c", runner_table_text());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(supervisor_table),
		cmocka_unit_test(run_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
