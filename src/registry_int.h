/*
 * registry_int: the registry's tables and entries, shared by registry.c
 * (the jobs, their re-reads, the public calls) and registry_events.c (the
 * inotify watches and what each event calls for). Nothing else includes
 * this but the state machines' unit test (tests/unit/test_machines.c),
 * which drops the registry's inotify events to stand for a change made
 * through another machine.
 */
#ifndef WEBJOBS_REGISTRY_INT_H
#define WEBJOBS_REGISTRY_INT_H

#include "registry.h"

#include <stdint.h>
#include <sys/inotify.h>
#include <uv.h>

#include "job.h"
#include "runrec.h"
#include "wdmap.h"

#define SETTLE_MS 50
/* A triggered job's runs' change is read in the background after this
 * long: a run's start and end, one read (docs/DECISIONS.md, "Schedule
 * fire latency: a tick's runs are one batch"). Requests read at once. */
#define DATA_SETTLE_MS 500
/* A job kept as it was because its folder was read in the middle of a
 * change (a delete or a deploy another machine is making) is read again
 * after this long, event or not: a change made through another machine
 * brings no event of its own, and its published word may be read in the
 * same window (docs/SCALE-OUT.md, "A job deleted on one machine"). */
#define KEPT_RECHECK_MS 1000
#define MASK_TYPE (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)
#define MASK_BIN (MASK_TYPE | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define MASK_DATA (MASK_TYPE | IN_CLOSE_WRITE)

enum role { ROLE_TYPE_BIN, ROLE_TYPE_DATA, ROLE_BIN, ROLE_DATA, ROLE_RUN };
/* How much of a job's data folder is to be read again: nothing, the
 * newest record (its run list is kept from the events' names), or all. */
enum { DATA_NONE, DATA_LATEST, DATA_ALL };

struct entry {
	struct job *job;
	enum job_type type;
	int bin_dirty, data_dirty, queued; /* data_dirty: DATA_* */
	uint64_t data_at; /* loop time (ms) it became data_dirty */
	/* Loop time (ms) before which a job kept by a read of its folder in
	 * the middle of a change is not read again (0: none). */
	uint64_t recheck_at;
	int noticed;    /* a notice for the listeners waits in the queue */
	int unread;     /* queued by the first read, not read yet */
	int bin_wd[JOB_MAX_DEPTH + 1];
	int nbin;
	int data_wd, run_wd;
	int data_moved; /* its data folder itself came or went: watched anew */
	char run_watched[RUN_ID_LEN + 1]; /* the run folder run_wd watches */
	/* The newest run when this host runs it and its record in memory is
	 * the one it last wrote (registry_note_run): not watched, not read
	 * back. */
	char own_run[RUN_ID_LEN + 1];
};

struct table {
	struct entry **v; /* sorted by name */
	size_t n, cap;
	struct job **listed; /* view handed out by registry_list */
	size_t nlisted;
};

struct registry {
	uv_loop_t *loop;
	struct home *h;
	int ifd;
	uv_poll_t poll;
	uv_timer_t settle;
	int handles;
	struct table t[2];
	struct entry **queue; /* dirty entries */
	size_t nqueue, capqueue;
	struct wdmap w;
	int type_wd[2][2]; /* [bin|data][type] */
	int parent_wd[2];  /* the folders holding the type folders */
	int type_gone[2][2];
	int rescan_all;
	int evented[2]; /* per type: its data folder is local (files_local_fs) */
	registry_local_fn local;
	void *local_arg;
	registry_listener listener[4];
	void *listener_arg[4];
	int nlisteners;
	/* Jobs re-read since the listeners were last told, as names (an
	 * entry may be gone by then); told from the loop's event queue. */
	struct notice *notices;
	size_t nnotices, capnotices;
	int notice_posted;
	int listening; /* 0 while the triggered jobs are first read: replayed instead */
	size_t nunread; /* entries with unread set */
	void (*read_fn)(void *); /* registry_when_read */
	void *read_arg;
};

struct notice {
	enum job_type type;
	char *name;
};

/* registry.c */
/* Marks e dirty (bin: its binaries; data: DATA_*) and queues it. */
void registry_enqueue(struct registry *r, struct entry *e, int bin, int data);
/* The entry of a job, made when create is set and the name is valid. */
struct entry *registry_entry(struct registry *r, enum job_type type, const char *name,
			     int create);
void registry_on_settle(uv_timer_t *t);

/* registry_events.c */
/* Adds a watch; returns the wd or -1. */
int registry_watch_add(struct registry *r, int dfd, const char *path, uint32_t mask,
		       enum role role, enum job_type type, struct entry *e);
/* Removes a watch (*wd becomes -1). */
void registry_watch_rm(struct registry *r, int *wd);
/* Takes every event the kernel holds now. */
void registry_read_events(struct registry *r);
void registry_on_inotify(uv_poll_t *p, int status, int events);

#endif
