/*
 * evq: two rings of (function, object, event) drained by a uv_idle handle
 * — the request lane (what requests caused) first, then the others. The
 * handle is active only while events wait, so an idle host polls with no
 * timeout and uses no CPU.
 */
#define _GNU_SOURCE
#include "evq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Events run per turn of the loop. */
#define PER_TURN 4096
/* A turn's share for the work that can wait — the other lane's events,
 * the reaps, the registry's reads of a storm of changes — together, not
 * each: a storm of events (1,000 continuous jobs exiting at once) must
 * not keep the loop from its I/O — the API answers between two turns
 * (docs/DECISIONS.md, "A restart storm"). */
#define TURN_SHARE_NS (2 * 1000 * 1000ull)
#define DRAINED_HOOKS 4

struct item {
	evq_fn fn;
	void *obj;
	int event;
};

struct ring {
	struct item *v;
	size_t cap, head, n;
};

static struct {
	uv_loop_t *loop;
	uv_idle_t idle;
	uv_prepare_t prepare; /* ends the turn's share, before each poll */
	uint64_t turn_until;  /* the share's end (uv_hrtime); 0: not begun */
	int started;
	struct ring r[2]; /* [0] the request lane, [1] the others */
	int draining;     /* a drain is under way: never nested */
	int lane;         /* the lane of the event running (while draining) */
	int request;      /* evq_request: posts go to the request lane */
	struct {
		void (*fn)(void *);
		void *arg;
	} drained[DRAINED_HOOKS]; /* evq_on_drained's hooks, in their order */
} q;

static void on_idle(uv_idle_t *h)
{
	(void)h;
	evq_drain_for(PER_TURN, evq_turn_until());
}

static void on_prepare(uv_prepare_t *h)
{
	(void)h;
	q.turn_until = 0;
}

uint64_t evq_turn_until(void)
{
	/* Begun by its first taker after a poll; without the loop's handle
	 * (a test stepping a machine), a share for each taker. */
	if (!q.started)
		return uv_hrtime() + TURN_SHARE_NS;
	if (!q.turn_until)
		q.turn_until = uv_hrtime() + TURN_SHARE_NS;
	return q.turn_until;
}

void evq_request(int on)
{
	q.request = on;
}

int evq_on_drained(void (*fn)(void *), void *arg)
{
	for (int i = 0; i < DRAINED_HOOKS; i++)
		if (!q.drained[i].fn || q.drained[i].fn == fn) {
			q.drained[i].fn = fn;
			q.drained[i].arg = arg;
			return 0;
		}
	return -ENOSPC;
}

void evq_off_drained(void (*fn)(void *))
{
	for (int i = 0; i < DRAINED_HOOKS; i++)
		if (q.drained[i].fn == fn) {
			memmove(&q.drained[i], &q.drained[i + 1],
				(size_t)(DRAINED_HOOKS - 1 - i) * sizeof(q.drained[0]));
			q.drained[DRAINED_HOOKS - 1].fn = NULL;
			return;
		}
}

int evq_draining(void)
{
	return q.draining;
}

static size_t waiting(void)
{
	return q.r[0].n + q.r[1].n;
}

void evq_start(uv_loop_t *loop)
{
	q.loop = loop;
	uv_idle_init(loop, &q.idle);
	uv_prepare_init(loop, &q.prepare);
	uv_prepare_start(&q.prepare, on_prepare);
	uv_unref((uv_handle_t *)&q.prepare); /* keeps no loop alive */
	q.turn_until = 0;
	q.started = 1;
}

static int grow(struct ring *r)
{
	size_t cap = r->cap ? r->cap * 2 : 256;
	struct item *v = malloc(cap * sizeof(*v));

	if (!v)
		return -1;
	for (size_t i = 0; i < r->n; i++)
		v[i] = r->v[(r->head + i) % r->cap];
	free(r->v);
	r->v = v;
	r->cap = cap;
	r->head = 0;
	return 0;
}

void evq_post(evq_fn fn, void *obj, int event)
{
	/* An action's events follow it in its lane; outside a drain, a
	 * request's go to the request lane. */
	struct ring *r = &q.r[q.draining ? q.lane : q.request ? 0 : 1];

	if (r->n == r->cap && grow(r) < 0) {
		/* Nothing sensible can follow; losing an event would leave a
		 * machine stuck, so say it loudly. */
		log_error("out of memory: an event was lost");
		return;
	}
	r->v[(r->head + r->n) % r->cap] = (struct item){ fn, obj, event };
	r->n++;
	if (q.started && !uv_is_active((uv_handle_t *)&q.idle) &&
	    !uv_is_closing((uv_handle_t *)&q.idle))
		uv_idle_start(&q.idle, on_idle);
}

void evq_forget(void *obj)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < q.r[k].n; i++) {
			struct item *it = &q.r[k].v[(q.r[k].head + i) % q.r[k].cap];

			if (it->obj == obj)
				it->fn = NULL;
		}
}

size_t evq_drain_for(size_t max, uint64_t until)
{
	size_t ran = 0;

	/* An action that led here (none does) must not run another inside
	 * itself: the events wait for the outer drain. */
	if (q.draining)
		return 0;
	q.draining = 1;
	while (waiting() && ran < max) {
		/* The request lane whole; the other while the budget lasts. */
		int k = q.r[0].n ? 0 : 1;
		struct ring *r = &q.r[k];
		struct item it = r->v[r->head];

		if (k == 1 && until && ran && uv_hrtime() > until)
			break;
		r->head = (r->head + 1) % r->cap;
		r->n--;
		if (it.fn) {
			q.lane = k;
			it.fn(it.obj, it.event);
			ran++;
		}
	}
	q.draining = 0;
	for (int i = 0; ran && i < DRAINED_HOOKS && q.drained[i].fn; i++)
		q.drained[i].fn(q.drained[i].arg);
	if (!waiting() && q.started && uv_is_active((uv_handle_t *)&q.idle))
		uv_idle_stop(&q.idle);
	return ran;
}

size_t evq_drain(size_t max)
{
	return evq_drain_for(max, 0);
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
	if (q.started) {
		uv_close((uv_handle_t *)&q.idle, NULL);
		uv_close((uv_handle_t *)&q.prepare, NULL);
	}
	q.started = 0;
}

void evq_free(void)
{
	for (int k = 0; k < 2; k++) {
		free(q.r[k].v);
		q.r[k] = (struct ring){ 0 };
	}
}
