/*
 * evq: the loop's queue of events for the state machines (the registry's
 * change notices, the supervisor's and the runs' events).
 *
 * The rule (s6-supervise's): a state machine's action runs only when the
 * loop drains this queue, never inside another module's call. A module
 * that wants another one (or itself) to react posts an event and returns;
 * the event is handled after the current callback has unwound, in the
 * order events were posted. Posting never calls anything.
 */
#ifndef WEBJOBS_EVQ_H
#define WEBJOBS_EVQ_H

#include <stdint.h>
#include <uv.h>

typedef void (*evq_fn)(void *obj, int event);

/* Events a request may run before its handler (evq_drain_for). */
#define EVQ_PER_REQUEST 4096

/* Starts the queue on the loop (one per process). */
void evq_start(uv_loop_t *loop);

/* Queues fn(obj, event) for the loop. */
void evq_post(evq_fn fn, void *obj, int event);

/* on: what is posted from here on — and what the actions of those events
 * post — is a request's, and runs before the other events (the request
 * lane), so that a request sees what the requests before it caused even
 * while a storm of other events waits. The API turns it on for the time
 * of a handler. */
void evq_request(int on);

/* fn(arg) runs at the end of every drain that ran an event, before the
 * loop goes on: the spawns a drain's actions sent are collected there
 * (child.c), and the records they made durable synced once (the runner's
 * group commit). Hooks run in the order they were added; adding fn again
 * replaces its arg. 0, or -ENOSPC. */
int evq_on_drained(void (*fn)(void *), void *arg);
void evq_off_drained(void (*fn)(void *));
/* 1 while a drain runs actions. */
int evq_draining(void);

/* Drops every queued event of obj (before obj is freed). */
void evq_forget(void *obj);

/* Runs queued events until none is left or max ran; returns how many ran.
 * Called by the loop (its idle handle; the API at the top of each
 * request, so that a request sees what the requests before it caused;
 * the scheduler's timer between the parts of a tick, so that a part's
 * spawns go out before the next part is accepted — never from inside a
 * module's call); tests call it to step a machine. A call made while a drain is under way
 * returns 0 at once: actions never run inside one another. */
size_t evq_drain(size_t max);
/* The same, but events of the other lane only until `until` (uv_hrtime;
 * at least one runs); 0: no limit. */
size_t evq_drain_for(size_t max, uint64_t until);

/* The end (uv_hrtime) of this turn's share of the loop for work that can
 * wait: the other lane's events, the reaps, the registry's reads of a
 * storm of changes, the part of them a request does — one share for all
 * of them (2 ms from the first taker after a poll), so that a storm
 * holds no turn much longer and the API answers in between. Each taker
 * still does one step past it, so that all go on. */
uint64_t evq_turn_until(void);

/* A state x event table as text, in the layout of the comments at the top
 * of supervisor.c and run.c: a header line of event names, then a line per
 * state with the name of each cell's action (cell(s, e)). A new string. */
char *evq_table_text(const char *const *states, int nstates, const char *const *events,
		     int nevents, const char *(*cell)(int state, int event));

/* Closes the queue's handle when the host winds down: events posted
 * after it never run. */
void evq_close(void);
/* Frees the queue's memory once the loop has ended. */
void evq_free(void);

#endif
