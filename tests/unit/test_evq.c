/*
 * The queue's share of a turn of the loop (evq_turn_until): one share for
 * all the work that can wait — the other lane's events, the reaps, the
 * registry's reads of a storm — begun by its first taker after a poll and
 * new at the next turn (docs/DECISIONS.md, "A restart storm").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <uv.h>

#include "evq.h"

#define SPIN_NS (50 * 1000ull)

static int ran;

static void spin_until(uint64_t until)
{
	while (uv_hrtime() <= until)
		;
}

/* A storm's event: 50 µs of work. */
static void slow_event(void *obj, int event)
{
	(void)obj;
	(void)event;
	spin_until(uv_hrtime() + SPIN_NS);
	ran++;
}

/* Another taker of the share (standing for the reaper or the registry's
 * settle pass, which run before the queue's idle handle in a turn) that
 * uses all of it. */
static void spend_the_share(uv_timer_t *t)
{
	(void)t;
	spin_until(evq_turn_until());
}

static void keep_alive(uv_timer_t *t)
{
	(void)t;
}

static uv_loop_t loop;
static uv_timer_t alive;

static int setup(void **state)
{
	(void)state;
	ran = 0;
	assert_int_equal(uv_loop_init(&loop), 0);
	evq_start(&loop);
	/* The loop runs its turns (and their prepare phase) only while a
	 * handle keeps it alive. */
	uv_timer_init(&loop, &alive);
	uv_timer_start(&alive, keep_alive, 3600 * 1000, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	uv_close((uv_handle_t *)&alive, NULL);
	evq_close();
	while (uv_run(&loop, UV_RUN_DEFAULT))
		;
	evq_free();
	assert_int_equal(uv_loop_close(&loop), 0);
	return 0;
}

static void one_share_per_turn(void **state)
{
	uint64_t before = uv_hrtime(), a, b, c;

	(void)state;
	a = evq_turn_until();
	b = evq_turn_until();
	/* Every taker of a turn gets the same end, 2 ms from the first. */
	assert_true(a == b);
	assert_true(a > before);
	assert_true(a <= uv_hrtime() + 2 * 1000 * 1000ull);
	spin_until(a);
	/* A turn's prepare phase (right before its poll) ends the share: the
	 * next taker begins a new one. */
	uv_run(&loop, UV_RUN_NOWAIT);
	c = evq_turn_until();
	assert_true(c > a);
	assert_true(c > uv_hrtime());
}

static void a_storm_shares_the_turn(void **state)
{
	static uv_timer_t spender;
	uint64_t t0;

	(void)state;
	for (int i = 0; i < 1000; i++)
		evq_post(slow_event, NULL, 0);
	/* Turn 1: a taker before the queue spends the whole share; the
	 * queue still runs one event (all go on), no more. */
	uv_timer_init(&loop, &spender);
	uv_timer_start(&spender, spend_the_share, 0, 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(ran, 1);
	/* Turn 2: the queue alone has the share: events until it is spent
	 * (at least 2 ms of them), far from the 50 ms of all of them. */
	t0 = uv_hrtime();
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_true(uv_hrtime() - t0 >= 2 * 1000 * 1000ull);
	assert_true(ran > 1);
	assert_true(ran < 1000);
	/* The rest over the next turns, nothing lost. */
	while (ran < 1000)
		uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(ran, 1000);
	uv_close((uv_handle_t *)&spender, NULL);
}

/* What a request posts runs whole, whatever the share left. */
static void the_request_lane_runs_whole(void **state)
{
	(void)state;
	for (int i = 0; i < 200; i++)
		evq_post(slow_event, NULL, 0);
	evq_request(1);
	for (int i = 0; i < 100; i++)
		evq_post(slow_event, NULL, 0);
	evq_request(0);
	spin_until(evq_turn_until());
	evq_drain_for(EVQ_PER_REQUEST, evq_turn_until());
	/* The request lane's 100, and none of the others past the share. */
	assert_int_equal(ran, 100);
	while (ran < 300)
		uv_run(&loop, UV_RUN_NOWAIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(one_share_per_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(a_storm_shares_the_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(the_request_lane_runs_whole, setup, teardown),
	};

	return cmocka_run_group_tests_name("evq", tests, NULL, NULL);
}
