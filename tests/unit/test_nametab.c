/* Unit tests of nametab: objects found by name through the table's
 * growth and removals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "nametab.h"

#define N 3000

struct obj {
	char name[16];
	struct nametab_node tn;
};

static struct obj objs[N];

static struct obj *of(struct nametab_node *n)
{
	return n ? (struct obj *)((char *)n - offsetof(struct obj, tn)) : NULL;
}

static void found_through_growth_and_removal(void **state)
{
	struct nametab t = { 0 };

	(void)state;
	assert_null(nametab_find(&t, "c0000")); /* an empty table has no buckets */
	for (int i = 0; i < N; i++) {
		snprintf(objs[i].name, sizeof(objs[i].name), "c%04d", i);
		objs[i].tn.name = objs[i].name;
		assert_int_equal(nametab_add(&t, &objs[i].tn), 0);
		/* Each one added so far, through every growth. */
		if (i % 257 == 0)
			for (int k = 0; k <= i; k++)
				assert_ptr_equal(of(nametab_find(&t, objs[k].name)), &objs[k]);
	}
	assert_int_equal(t.n, N);
	assert_true(t.nbuckets >= N); /* about one a chain */
	for (int i = 0; i < N; i += 2)
		nametab_remove(&t, &objs[i].tn);
	nametab_remove(&t, &objs[0].tn); /* not in it: nothing */
	assert_int_equal(t.n, N / 2);
	for (int i = 0; i < N; i++)
		assert_ptr_equal(of(nametab_find(&t, objs[i].name)), i % 2 ? &objs[i] : NULL);
	assert_null(nametab_find(&t, "c"));
	assert_null(nametab_find(&t, "c00000"));
	nametab_free(&t);
	assert_null(nametab_find(&t, "c0001"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(found_through_growth_and_removal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
