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
#define PENDING_LOG_MAX (64 * 1024) /* bytes of a pending run's log */

enum state {
	R_ACCEPTED, R_COPYING, R_CANCELLED, R_RUNNING, R_STOPPING, R_WAITING, R_ENDED, R_COUNT
};
enum event {
	E_BEGIN, E_COPIED, E_NOCOPY, E_EXIT, E_IDLE, E_SHUTDOWN, E_DELETED, E_KILL, E_ABORT,
	E_TIMEOUT, E_RETRY, E_STARTED, E_COUNT
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
	char *start_err;       /* STARTED: why the process could not start */
	int wstatus;
	uv_timer_t timer;      /* idle checks */
	uv_timer_t kill_timer; /* SIGKILL after the stop wait */
	uv_timer_t limit;      /* the run's timeout, from its first Running */
	long long timeout;     /* seconds, 0: none */
	uv_timer_t retry;      /* the wait before the next attempt */
	int attempt, attempts; /* the current one (from 1), retries + 1 */
	int64_t not_before;    /* its first spawn held until (runner_batch_ahead) */
	long long retry_delay, retry_max_delay; /* seconds */
	int handles;           /* open uv handles; freed at 0 */
	int64_t last_cpu;
	uint64_t last_activity;
	char *aborter;         /* who asked for an abort (its line's {user}) */
	int abort_said;        /* "Run aborted by ..." is in the log */
	int abort_posted;      /* the marker was seen and ABORT posted */
	int log_begun;         /* RUN_FIRST_LINE is in the log already */
	int log_fd;            /* the log, open since the recycle wrote that
				* line: BEGIN's (-1: none) */
	int has_out, has_err;  /* its output_log.txt, error_log.txt exist */
	/* A tick's run is placed after the tick's spawns (run_place): until
	 * then its record is only in the run journal, its log in memory. */
	int pending;
	int jfd;               /* the job's data folder while pending */
	char old[RUN_ID_LEN + 1];  /* the folder to recycle, or "" */
	char first_line[256];  /* RUN_FIRST_LINE, formatted when accepted */
	size_t first_len;
};

/* A run the records of one journal file describe (run_journal.c). */
struct jitem {
	char *name;
	char id[RUN_ID_LEN + 1];
};
/* One of the two journal files, and the runs its records describe. */
struct jhalf {
	struct journal *j;
	struct jitem *items;
	size_t n, cap;
	int rc;                /* the checkpoint's outcome */
};

struct runner {
	uv_loop_t *loop;
	struct runner_config c;
	struct run *runs;
	uv_timer_t abort_poll; /* looks for abort markers while runs live */
	uv_timer_t place;      /* places pending runs, PLACE_MAX_MS at most */
	int npending;          /* runs pending (run_place) */
	struct jhalf half[2];  /* the run journal; half[0].j NULL: none */
	int active;            /* the half records go to */
	int batch;             /* > 0: syncs wait for runner_batch's end */
	int64_t batch_start;   /* ticks: when the batch began */
	int64_t batch_hold;    /* ns, CLOCK_REALTIME: its spawns not before (0) */
	int sync_owed;         /* durable records wait for a sync */
	int whole_fs;          /* a checkpoint is one syncfs (a local fs) */
	uv_timer_t ckpt;       /* the checkpoint's delay */
	int ckpt_open, ckpt_busy, ckpt_half;
	int ckpt_retry;        /* the last checkpoint failed: its half again */
	uint64_t ckpt_epoch;
	uv_work_t ckpt_work;
	int shutting;
	void (*done)(void *);
	void *done_arg;
};

/* The loop's event queue for one run (src/evq.h). */
void run_post(struct run *r, enum event e);
/* Frees what a run owns besides its handles and fds. */
void run_free(struct run *r);
/* The run's folder: recycled folder old, emptied, its output log holding
 * line (len bytes; *log_fd then the log, open at the line's end), or a
 * new folder id (line written into its log too when len). Returns the
 * folder's fd or -errno (a reason in err); old is "" when it could not
 * be recycled (run_place.c). */
int run_make_folder(int jfd, const char *id, char old[RUN_ID_LEN + 1], const char *line,
		    size_t len, int *log_fd, char *err, size_t errsz);
