/*
 * spawnq: the queue of spawns to come (spawnq.h).
 */
#define _GNU_SOURCE
#include "spawnq.h"

#include "child.h"

static void on_turn(uv_idle_t *h)
{
	struct spawnq *q = h->data;
	size_t room = child_spawn_room();

	/* No more than the helper takes at once, counting those released
	 * whose spawn is still to be made (their events may wait a turn or
	 * more): the rest wait here, not holding pipes in its queue; room
	 * made brings them (on_room). */
	room = room > q->released ? room - q->released : 0;
	for (size_t k = 0; k < q->per_turn && k < room && q->head; k++) {
		struct spawnq_node *n = q->head;

		q->head = n->next;
		if (!q->head)
			q->tail = NULL;
		n->queued = 0;
		n->next = NULL;
		q->released++;
		n->released = 1;
		q->ready(n);
	}
	if (!q->head || !room)
		uv_idle_stop(h);
}

static void on_room(void *arg)
{
	struct spawnq *q = arg;

	if (q->head && !uv_is_closing((uv_handle_t *)&q->idle))
		uv_idle_start(&q->idle, on_turn);
}

void spawnq_init(struct spawnq *q, uv_loop_t *loop, size_t per_turn,
		 void (*ready)(struct spawnq_node *n))
{
	q->head = q->tail = NULL;
	q->per_turn = per_turn;
	q->released = 0;
	q->ready = ready;
	uv_idle_init(loop, &q->idle);
	q->idle.data = q;
	child_on_room(on_room, q);
}

void spawnq_taken(struct spawnq *q, struct spawnq_node *n)
{
	if (!n->released)
		return;
	n->released = 0;
	q->released--;
	on_room(q);
}

void spawnq_push(struct spawnq *q, struct spawnq_node *n)
{
	if (n->queued)
		return;
	n->queued = 1;
	n->next = NULL;
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	uv_idle_start(&q->idle, on_turn);
}

void spawnq_remove(struct spawnq *q, struct spawnq_node *n)
{
	struct spawnq_node *prev = NULL;

	spawnq_taken(q, n);
	if (!n->queued)
		return;
	for (struct spawnq_node *k = q->head; k; prev = k, k = k->next)
		if (k == n) {
			if (prev)
				prev->next = n->next;
			else
				q->head = n->next;
			if (q->tail == n)
				q->tail = prev;
			break;
		}
	n->queued = 0;
	n->next = NULL;
}

void spawnq_close(struct spawnq *q)
{
	child_on_room(NULL, NULL);
	uv_close((uv_handle_t *)&q->idle, NULL);
}
