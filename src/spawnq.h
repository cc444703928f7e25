/*
 * spawnq: objects waiting for their spawn, first in first out, released
 * from an idle handle at most per_turn a turn of the loop and no faster
 * than the spawn helper takes spawns (child_spawn_room): a restart storm
 * of thousands of jobs neither keeps the loop from the API nor queues
 * thousands of spawns, two pipes each, in the host (docs/DECISIONS.md,
 * "A restart storm", "Answers as they come, for continuous jobs").
 */
#ifndef WEBJOBS_SPAWNQ_H
#define WEBJOBS_SPAWNQ_H

#include <stddef.h>
#include <uv.h>

/* Embedded in the object that waits. */
struct spawnq_node {
	struct spawnq_node *next;
	int queued;
	int released; /* ready told, not yet taken */
};

struct spawnq {
	uv_idle_t idle;
	struct spawnq_node *head, *tail;
	size_t per_turn;
	size_t released; /* ready told, its spawn not yet made (spawnq_taken) */
	void (*ready)(struct spawnq_node *n); /* its turn came (it left the queue) */
};

/* One queue at a time: it takes the helper's room notices (child.h). */
void spawnq_init(struct spawnq *q, uv_loop_t *loop, size_t per_turn,
		 void (*ready)(struct spawnq_node *n));
/* Queues n (nothing when it is queued already). */
void spawnq_push(struct spawnq *q, struct spawnq_node *n);
/* The owner has acted on n's ready (spawned, or found it had nothing to
 * spawn): until then n counts against the helper's room. */
void spawnq_taken(struct spawnq *q, struct spawnq_node *n);
/* Takes n out of the queue, if it is in it (and out of the count of
 * those released: its owner goes away). */
void spawnq_remove(struct spawnq *q, struct spawnq_node *n);
/* Ends the queue (what is still in it stays there); its handle closes. */
void spawnq_close(struct spawnq *q);

#endif
