/*
 * job: one deployed job as the host knows it — its script, its settings,
 * and for triggered jobs its runs — read from the home and kept in memory,
 * and its JSON form (docs/API.md, "JSON shapes"). The registry decides when to re-read.
 */
#ifndef WEBJOBS_JOB_H
#define WEBJOBS_JOB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "home.h"
#include "route.h"
#include "runrec.h"
#include "script.h"

#define JOB_MAX_DEPTH 16

struct job;

struct job *job_new(enum job_type type, const char *name);
void job_free(struct job *j);

const char *job_name(const struct job *j);
enum job_type job_type(const struct job *j);

/* Re-reads the binaries folder. Returns 1 when the folder exists (listed
 * or not), 0 when it is gone, or a negative errno: -ESTALE when the
 * folder read is one being removed (HOME_DELETED_MARK). The job is left
 * as it was unless 1. */
int job_scan_bin(struct job *j, const struct home *h);

/* Looks for a runnable script in the job folder dfd (descending through
 * lone sub-folders): 1 with its path in run_command, 0 when none, or a
 * negative errno. Safe on any thread. */
int job_probe(int dfd, char *run_command, size_t size);

/* Lists the data folder again (runs, markers); the newest record is read
 * by job_reload_latest. Returns 0 or a negative errno. */
int job_scan_data(struct job *j, const struct home *h);
/* A run folder id came (1) or went (0) in the job's data folder, as an
 * inotify event named it: the run list is kept without a listing. 0, or
 * a negative errno (the caller then re-reads the folder). */
int job_note_run(struct job *j, const char *id, int came);
/* Re-reads the newest readable record of the runs listed (the list is
 * current). Returns 0 or a negative errno. */
int job_reload_latest(struct job *j, const struct home *h);
/* The record rec, as written to disk just now: when its run is the
 * newest listed, rec becomes the job's newest record (has_out, has_err:
 * whether its logs exist) without a read; with placed (its folder was put
 * in place just now) its id joins the run list first. 1 when it became
 * the newest, 0 when it is not the newest, or a negative errno. */
int job_set_latest(struct job *j, const struct runrec *rec, int placed, int has_out,
		   int has_err);

/* 1 when the job has a runnable script and is shown in the API. */
int job_listed(const struct job *j);

/* The script folder relative to the job folder ("" or "a/b"). */
const char *job_script_dir(const struct job *j);

/* The run folders listed, ascending (*n of them). */
const char (*job_runs(const struct job *j, size_t *n))[RUN_ID_LEN + 1];
/* 1 when the run list may lack folders: its listing stopped short (an
 * error, no memory, the cap of MAX_ENTRIES). */
int job_runs_partial(const struct job *j);
/* The run folder of the newest run, or NULL. */
const char *job_newest_run(const struct job *j);
/* The status recorded for the newest run, or NULL (no run). */
const char *job_latest_status(const struct job *j);

const json_t *job_settings(const struct job *j);

/* The script's host and its path relative to the job folder, or NULL. */
const struct script_host *job_host(const struct job *j);
const char *job_run_command(const struct job *j);

/* Counts changes of the job's content (a deploy, settings.job, the script
 * file, the script folder): a working copy or a process started at one
 * count is stale at another. Toggling disable.job is not a change. The
 * copy's count is kept here too. */
unsigned job_bin_gen(const struct job *j);

/* The next scheduled fire (ticks; 0: none), shown as next_run. */
void job_set_next_run(struct job *j, int64_t ticks);

/* 1 when disable.job is in the script folder. */
int job_disabled(const struct job *j);
/* The content generation of the working copy of slot (0 and 1: the job's
 * copy; k > 1: run slot k's own copy under concurrency allow). */
unsigned job_copy_gen(const struct job *j, int slot);
void job_set_copy_gen(struct job *j, int slot, unsigned gen);
/* This instance's status of continuous job j, as just written to its
 * status file: a listing need not read it back. */
void job_note_own_status(struct job *j, const char *instance, const char *status);

/* The job's JSON text for this prefix, owned by the job and valid until
 * the next call for the job; *len gets its length and *hash a hash of it.
 * Bodies that cannot change without a file change are cached. */
const char *job_body(struct job *j, const struct home *h, const char *prefix,
		     size_t *len, uint64_t *hash);

/* The job's history as JSON ({"runs":[...]}, newest first). */
json_t *job_history_json(struct job *j, const struct home *h,
			 const char *prefix);

/* One run as JSON, or NULL when there is no such run. */
json_t *job_run_json(struct job *j, const struct home *h, const char *prefix,
		     const char *id);

/* A cheap hash of the bytes, keyed per process, for ETags. */
uint64_t job_hash_bytes(const void *data, size_t len);

#endif
