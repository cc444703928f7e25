/*
 * process: starting a job's process — by the spawn helper, else by the
 * host — with a clone of CLONE_VM | CLONE_VFORK (what glibc's posix_spawn
 * does, without its signals 32/33 left ignored in the child), so the loop
 * is not blocked for a time that grows with the host's memory as fork()
 * would (docs/DECISIONS.md). Into a cgroup, clone3 with CLONE_INTO_CGROUP
 * instead: a copy-on-write child that execs at once. The child
 * is the leader of a new session and process group, has default signal
 * dispositions and an empty mask, stdin on /dev/null, stdout and stderr on
 * the given fds.
 */
#ifndef WEBJOBS_PROCESS_H
#define WEBJOBS_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct process_req {
	const char *program; /* a path, or a name looked up in PATH */
	char *const *argv;
	char *const *envp;
	const char *cwd;
	int out_fd, err_fd;  /* write ends; the caller closes them after */
	int cgroup_fd;       /* start inside this cgroup v2 folder (-1: none) */
	/* a file to hold "PID START pid_tail" of the process (NULL: none),
	 * written by the process itself before its exec (src/clone.c) */
	const char *pid_file, *pid_tail;
	/* who the process is, for the subreaper's sweep (src/tree.h) */
	const char *type, *name, *run_id;
	/* not started before this CLOCK_MONOTONIC time, in ns (0: at once;
	 * process_hold_until): a tick's runs accepted ahead of their second
	 * (docs/DECISIONS.md, "Schedule fire latency: a tick's runs are one
	 * batch"). The monotonic clock, which the helper sleeps on and the
	 * host reads: a wall clock set back meanwhile cannot make the host
	 * believe held a spawn the helper has made. */
	int64_t not_before;
};

#define PROCESS_HOLD_MAX_NS (1000 * 1000 * 1000ll)

/* The CLOCK_REALTIME and CLOCK_MONOTONIC times, in ns. */
int64_t process_realtime_ns(void);
int64_t process_monotonic_ns(void);
/* The not_before of a process to start at wall-clock time realtime (ns):
 * 0 when that is past, else the monotonic time it is PROCESS_HOLD_MAX_NS
 * from now at most. */
int64_t process_hold_until(int64_t realtime);

/* The user jobs run as: set once at start-up from --run-as. */
void process_set_user(int uid, int gid);
/* -1 when jobs run as the host's own user. */
int process_user_uid(void);

/* 1 when the jobs' user may reach path: search permission on every folder
 * of it that exists (1 when jobs run as the host). Else 0 with the first
 * folder it may not enter in bad. */
int process_user_can_reach(const char *path, char *bad, size_t size);
int process_user_gid(void);

/* The path program runs from (itself with a slash, else found in PATH):
 * 0, or ENOENT. */
int process_resolve(const char *program, char *out, size_t size);
/* clone3 with CLONE_VFORK (and CLONE_INTO_CGROUP when r has a cgroup;
 * CLONE_PARENT when parent: the child is the caller's parent's), then the
 * job's exec: 0, or the errno of what failed (*pid is then the child that
 * failed to exec, to be reaped by its parent, or 0). *start is the
 * child's start time as process_start_time would read it, when it could
 * be told without /proc (almost always), else -1. */
int process_clone_exec(const struct process_req *r, int parent, pid_t *pid, int64_t *start);
/* The caller's signal dispositions will not change any more (the spawn
 * helper, once set up): its spawns reset only the signals not at their
 * default then (SIG_IGN survives an exec), not all 64 — 12 µs a spawn. */
void process_signals_settled(void);
/* The caller's descriptor 0 is /dev/null and stays so (the spawn helper):
 * its spawns' stdin is that one, not /dev/null opened again. */
void process_stdin_is_null(void);

/* Starts the process. Returns 0 with *pid, or a negative errno with a
 * one-line reason naming the program in err (exec failures included).
 * *start: its start time (process_start_time), or -1 when the spawn could
 * not tell it (the caller reads it then). */
int process_spawn(const struct process_req *r, pid_t *pid, int64_t *start, char *err,
		  size_t errsz);

/* The environment of a job (docs/API.md, "The job's process"): the host's, minus its credentials
 * and minus every variable that adds (NAME=value strings, NULL-ended)
 * names or that belongs to another job, plus adds. Returns a new
 * NULL-terminated array for process_env_free. */
char **process_env(char *const *adds);
void process_env_free(char **env);

/* What a job's own variables say (docs/API.md, "The job's process"). */
struct job_env {
	const char *name;
	int continuous;
	const char *path;          /* WEBJOBS_PATH */
	const char *home;          /* the home (for WEBJOBS_DATA_PATH, WEBROOT_PATH) */
	const char *data_rel;      /* data/jobs/{type} */
	const char *run_id;        /* "" for continuous jobs */
	const char *arguments;     /* "" when none */
	const char *shutdown_file;
	int port;                  /* WEBJOBS_PORT, continuous only */
	int attempt;               /* WEBJOBS_RUN_ATTEMPT, 0: not set */
};

/* process_env with the job's variables. */
char **process_job_env(const struct job_env *e);

/* A free TCP port on the loopback interface (for WEBJOBS_PORT), or 0:
 * never one given before and not yet released (loop thread only). */
int process_free_port(void);
/* The port's job is over: it may be given again. */
void process_port_release(int port);

/* process_spawn, but a spawn the helper takes is only sent (1): its
 * result is process_spawn_result's, in the order sent — for a burst of
 * spawns (a drain of the event queue) that does not wait for each.
 * Otherwise as process_spawn (0 with *pid, or a negative errno). */
int process_spawn_send(const struct process_req *r, pid_t *pid, int64_t *start, char *err,
		       size_t errsz);
/* The result of the oldest spawn sent, as process_spawn's; r gives its
 * descriptors (should the helper have failed, the host spawns it).
 * Without wait, -EAGAIN while the helper has not answered yet. */
int process_spawn_result(const struct process_req *r, int wait, pid_t *pid, int64_t *start,
			 char *err, size_t errsz);

/* The state letter of a process (field 3 of /proc/PID/stat: 'R', 'S',
 * 'Z'...), or 0 when it cannot be read. */
char process_state(pid_t pid);

/* The start time of a process (field 22 of /proc/PID/stat), or -1. Used
 * with the pid to tell a process from a later one with a recycled pid. */
int64_t process_start_time(pid_t pid);

/* CPU time (ticks) of every process whose process group is pgid, children
 * they reaped included; -1 when none is left. */
int64_t process_group_cpu(pid_t pgid);

/* "SIGKILL" for SIGKILL, "SIG37" for unnamed ones. */
void process_signal_name(int sig, char *buf, size_t size);

#endif
