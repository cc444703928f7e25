/*
 * runrec: a triggered run's status record, "{runId}/status" (docs/API.md, "Triggered runs"),
 * and its JSON form in the API (docs/API.md, "JSON shapes").
 */
#ifndef WEBJOBS_RUNREC_H
#define WEBJOBS_RUNREC_H

#include <jansson.h>
#include <stdint.h>

#include "timefmt.h"

struct runrec {
	char id[RUN_ID_LEN + 1];
	char status[24];   /* "Initializing", "Running", "Success", ... */
	char *trigger;     /* owned; never NULL after a parse */
	int64_t start;     /* ticks */
	int64_t end;       /* ticks; 0 while the run has not ended */
	int has_exit_code;
	int exit_code;
	int pid;           /* 0 when unknown */
	int64_t pid_start; /* the process's start time (clock ticks) or 0 */
	char *instance;    /* owned, may be NULL */
	char *arguments;   /* owned, may be NULL */
	int attempt;       /* the current or last attempt, from 1; 0: unknown */
	int never_started; /* aborted while Queued ("NeverStarted") */
	int slot;          /* concurrency allow: its lock slot, from 1; 0: the
			    * whole run lock ("Slot") */
};

/* Fills r from the record's text; id is the run folder's name. Keys are
 * matched without regard to case; unknown keys are ignored. Returns 0, or
 * -EINVAL for a damaged record (r is then empty). */
int runrec_parse(const char *id, const char *text, size_t len,
		 struct runrec *r);

/* The record as JSON text (PascalCase keys), newly allocated. */
char *runrec_serialize(const struct runrec *r);

/* Reads "{id}/status" below the data folder dfd. Returns 0, -ENOENT, or
 * -EINVAL for a damaged record. */
int runrec_load(int dfd, const char *id, struct runrec *r);

void runrec_free(struct runrec *r);
/* dst becomes a copy of src (its strings its own). 0, or -ENOMEM (dst
 * then empty). */
int runrec_copy(struct runrec *dst, const struct runrec *src);

/* 1 when a run of the job whose data folder is jfd holds lock slot
 * (any instance: F_OFD_GETLK sees every process's locks). Slot 0 is the
 * whole run lock (forbid, queue, replace), slot k > 0 byte k - 1 of the
 * lock file (allow: one byte per run at once). */
int runrec_lock_held(int jfd, int slot);

/* 1 when run r (in progress by its record) of the job whose data folder
 * is jfd is really running somewhere: the lock it took is held — its slot,
 * or the whole lock when it is the job's active run (the newest that is
 * not waiting; a crashed one below it has no lock of its own). */
int runrec_live(int jfd, const struct runrec *r, const char *active);

/* 1 for a run that waits (Queued) or was aborted while it waited: it
 * never took the run lock, so it is not the job's run in progress or last
 * ended (docs/API.md, "Run control"). */
int runrec_waiting(const struct runrec *r);

/* How run id of the job whose data folder is jfd waits: 2 Queued, 1
 * aborted while it waited, 0 not waiting, -1 its record cannot be read. */
int runrec_wait_state(int jfd, const char *id);

/* 1 for the statuses of a run that has not ended (Queued included). */
int runrec_in_progress(const struct runrec *r);

struct run_view {
	const char *prefix;   /* "http://host:port" */
	const char *job;      /* the job's name */
	int has_output;       /* output_log.txt exists */
	int has_error;        /* error_log.txt exists */
	const char *status;   /* the status to report (may differ: Aborted) */
	int64_t end;          /* the end to report, 0 when not ended */
	int64_t now;          /* for the duration of a run in progress */
};

/* The run's JSON object, fields in the order of docs/API.md, "JSON shapes". */
json_t *runrec_json(const struct runrec *r, const struct run_view *v);

#endif
