/*
 * supervisor_int: what supervisor.c and supervisor_files.c share — one
 * continuous job's machine (struct sv), its states and events, and the
 * files it holds in the job's data folder.
 */
#ifndef WEBJOBS_SUPERVISOR_INT_H
#define WEBJOBS_SUPERVISOR_INT_H

#include <uv.h>

#include "child.h"
#include "instances.h"
#include "joblog.h"
#include "launch.h"
#include "nametab.h"
#include "spawnq.h"
#include "supervisor.h"

#define INSTANCE_NAME_MAX (INSTANCE_ID_MAX + 8)

enum state { S_STOPPED, S_INACTIVE, S_STARTING, S_RUNNING, S_PENDING, S_STOPPING, S_COUNT };
enum event {
	E_START, E_STOP, E_EXIT, E_TIMER, E_CHANGED, E_DELETED, E_SHUTDOWN, E_READY, E_FAILED,
	E_STARTED, E_COUNT
};

struct sv {
	struct supervisor *s;
	struct sv *next;
	struct spawnq_node qn; /* in the spawn queue */
	char *name;
	enum state state;
	enum state shown;      /* the state status_{inst} says (S_COUNT: none yet) */
	int answer;            /* the spawn's answer: 1 started, -1 failed, 0 none */
	int deferred;          /* an event that came while STARTING, or -1 */
	int deleted;           /* the job is gone: free once down */
	struct launch l;       /* what the job was when it was started */
	int singleton;
	unsigned epoch;        /* fence_epoch() when the singleton lock was taken */
	char fail[600];        /* why the last start failed */
	/* life */
	struct child *child;
	uint64_t started_ms;
	int wstatus;
	uv_timer_t timer;
	uv_work_t work;
	int copy_rc;
	int status_fd, singleton_fd, dfd;
	int port;              /* WEBJOBS_PORT of its process, 0: none */
	struct joblog *log;
	struct nametab_node tn; /* in the supervisor's table by name */
};

struct supervisor {
	uv_loop_t *loop;
	struct supervisor_config c;
	struct sv *jobs;
	struct nametab byname; /* the jobs by name (a walk of the list: N^2 a start) */
	struct spawnq spawns;  /* jobs waiting for their spawn */
	int shutting;
	void (*done)(void *);
	void *done_arg;
};

/* ---- the job's files (supervisor_files.c) ---- */

/* Writes status_{inst} in place and the log's line of it. */
void sv_publish(struct sv *v, const char *status);
/* Opens the data folder (refusing one a delete marked: -ESTALE), the log
 * and this instance's status file. Returns 0 or a negative errno. */
int sv_open_files(struct sv *v);
/* Lets go of the data folder, its log and status files and the singleton
 * lock in it (no process of the job is left to write there). */
void sv_close_files(struct sv *v);
/* Takes the singleton lock when the job is one; 0 when another instance
 * holds it, or when the shared home is lost (src/fence.c: nothing starts
 * then). A lock taken before the home was lost is taken afresh. */
int sv_take_singleton(struct sv *v);
void sv_release_singleton(struct sv *v);

#endif