/* A pending run's folder made (the recycled one, or a new one) with its
 * first log line, its record written (not synced: its journal line is),
 * the registry told, and its log given the folder (run_place.c). Nothing
 * for a run that is not pending; a failure is logged, and the run goes
 * on without a folder. */
void run_place(struct run *r);
/* run_place for a run whose record must be durable now (its end): the
 * record placed is the one it has now, with its own journal line, as
 * run_record durable writes it — one status write, not two. Returns as
 * run_record (-errno with no folder); 1 when the run was not pending. */
int run_place_durable(struct run *r);
/* A pending run that will never be placed (its job was deleted). */
void run_unplace(struct run *r);
/* The place timer's callback: runner_place_all. */
void runner_on_place(uv_timer_t *t);
/* Writes the run's record (durably when asked), and tells the registry
 * (run_note). */
int run_write_record(struct run *r, int durable);
/* Tells the registry the run's record and which of its logs exist, as
 * they are on disk now (registry_note_run; placed: its folder was put in
 * place just now) — a run that waits in a queue excepted (another
 * instance may start it), and one whose job was deleted. */
void run_note(struct run *r, int placed);

/* ---- the run journal (run_journal.c) ---- */

/* Writes record rec of job name into its run folder dfd; durable: also
 * its line in the run journal, synced now unless a batch is open
 * (durable | RECORD_FOREIGN: by a writer other than the run's owner). */
#define RECORD_FOREIGN 2
/* The status file's spare (files_write_swap): a run's three status
 * writes make two inodes and free none (docs/DECISIONS.md, "This
 * machine's ext4"; docs/API.md, "Files on disk"). */
#define STATUS_SPARE ".status-prev"

int run_record(struct runner *rn, const char *name, int dfd, const struct runrec *rec,
	       int durable);
/* The first record of a run whose folder dfd is a recycled one still
 * named old in jfd (run_recycle): written there, the folder renamed to
 * rec->id, then made durable as run_record does. A reader never sees the
 * new id with the old run's record; a crash between the write and the
 * rename leaves the old id holding a record nobody was told of, which the
 * recovery ends Aborted like any run its host left. old is "" once the
 * folder was renamed. */
int run_record_recycled(struct runner *rn, const char *name, int jfd, char *old, int dfd,
			const struct runrec *rec);
/* The record of a run placed after its accept: written into dfd (the
 * recycled folder old renamed to the run's id, as run_record_recycled)
 * without a journal line — the line its accept wrote holds it — or,
 * durable, with one, as run_record. */
int run_record_placed(struct runner *rn, const char *name, int jfd, char *old, int dfd,
		      const struct runrec *rec, int durable);
/* A pending run's first record: its journal line only, synced with the
 * batch. */
int run_journal_accept(struct runner *rn, const char *name, const struct runrec *rec);
/* Syncs what the journal has not synced yet (one fdatasync). */
int run_journal_sync(struct runner *rn);
/* evq's drain hook: the sync the drain's durable records wait for. */
void runner_drained(void *rn);
/* Tells job name's hook of event, once what was written durably for it
 * is synced (the report comes after the record, as for a reply). */
void run_tell_hook(struct runner *rn, const char *name, const char *event,
		   const struct runrec *rec, int dfd);
/* Start-up: opens the journal and replays it (before the recovery). */
int run_journal_open(struct runner *rn);
/* Shutdown: no more checkpoints; after the loop: the last sync. */
void run_journal_stop(struct runner *rn);
void run_journal_close(struct runner *rn);
/* Deletes the oldest of the n runs ids (ascending) of data folder dfd so
 * that keep remain; the newest id left (or "") in newest. spare_live:
 * runs still running in a slot of their own (concurrency allow) are
 * kept. recycle (may be NULL): the newest of the runs to delete is left
 * in place and named there (else ""), for the caller to turn into its
 * new run's folder (run_recycle). occurrence
 * (ticks, 0: none): when the newest run started at or after it (another
 * instance ran this tick), nothing is deleted and -EALREADY returned. */
int run_trim_history(int dfd, char (*ids)[RUN_ID_LEN + 1], int n, long long keep,
		     char newest[RUN_ID_LEN + 1], int spare_live, char *recycle,
		     int64_t occurrence);
