/*
 * launch: starting a job's process, written once for triggered runs and
 * continuous jobs — what a start takes from the job (a snapshot, so a
 * later change of the job's files does not change a process already on
 * its way), the working copy, the command line, the environment of
 * docs/API.md ("The job's process"), the shutdown file, and the spawn.
 */
#ifndef WEBJOBS_LAUNCH_H
#define WEBJOBS_LAUNCH_H

#include <uv.h>

#include "child.h"
#include "home.h"
#include "job.h"
#include "joblog.h"
#include "script.h"

struct launch {
	const struct home *home;
	enum job_type type;
	char *name;
	char *run_command;              /* the script, relative to the root */
	const struct script_host *host;
	int in_place;                   /* runs from its binaries folder */
	long long stop_wait;            /* stopping_wait_time, seconds */
	unsigned gen;                   /* the job's content generation */
	char *bin_root;                 /* the job's binaries folder */
	char *work_root;                /* where it runs from: a copy or bin_root */
	char *shutdown_file;            /* {temp}/jobs/{type}/{name}/shutdown */
	char *pid_file;                 /* {temp}/jobs/{type}/{name}/pid[-{slot}] */
	int slot;                       /* run slot (concurrency allow), 0: none */
	int stop_asked;                 /* the shutdown file was made for it */
};

/* What this start of job j needs, taken now (l is cleared first; it must
 * be zeroed or cleared before the first call). default_wait is the type's
 * stopping_wait_time. Returns 0 or -ENOMEM. */
int launch_snapshot(struct launch *l, const struct home *h, const char *temp,
		    const struct job *j, long long default_wait);
void launch_clear(struct launch *l);

/* A run in slot k > 1 of a job under concurrency allow gets its own
 * working copy ("copy-{k}"), shutdown file ("shutdown-{k}") and pid file
 * ("pid-{k}"), so runs at once neither share files nor stop each other.
 * 0 or -ENOMEM. */
int launch_use_slot(struct launch *l, int slot);

/* 1 when the working copy is current (or the job runs in place). */
int launch_copy_fresh(const struct launch *l, const struct job *j);

/* Makes the working copy again. Blocking: the thread pool only. Returns 0
 * or -errno. */
int launch_make_copy(const struct launch *l);

/* Per start: the run id ("" for continuous jobs), the raw arguments ("" for
 * none), WEBJOBS_PORT (0: none) and the attempt of the run. */
struct launch_args {
	const char *run_id;
	const char *arguments;
	int port;
	int attempt;        /* WEBJOBS_RUN_ATTEMPT (triggered runs), 0: none */
	int64_t not_before; /* CLOCK_REALTIME ns: not started before (0: now) */
};

/* Logs "Run script ..." and starts the process.
 * Its pid file (found by a host killed with -9 at its next start) is
 * written by the process itself before its exec. Returns NULL with a
 * reason in err (bad arguments, a failed spawn). */
struct child *launch_spawn(uv_loop_t *loop, const struct launch *l,
			   const struct launch_args *a, struct joblog *log,
			   const struct child_ops *ops, void *arg, char *err,
			   size_t errsz);

/* The graceful stop: the shutdown file, then SIGTERM to the process. */
void launch_ask_stop(struct launch *l, struct child *c);

/* The process is down: a continuous job's pid file is emptied, and the
 * shutdown file, when a stop made it, removed (a spawn does not look for
 * one: at start-up, launch_kill_leftovers removes those a crash left). */
void launch_ended(struct launch *l);

/* At start-up, before any job starts: ends the processes of jobs that a
 * host killed with -9 left running (their pid files under temp survived
 * it), and removes the shutdown files it left. */
void launch_kill_leftovers(const char *temp);

#endif
