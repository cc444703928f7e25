/* The continuous jobs' spawn queue (src/spawnq.c), with the helper's room
 * faked (this file defines child_spawn_room and child_on_room): no more
 * released than the helper has room for, counting those released and not
 * yet acted on across any number of turns; room made brings the next. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <uv.h>

#include "child.h"
#include "spawnq.h"

static size_t owed;              /* spawns made, answers not read */
static void (*room_fn)(void *);
static void *room_arg;

size_t child_spawn_room(void)
{
	return owed < 32 ? 32 - owed : 0;
}

void child_on_room(void (*fn)(void *), void *arg)
{
	room_fn = fn;
	room_arg = arg;
}

static struct spawnq_node nodes[100];
static struct spawnq_node *told[100];
static size_t ntold;

static void on_ready(struct spawnq_node *n)
{
	told[ntold++] = n;
}

static void turns(uv_loop_t *loop, int k)
{
	while (k--)
		uv_run(loop, UV_RUN_NOWAIT);
}

static void released_within_room(void **state)
{
	uv_loop_t loop;
	struct spawnq q;

	(void)state;
	uv_loop_init(&loop);
	spawnq_init(&q, &loop, 8, on_ready);
	for (int i = 0; i < 100; i++)
		spawnq_push(&q, &nodes[i]);
	spawnq_push(&q, &nodes[0]); /* queued already: nothing */
	turns(&loop, 1);
	assert_int_equal(ntold, 8); /* per turn */
	turns(&loop, 20);
	assert_int_equal(ntold, 32); /* the room, though none was acted on */
	assert_ptr_equal(told[0], &nodes[0]);
	assert_ptr_equal(told[31], &nodes[31]);
	/* 10 spawned: still owed their answers, no room made. */
	for (int i = 0; i < 10; i++) {
		spawnq_taken(&q, told[i]);
		spawnq_taken(&q, told[i]); /* once only */
		owed++;
	}
	turns(&loop, 5);
	assert_int_equal(ntold, 32);
	/* Their answers come: room for 10 more. */
	owed -= 10;
	room_fn(room_arg);
	turns(&loop, 5);
	assert_int_equal(ntold, 42);
	/* A released one whose owner goes away gives its place back; a
	 * queued one leaves the queue. */
	spawnq_remove(&q, told[20]);
	spawnq_remove(&q, &nodes[99]);
	turns(&loop, 5);
	assert_int_equal(ntold, 43);
	for (size_t i = 0; i < ntold; i++)
		assert_true(told[i] != &nodes[99]);
	spawnq_close(&q);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_null(room_fn);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(released_within_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
