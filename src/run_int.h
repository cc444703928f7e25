/*
 * run_int: what run.c (the state machine of a run) and run_disk.c (runs
 * on disk: accepting, aborting, recovering) share. Not for other modules.
 */
#ifndef WEBJOBS_RUN_INT_H
#define WEBJOBS_RUN_INT_H

#include <uv.h>

#include "child.h"
#include "joblog.h"
#include "launch.h"
#include "run.h"
#include "runrec.h"

#define DEFAULT_STOP_WAIT 30  /* seconds, triggered jobs (docs/API.md) */

enum state {
	R_ACCEPTED, R_COPYING, R_CANCELLED, R_RUNNING, R_STOPPING, R_WAITING, R_ENDED, R_COUNT
};
enum event {
	E_BEGIN, E_COPIED, E_NOCOPY, E_EXIT, E_IDLE, E_SHUTDOWN, E_DELETED, E_KILL, E_ABORT,
	E_TIMEOUT, E_RETRY, E_COUNT
};

/* Why a run ends, which decides its final status. */
enum why {
	WHY_EXIT, WHY_FAILED_START, WHY_IDLE, WHY_TIMEOUT, WHY_SHUTDOWN, WHY_ABORTED, WHY_DELETED
};

struct run {
	struct runner *rn;
	struct run *next, *prev;
	enum state state;
	enum why why;
	char id[RUN_ID_LEN + 1];
	struct runrec rec;
	int lock_fd, dfd;
	struct joblog *log;
	struct launch l;
	int copy_fresh;     /* the working copy was current when accepted */
	int copy_rc;
	uv_work_t work;
	struct child *child;
	int wstatus;
	uv_timer_t timer;      /* idle checks */
	uv_timer_t kill_timer; /* SIGKILL after the stop wait */
	uv_timer_t limit;      /* the run's timeout, from its first Running */
	long long timeout;     /* seconds, 0: none */
	uv_timer_t retry;      /* the wait before the next attempt */
	int attempt, attempts; /* the current one (from 1), retries + 1 */
	long long retry_delay, retry_max_delay; /* seconds */
	int handles;           /* open uv handles; freed at 0 */
	int64_t last_cpu;
	uint64_t last_activity;
	char *aborter;         /* who asked for an abort (its line's {user}) */
	int abort_said;        /* "Run aborted by ..." is in the log */
	int abort_posted;      /* the marker was seen and ABORT posted */
};

struct runner {
	uv_loop_t *loop;
	struct runner_config c;
	struct run *runs;
	uv_timer_t abort_poll; /* looks for abort markers while runs live */
	int shutting;
	void (*done)(void *);
	void *done_arg;
};

/* The loop's event queue for one run (src/evq.h). */
void run_post(struct run *r, enum event e);
/* Frees what a run owns besides its handles and fds. */
void run_free(struct run *r);
/* Writes the run's record (durably when asked). */
int run_write_record(struct run *r, int durable);
/* Deletes the oldest runs so that keep remain; the newest id left (or "")
 * in newest. */
void run_trim_history(int dfd, long long keep, char newest[RUN_ID_LEN + 1]);
/* Looks for abort markers of live runs (a 1 s timer of the runner). */
void run_on_abort_poll(uv_timer_t *t);

#endif
