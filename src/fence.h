/*
 * fence: an instance that loses its shared home stops its jobs before
 * another instance can take their locks over (docs/SCALE-OUT.md, "Losing
 * the storage").
 */
#ifndef WEBJOBS_FENCE_H
#define WEBJOBS_FENCE_H

#include <sys/types.h>

/* Starts the probe of the home (a small durable write every second to
 * data/webjobs/alive/{instance}, in a thread of its own) and the watchdog:
 * when no probe has succeeded for after_s seconds, every tracked job
 * process group gets SIGKILL and fence_ok() turns 0; it turns 1 again once
 * a probe succeeds. Returns 0 or -errno (the file cannot be opened). */
int fence_start(int home_fd, const char *instance, int after_s);

/* 1 while the home answers (always 1 when fence_start was not called).
 * Lock-free: any thread. */
int fence_ok(void);

/* How many times the home came back after it was lost: a lock taken in
 * an earlier epoch may have been given to another instance meanwhile. */
unsigned fence_epoch(void);

/* The process groups of the job processes (their leaders' pids), as
 * child.c starts and reaps them. */
void fence_track(pid_t leader);
void fence_untrack(pid_t leader);

/* Stops both threads (at shutdown). */
void fence_stop(void);

#endif