/* The run folders of job name (data folder jfd) as they are now,
 * ascending, in *ids (to free): the registry's list when it is exact,
 * else a listing. Their number, or a negative errno. */
int run_ids(struct runner *rn, const char *name, int jfd, char (**ids)[RUN_ID_LEN + 1]);
/* Empties run folder old of job folder jfd for a new run: all but its
 * status file, the status spare and the output log go; the log holds
 * only line (len bytes: the new run's first, RUN_FIRST_LINE), and stays
 * open in *log_fd when it does (else it is empty, *log_fd -1). No inode
 * is created or freed.
 * Returns the folder's fd or -errno; the new run's first record renames
 * it (run_record_recycled). */
int run_recycle(int jfd, const char *old, const char *line, size_t len, int *log_fd);
/* A run's first log line (its text), written by BEGIN — or by the
 * recycle, with the folder (log_begun). */
#define RUN_FIRST_LINE "Status changed to Initializing"
/* Helpers of run_disk.c for run_queue.c: the run lock (-EBUSY when held;
 * slots > 0: the first free of that many slots, its number in *slot),
 * a new run id after newest, a run made from a job, a run going live
 * (lock held, record on disk, BEGIN posted), an abort marker's user. */
int run_take_lock(struct runner *rn, const char *name, int slots, int *jfd, int *lock_fd,
		  int *slot, char *err, size_t errsz);
void run_new_id(struct runner *rn, const char *newest, char id[RUN_ID_LEN + 1],
		int64_t *start);
struct run *run_new(struct runner *rn, const struct job *j, const char *trigger,
		    const char *arguments, const char *id, int64_t start, int slot);
void run_go_live(struct runner *rn, struct run *r, const struct job *j, int lock_fd);
char *run_marker_user(int dfd);

/* ---- the concurrency policy (run_queue.c) ---- */

enum policy { POLICY_FORBID, POLICY_QUEUE, POLICY_REPLACE, POLICY_ALLOW };

#define MAX_CONCURRENT_DEFAULT 4
#define MAX_CONCURRENT_LIMIT 64
/* The byte of the lock file that runs starting under allow take, briefly
 * and in turn, to read the history and create their folder (past every
 * slot's byte). */
#define RUN_LOCK_DOOR 4096

/* The job's concurrency setting (forbid unless it says queue, replace or
 * allow). */
enum policy run_policy(const struct job *j);
/* max_concurrent of a job under allow (1..MAX_CONCURRENT_LIMIT). */
int run_max_concurrent(const struct job *j);
/* The job's run in progress or last ended — the newest run that is not
 * Queued — into active ("" when none), and how many are queued (counted
 * up to limit). */
void run_active(int jfd, char active[RUN_ID_LEN + 1], int *queued, int limit);
/* How many runs come after the active one: a bound of the queue's length
 * that costs a few record reads however long the queue is. */
int run_waiting_bound(int jfd);
/* A start while a run holds the lock, under queue or replace: a Queued
 * run (durable; 202), -EXFULL past queue_max, -EALREADY for a tick
 * already queued or run. replace aborts the run in progress and the
 * queued ones first. */
int run_queue(struct runner *rn, struct job *j, const char *trigger, const char *arguments,
	      int64_t occurrence, char id[RUN_ID_LEN + 1], char *err, size_t errsz);
/* Aborts queued run id of the job (NULL: every one) without starting it;
 * out: the newest aborted. 0, or -ESRCH when there was none. */
int run_abort_queued(struct runner *rn, int jfd, const char *name, const char *id,
		     const char *user, char out[RUN_ID_LEN + 1]);
/* Starts the oldest queued run of job name when its lock is free. */
void run_pump(struct runner *rn, const char *name);
/* run_pump for every job whose newest run is Queued. */
void run_pump_all(struct runner *rn);

/* Under allow, with slot held: a record that says it runs in the slot is
 * a run whose host went away — it becomes Aborted. */
void run_reap_slot(struct runner *rn, int jfd, const char *name, int slot);

/* Looks for abort markers of live runs (a 1 s timer of the runner). */
void run_on_abort_poll(uv_timer_t *t);

#endif
