/*
 * spawner: the spawn helper — a small process, forked by the host before
 * it opens anything much, that starts job processes for it. A spawn copies
 * the spawning process's descriptor table and the child closes it again
 * before exec: in the host that is some 7 descriptors per continuous job
 * (708 us a spawn with 7,000 open, 330 us with 10, measured here), and it
 * is what stalled restart storms. The helper holds four. The host sends
 * each request (program, argv, environment, folder, and over SCM_RIGHTS
 * the output pipes and the cgroup folder) on a SOCK_SEQPACKET socket; the
 * helper clones with CLONE_PARENT, so the job is the host's own child
 * (reaped by the host, watched through the host's pidfd, in the host's
 * subreaper tree), and answers with the pid or the exec's errno.
 * docs/DECISIONS.md, "The spawn helper".
 */
#ifndef WEBJOBS_SPAWNER_H
#define WEBJOBS_SPAWNER_H

#include <stdint.h>
#include <sys/types.h>

struct process_req;

/* Requests with the helper at once, unanswered; more wait in the host. */
#define SPAWNER_MAX_OUT 32

/* Forks the helper; 0, or a negative errno (jobs are then spawned by the
 * host itself). Called first thing in serve, before any thread. */
int spawner_start(void);
/* The helper's pid (0: none), which the subreaper's sweep leaves alone. */
pid_t spawner_pid(void);
/* Starts r through the helper: 0 with *pid (and *start, its start time
 * or -1, as process_clone_exec tells it), a positive errno from the
 * helper (the program could not be run), or a negative errno when the
 * helper cannot be used (the caller spawns by itself then). */
int spawner_spawn(const struct process_req *r, pid_t *pid, int64_t *start);
/* Sends r to the helper without waiting for its answer: 0, or a negative
 * errno when the helper cannot be used (the caller spawns by itself
 * then). The request is kept (its strings) until its answer is read. */
int spawner_send(const struct process_req *r);
/* The answer to the oldest request sent, as spawner_spawn's; when the
 * helper failed before it answered, the host spawns that request itself
 * with r's descriptors. program: the request's program, for messages.
 * Without wait, -EAGAIN (and nothing read) while the answer has not come. */
int spawner_receive(const struct process_req *r, int wait, pid_t *pid, int64_t *start,
		    char *program, size_t psize);
/* The socket the answers come on (readable: one is there), or -1. */
int spawner_fd(void);
/* fn is called before the socket is closed (the helper is given up). */
void spawner_on_stop(void (*fn)(void));
/* The reaper of the host's children reaped pid: when it was the helper
 * (killed), jobs are spawned by the host from now on. */
void spawner_reaped(pid_t pid);
/* Ends the helper (it also ends by itself when the host goes away). */
void spawner_stop(void);

#endif
