/*
 * evq: a ring of (function, object, event) drained by a uv_idle handle.
 * The handle is active only while events wait, so an idle host polls
 * with no timeout and uses no CPU.
 */
#define _GNU_SOURCE
#include "evq.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

/* Events run per turn of the loop: a storm of events must not keep the
 * loop from its I/O. */
#define PER_TURN 4096

struct item {
	evq_fn fn;
	void *obj;
	int event;
};

static struct {
	uv_loop_t *loop;
	uv_idle_t idle;
	int started;
	struct item *v; /* ring */
	size_t cap, head, n;
	int draining;   /* a drain is under way: never nested */
} q;

static void on_idle(uv_idle_t *h)
{
	(void)h;
	evq_drain(PER_TURN);
}

void evq_start(uv_loop_t *loop)
{
	q.loop = loop;
	uv_idle_init(loop, &q.idle);
	q.started = 1;
}

static int grow(void)
{
	size_t cap = q.cap ? q.cap * 2 : 256;
	struct item *v = malloc(cap * sizeof(*v));

	if (!v)
		return -1;
	for (size_t i = 0; i < q.n; i++)
		v[i] = q.v[(q.head + i) % q.cap];
	free(q.v);
	q.v = v;
	q.cap = cap;
	q.head = 0;
	return 0;
}

void evq_post(evq_fn fn, void *obj, int event)
{
	if (q.n == q.cap && grow() < 0) {
		/* Nothing sensible can follow; losing an event would leave a
		 * machine stuck, so say it loudly. */
		log_error("out of memory: an event was lost");
		return;
	}
	q.v[(q.head + q.n) % q.cap] = (struct item){ fn, obj, event };
	q.n++;
	if (q.started && !uv_is_active((uv_handle_t *)&q.idle) &&
	    !uv_is_closing((uv_handle_t *)&q.idle))
		uv_idle_start(&q.idle, on_idle);
}

void evq_forget(void *obj)
{
	for (size_t i = 0; i < q.n; i++) {
		struct item *it = &q.v[(q.head + i) % q.cap];

		if (it->obj == obj)
			it->fn = NULL;
	}
}

size_t evq_drain(size_t max)
{
	size_t ran = 0;

	/* An action that led here (none does) must not run another inside
	 * itself: the events wait for the outer drain. */
	if (q.draining)
		return 0;
	q.draining = 1;
	while (q.n && ran < max) {
		struct item it = q.v[q.head];

		q.head = (q.head + 1) % q.cap;
		q.n--;
		if (it.fn) {
			it.fn(it.obj, it.event);
			ran++;
		}
	}
	q.draining = 0;
	if (!q.n && q.started && uv_is_active((uv_handle_t *)&q.idle))
		uv_idle_stop(&q.idle);
	return ran;
}

char *evq_table_text(const char *const *states, int nstates, const char *const *events,
		     int nevents, const char *(*cell)(int state, int event))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "state \\ event");
	for (int e = 0; e < nevents; e++)
		fprintf(f, " %s", events[e]);
	fprintf(f, "\n");
	for (int st = 0; st < nstates; st++) {
		fprintf(f, "%s", states[st]);
		for (int e = 0; e < nevents; e++)
			fprintf(f, " %s", cell(st, e));
		fprintf(f, "\n");
	}
	fclose(f);
	return text;
}

void evq_close(void)
{
	if (q.started)
		uv_close((uv_handle_t *)&q.idle, NULL);
	q.started = 0;
}

void evq_free(void)
{
	free(q.v);
	q.v = NULL;
	q.cap = q.head = q.n = 0;
}
