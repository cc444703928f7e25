/*
 * registry: every job of the home, in memory, kept current by watching
 * the folders with inotify (docs/API.md, "Deploying jobs": changes on disk are seen within one
 * second). Reads never walk the home: a job is re-read only after an event
 * says its files changed.
 */
#ifndef WEBJOBS_REGISTRY_H
#define WEBJOBS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "home.h"
#include "job.h"

struct registry;

/* Creates the registry and reads every triggered job (the continuous
 * ones are read from the loop, registry_reading). NULL on failure. */
struct registry *registry_new(uv_loop_t *loop, struct home *h);

/* Called from the loop's event queue after a job's binaries were re-read
 * (never inside a call into the registry): j is the job as it is when
 * the listener runs, NULL when it is gone or not listed (no runnable
 * script). */
typedef void (*registry_listener)(void *arg, enum job_type t, const char *name,
				  struct job *j);

/* Adds a listener (up to four: the supervisor, the scheduler); fn NULL
 * silences the listener registered with arg. */
void registry_listen(struct registry *r, registry_listener fn, void *arg);

/* Calls fn for every listed job of a type, as a listener is called when a
 * job changes (used at start-up). The registry may change during fn. */
void registry_replay(struct registry *r, enum job_type t, registry_listener fn, void *arg);

/* fn(arg, type, name, bin) is called for every job that an inotify event
 * or a registry_touch* marked changed — a change made through this
 * machine's mount — with bin
 * 1 for its binaries, 0 for its data folder; type JOB_TYPE_NONE (name
 * NULL) when everything must be re-read. It only takes note (src/share.c
 * publishes them for other machines). fn NULL stops it. */
typedef void (*registry_local_fn)(void *arg, enum job_type t, const char *name, int bin);
void registry_on_local(struct registry *r, registry_local_fn fn, void *arg);

/* 1 while the first read of the jobs goes on: the continuous jobs are
 * read from the loop, a few ms at a time, after registry_new. A pure
 * look-up. */
int registry_reading(const struct registry *r);
/* fn(arg), from the loop's event queue, once the first read has ended
 * (at once when it has): one waiter, the last one given. */
void registry_when_read(struct registry *r, void (*fn)(void *), void *arg);

/* Stops watching; the registry is freed once its handles are closed. */
void registry_close(struct registry *r);

/* Re-reads every job marked dirty so far and queues the listeners'
 * notices (it calls no listener). Job pointers handed out before are
 * invalid after it. Called only at the top of a loop callback: the
 * registry's settle timer (50 ms after an event) and the API before it
 * handles a request or after its own writes. */
void registry_refresh(struct registry *r);
/* The same, but job name of type (type < 0: none) first and the other
 * dirty jobs only until `until` (uv_hrtime; 0: no limit — the API passes
 * evq_turn_until()); those left are read on the next turns. What a
 * request reads is then current for the job it names, and the request is
 * not held up by a storm of changes. */
void registry_refresh_for(struct registry *r, int type, const char *name, uint64_t until);

/* The listed job of that type and name, or NULL. A pure look-up: it reads
 * nothing from disk and changes nothing. */
struct job *registry_find(struct registry *r, enum job_type t,
			  const char *name);

/* The listed jobs of a type, in byte order of names: *out points into the
 * registry and stays valid until the next registry_list or refresh. A pure
 * look-up like registry_find. */
size_t registry_list(struct registry *r, enum job_type t, struct job ***out);

/* Marks a job's folders as changed (used after the host's own writes, so
 * that they are seen at once rather than when the event arrives). */
void registry_touch(struct registry *r, enum job_type t, const char *name);

/* The same for the job's data folder only (runs, markers): its binaries,
 * and so its working copy, stay as they are. */
void registry_touch_data(struct registry *r, enum job_type t, const char *name);
/* The same for a change the host itself made to the job's runs (a run
 * folder, a record, a log): on a local file system whose data folder is
 * watched, its events already name what changed, and only the newest
 * record is read again; elsewhere, as registry_touch_data. */
void registry_touch_runs(struct registry *r, enum job_type t, const char *name);

/* The host wrote record rec of run rec->id of triggered job name, a run
 * it runs (not one that waits in a queue: another instance may start
 * it); placed: its folder was put in place just now (else a run not in
 * the list — its folder removed since — is left out); has_out, has_err:
 * whether its logs exist. When it is the job's newest run, rec is its newest record from
 * now on, kept from these calls, and its folder is not watched: the run's
 * owner is the only writer of its record while it lives (another
 * instance writes only its abort marker, polled), so reading back what
 * the host wrote itself cost a watch moved and a record read per run
 * (docs/DECISIONS.md, "The host's own runs are not read back"). */
void registry_note_run(struct registry *r, const char *name, const struct runrec *rec,
		       int placed, int has_out, int has_err);

/* The run folders of triggered job name, ascending, as they are now —
 * when the registry's list is exact: a local file system, the job's data
 * folder watched and listed, no event missed. The events the kernel holds
 * are applied first (run lists change, no job is freed or re-read). *ids
 * points into the registry, valid until the next call into it. 0, or -1 when the caller
 * must list the folder itself. */
int registry_runs_now(struct registry *r, const char *name,
		      const char (**ids)[RUN_ID_LEN + 1], size_t *n);

#endif
