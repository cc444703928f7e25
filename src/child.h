/*
 * child: one running job process as the loop sees it — started with
 * process_spawn, its stdout and stderr read from two pipes, its exit seen
 * at SIGCHLD (waitpid(-1) finds it by pid). Shared by triggered runs and
 * continuous jobs.
 *
 * The child is done when both have happened (tmux job.c's rule): the
 * leader was reaped AND both pipes reached end-of-file. When the leader
 * exits, the rest of its process group is killed, so nothing outlives it;
 * a process that left the group and holds the pipes open is cut off after
 * a grace period.
 */
#ifndef WEBJOBS_CHILD_H
#define WEBJOBS_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "joblog.h"
#include "process.h"

struct child;

struct child_ops {
	/* Output arrived (may be NULL): the bytes already went to the log. */
	void (*output)(void *arg);
	/* Reaped and both streams ended: wstatus as from waitpid. */
	void (*done)(void *arg, int wstatus);
	/* May be NULL. When set, a spawn made during a drain of the event
	 * queue is only sent to the spawn helper, and this comes with its
	 * result at the drain's end (else at once, from child_spawn): err
	 * NULL, started, child_pid(c) and child_start_time(c) known (c is
	 * the child child_spawn returns, or is about to); or why it could
	 * not start, and done follows (as an exit with 127). Until then
	 * child_pid is 0 and a child_kill waits. */
	void (*started)(void *arg, struct child *c, const char *err);
	/* With started: 0, the answer is read at the end of the drain that
	 * sent the spawn (the loop waits for it there: one turn for a burst
	 * of runs); 1, whenever it comes (the loop polls the helper's socket,
	 * never waiting: a restart storm's spawns do not hold up the API). */
	int answer_later;
};

/* Starts program/argv/envp/cwd of req (its fds are set here); its output
 * goes into log (not owned; it must outlive the child's done). Returns
 * NULL with a reason in err when the process could not start. */
struct child *child_spawn(uv_loop_t *loop, struct process_req *req,
			  struct joblog *log, const struct child_ops *ops, void *arg,
			  char *err, size_t errsz);

pid_t child_pid(const struct child *c);
/* The start time of the process (/proc), to recognise it after a crash. */
int64_t child_start_time(const struct child *c);
/* 1 once the leader was reaped. */
int child_exited(const struct child *c);
/* CPU time used by the child's processes so far (any unit: compared with
 * itself only), or -1. */
int64_t child_cpu(const struct child *c);
/* Sends sig to the child's process group while its leader lives. */
void child_kill(struct child *c, int sig);
/* Releases the child (after done, or to abandon it: the group is killed
 * and no callback comes any more). Memory goes when libuv closed all. */
void child_free(struct child *c);

/* How many more spawns the helper takes now (those sent beyond it wait
 * in a queue, holding their pipes): a caller that starts many at will
 * (the supervisor) starts that many, and again when fn(arg) says room
 * was made (one caller). */
size_t child_spawn_room(void);
/* How many spawns sent to the helper still owe their answer (> 0 while
 * a burst is being cloned), and the one caller told (fn(arg), from
 * inside the read of an answer: it should only plan its work) each time
 * the last of them is read: the end of a burst. */
size_t child_answers_owed(void);
void child_on_answered(void (*fn)(void *), void *arg);
void child_on_room(void (*fn)(void *), void *arg);

/* on: the end of a drain reads the answers of runs' spawns that are there
 * already and waits for none — the scheduler's tick sends a part's spawns
 * and accepts the next part while the helper clones; off (after the
 * tick): the next drain's end waits for all of them, as usual. */
void child_hold_answers(int on);

/* Closes the reap queue's handle when the host winds down (every child
 * has been reaped by then). */
void child_close(void);

#endif
