/*
 * tree: every process a job starts, tracked to its last descendant, so no
 * process of a run or of a continuous job outlives it — one that calls
 * setsid(), double-forks or daemonizes included (docs/API.md, "The job's
 * process").
 *
 * Two modes, chosen once at start-up:
 *  - cgroup: each job process is started inside a cgroup v2 folder of its
 *    own (clone3 with CLONE_INTO_CGROUP, so not even its first instruction
 *    runs outside), stopped with cgroup.kill, and over only when
 *    cgroup.events says "populated 0". The folders are made beneath
 *    --cgroup DIR (in DIR/{instance}), or beneath the host's own cgroup when systemd delegated
 *    it (Delegate=yes; the host then moves itself into a leaf "host").
 *  - subreaper: elsewhere the host is a child subreaper
 *    (PR_SET_CHILD_SUBREAPER): descendants orphaned by a job are re-parented
 *    to the host, which ends them once the job process they came from is
 *    gone (their WEBJOBS_TYPE/NAME/RUN_ID say which one) and reaps them.
 */
#ifndef WEBJOBS_TREE_H
#define WEBJOBS_TREE_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

/* Chooses the mode. dir: --cgroup (NULL: delegated cgroup if any, else
 * subreaper); the job folders go into dir/instance. Ends what a host
 * killed with -9 left in the cgroups. Returns 0, or -1 with a reason in
 * err (a --cgroup that cannot be used). */
int tree_init(uv_loop_t *loop, const char *dir, const char *instance, char *err,
	      size_t errsz);

/* "cgroup DIR" or "subreaper", for the log. */
const char *tree_mode(void);

/* 1 in the cgroup mode. */
int tree_uses_cgroups(void);

/* The cgroup of one job process (cgroup mode). */
struct tree_cg;

/* Makes a new cgroup; NULL in the subreaper mode or on failure (errno). */
struct tree_cg *tree_cg_new(void);
/* Its folder's fd, for clone3's CLONE_INTO_CGROUP. */
int tree_cg_fd(const struct tree_cg *g);
/* Kills every process in it (cgroup.kill). */
void tree_cg_kill(struct tree_cg *g);
/* 1 while a process is in it; 0 once empty. */
int tree_cg_populated(const struct tree_cg *g);
/* CPU time used in it (microseconds), or -1. */
int64_t tree_cg_cpu(const struct tree_cg *g);
/* Calls fn(arg) when cgroup.events changes (once armed, until freed). */
int tree_cg_watch(struct tree_cg *g, void (*fn)(void *), void *arg);
/* Kills what is left, removes the folder (at once or when empty), frees. */
void tree_cg_free(struct tree_cg *g);

/* The job processes being tracked, sorted by pid. A leader registers with
 * its owner (child.c's child, which the reaper finds by pid) and its
 * identity (the variables it was started with) and says when it exited;
 * in subreaper mode, orphans whose identity matches no live leader are
 * killed and reaped. tree_track: 0, or -ENOMEM (not tracked). */
int tree_track(pid_t leader, void *owner, const char *type, const char *name,
	       const char *run_id);
/* The owner of leader while it is tracked and has not exited, or NULL. */
void *tree_owner(pid_t leader);
void tree_leader_exited(pid_t leader);
/* Forgets leader, when owner is still the one tracked under its pid (a
 * pid reused by a newer leader stays). */
void tree_untrack(pid_t leader, const void *owner);

/* Looks at the host's children now: reaps the dead, kills orphans of jobs
 * that are gone. Also run on every SIGCHLD. */
void tree_sweep(void);
/* The last sweep, at shutdown once every job process has ended: every
 * child but the spawn helper is killed and reaped, and so are the
 * children each hands to the host in turn, for at most 3 s (blocking). */
void tree_sweep_final(void);

/* fn is called at every SIGCHLD, before the sweep is planned: the reaper
 * of the job processes (child.c). */
void tree_on_sigchld(void (*fn)(void));
/* owed says 1 while spawns' answers are still unread (child.c): a child
 * not tracked may be one of those, so the sweep leaves such children
 * alone until tree_spawns_answered, which sweeps again if it did. */
void tree_on_owed(int (*owed)(void));
void tree_spawns_answered(void);

/* Stops the SIGCHLD handle (shutdown). */
void tree_close(void);

#endif
