/*
 * run: triggered runs (docs/API.md) — starting one under the cross-instance run
 * lock, its process and output, its status record from Initializing to the
 * end, the idle timeout, recovery of runs a crash left behind, and stopping
 * runs when a job is deleted or the host shuts down.
 */
#ifndef WEBJOBS_RUN_H
#define WEBJOBS_RUN_H

#include <stddef.h>
#include <uv.h>

#include "home.h"
#include "hostcfg.h"
#include "job.h"
#include "registry.h"
#include "timefmt.h"

struct runner;

struct runner_config {
	struct home *home;
	struct registry *registry;
	const struct hostcfg_watch *cfg;
	const char *instance; /* the whole instance id */
	const char *temp;     /* --temp */
};

struct runner *runner_new(uv_loop_t *loop, const struct runner_config *c);

/* Starts a run of job j. The record is durable when this returns; the
 * process starts on a later turn of the loop (after the reply is sent).
 * For a scheduled run, occurrence is the tick's time (ticks): under the
 * lock, a newest run that started at or after it means another instance
 * ran this tick. Returns 0 with the run id in id, -EBUSY when a run holds
 * the lock, -EALREADY for a tick already run, -ESHUTDOWN when runs are
 * stopped (WEBJOBS_STOPPED or shutting down), or another negative errno
 * with a reason in err. */
int runner_start(struct runner *rn, struct job *j, const char *trigger,
		 const char *arguments, int64_t occurrence, char id[RUN_ID_LEN + 1],
		 char *err, size_t errsz);

/* Runs started between runner_batch(rn, 1) and runner_batch(rn, 0)
 * share one sync of the run journal, at the end (docs/DECISIONS.md, "The
 * run journal"); their processes start after it. */
void runner_batch(struct runner *rn, int begin);
/* The open batch is a tick accepted ahead of its second (start, in
 * ticks, still to come): its runs start then — their id and start time
 * are start's, and their first processes are held until it (the spawn
 * helper waits; process_req.not_before). */
void runner_batch_ahead(struct runner *rn, int64_t start);
/* Syncs what the open batch wrote so far; the batch stays open (its runs
 * keep sharing its start): the processes of its runs so far may start
 * while it goes on (the scheduler's tick, in parts). */
void runner_batch_sync(struct runner *rn);

/* A batch's runs are placed after their spawns: until then their
 * records are in the run journal only (synced with the batch) and their
 * folders are not made (docs/DECISIONS.md, "Schedule fire latency: a tick's runs are one batch").
 * runner_place_all places every such run now — the scheduler calls it
 * once the tick's spawns are answered; PLACE_MAX_MS after a run's accept
 * at the latest, and before anything that needs the folder (its end, a
 * hook, much output, a checkpoint of the journal). runner_pending says
 * whether any waits. */
#define PLACE_MAX_MS 1000
void runner_place_all(struct runner *rn);
int runner_pending(const struct runner *rn);

/* Kills this host's run of the named job, if any (the job is being
 * deleted); the run ends Aborted. */
void runner_kill_job(struct runner *rn, const char *name);

/* Aborts run id of job name (NULL: the job's run in progress), on any
 * instance: writes the {runId}/abort marker durably (the instance that
 * runs it sees it within a second) and, when the run is this instance's,
 * posts ABORT at once. user is who asked (the line "Run aborted by
 * {user}"). Returns 0 with the run's id in out; -ENOENT for no such run,
 * -EALREADY for a run that has ended, -ESRCH when the job has no run in
 * progress; another negative errno when the marker cannot be written. */
int runner_abort(struct runner *rn, const char *name, const char *id, const char *user,
		 char out[RUN_ID_LEN + 1]);

/* Marks runs that this instance left in progress (a crash) Aborted and
 * kills their leftover processes. Called once at start-up. */
void runner_recover(struct runner *rn);

/* Stops every run (shutdown file, SIGTERM, SIGKILL after the job's
 * stopping_wait_time); done(arg) once none is left. */
void runner_shutdown(struct runner *rn, void (*done)(void *), void *arg);

/* The state x event table of a run as the code has it, in the layout of
 * the comment at the top of run.c (for the test that keeps the two equal).
 * A new string. */
char *runner_table_text(void);

/* The state of this host's live run of job name (its name in the table),
 * or NULL when none is live; *has_child when it has a process. A pure
 * look-up, for tests and diagnostics. */
const char *runner_probe(struct runner *rn, const char *name, int *has_child);

/* Posts the event named as in the table to the live run of job name, as
 * the loop would; -1 when there is no such run or event. For tests that
 * walk every state x event. */
int runner_inject(struct runner *rn, const char *name, const char *event);

/* The number of Queued runs of each job under concurrency queue (or
 * with queued runs left), as "job\tcount\n" lines for /metrics. A look-up
 * only; a new string. */
char *runner_queue_text(struct runner *rn);

/* Frees the runner (after runner_shutdown has called done). */
void runner_free(struct runner *rn);

#endif
