/*
 * clone: a job process made — the clone (CLONE_VFORK: the caller waits
 * for the exec) and the child's side before its exec: its own session,
 * default signals, its name in its pid file, the wait for its time
 * (process_req.not_before), its descriptors (process.h,
 * process_clone_exec).
 */
#define _GNU_SOURCE
#include "process.h"
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

/* linux/sched.h's CLONE_INTO_CGROUP (Linux 5.7), without the header's
 * clashes with glibc's sched.h. */
#define CLONE_INTO_CGROUP_FLAG 0x200000000ULL

/* The signals a spawn resets to their default: all of them, unless the
 * caller said its dispositions are settled (process_signals_settled). */
static struct {
	int settled;
	int stdin_null; /* the caller's own 0 is /dev/null: its children keep it */
	sigset_t set;
} not_default;

/* glibc keeps its own two signals (32 and 33) out of sigaction's reach;
 * ignored by whoever started the host, they would stay ignored in every
 * job: set to their default by the system call itself. Only the handler
 * is given (the rest of the kernel's struct zero, its layout aside). */
static void reserved_signals_default(void)
{
	struct {
		void *handler;
		unsigned long rest[4];
	} dfl = { NULL, { 0 } }; /* SIG_DFL */

	for (int sig = 32; sig <= 33; sig++)
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, (size_t)8);
}

void process_signals_settled(void)
{
	struct sigaction old;

	reserved_signals_default();
	sigemptyset(&not_default.set);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &old) == 0 &&
		    ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL))
			sigaddset(&not_default.set, sig);
	not_default.settled = 1;
}

void process_stdin_is_null(void)
{
	not_default.stdin_null = 1;
}

/* The clock /proc/PID/stat's start time (field 22) is read from, in its
 * unit: CLOCK_BOOTTIME in clock ticks. */
static int64_t boot_ticks(void)
{
	static long hz;
	struct timespec ts;

	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return hz > 0 ? ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec) / (1000000000 / hz) : -1;
}

static int64_t ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t process_realtime_ns(void)
{
	return ns_of(CLOCK_REALTIME);
}

int64_t process_monotonic_ns(void)
{
	return ns_of(CLOCK_MONOTONIC);
}

int64_t process_hold_until(int64_t realtime)
{
	int64_t left = realtime - process_realtime_ns();

	if (left <= 0)
		return 0;
	return process_monotonic_ns() + (left < PROCESS_HOLD_MAX_NS ? left : PROCESS_HOLD_MAX_NS);
}

/* Until r->not_before (PROCESS_HOLD_MAX_NS at most: a request is not
 * trusted further). */
static void hold(const struct process_req *r)
{
	int64_t until = r->not_before, now = until > 0 ? process_monotonic_ns() : 0;
	struct timespec ts;

	if (until <= now)
		return;
	if (until - now > PROCESS_HOLD_MAX_NS)
		until = now + PROCESS_HOLD_MAX_NS;
	ts.tv_sec = (time_t)(until / 1000000000);
	ts.tv_nsec = (long)(until % 1000000000);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* r's pid file names a process that runs: its pid and start time, then
 * r->pid_tail. The child writes it itself, before its exec, so that no
 * moment passes with a job process that the file does not name: a host
 * (and its helper) killed while a spawn was under way left the process
 * to run, unnamed (a leftover of the scale-out kill -9 torture); an exec
 * that fails blanks it again. Rewritten in place: a new file per spawn
 * cost a new inode, 76 % of the host's time in a restart storm on ext4
 * (docs/DECISIONS.md, "A restart storm"). The line is padded with spaces
 * to PID_LINE bytes, so that it always covers the one before and needs no
 * truncate (a call per run); a line cut short matches no live process
 * (pid and start time must both match). Only computation here: a
 * CLONE_VM child before its exec calls it. */
#define PID_LINE 96
static int pid_line(char text[PID_LINE], pid_t pid, int64_t start, const char *tail)
{
	char digits[2][24];
	long long v[2] = { pid, start };
	int n = 0, len[2];

	for (int k = 0; k < 2; k++) {
		unsigned long long u = v[k] < 0 ? 0 : (unsigned long long)v[k];

		len[k] = 0;
		do
			digits[k][len[k]++] = (char)('0' + u % 10);
		while ((u /= 10) && len[k] < 23);
	}
	for (int k = 0; k < 2; k++) {
		while (len[k])
			text[n++] = digits[k][--len[k]];
		text[n++] = ' ';
	}
	for (const char *t = tail ? tail : ""; *t; t++) {
		if (n >= PID_LINE - 1)
			return -1;
		text[n++] = *t;
	}
	while (n < PID_LINE - 1)
		text[n++] = ' ';
	text[PID_LINE - 1] = '\n';
	return 0;
}

/* The start time /proc gives the calling process (field 22 of its stat),
 * read with system calls and computation only; -1 when unreadable. */
static int64_t own_start_time(void)
{
	char buf[1024], *p = NULL;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), field = 2;
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	int64_t v = 0;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == ')')
			p = buf + i; /* the last: the name may hold one */
	for (; p && p < buf + n && field < 22; p++)
		if (*p == ' ')
			field++;
	if (!p || field != 22)
		return -1;
	for (; p < buf + n && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	return v;
}

/* The child's pid file written (see pid_line): its descriptor, kept to
 * blank the line should the exec fail, or -1 (no file asked, or it could
 * not be opened: the parent writes it after the exec). before: the
 * parent's boot_ticks() just before the clone; the kernel stamped the
 * start between it and now, so when both read the same tick that tick
 * is it, and /proc is not read. */
static int name_self(const struct process_req *r, int64_t before, int64_t *start)
{
	char text[PID_LINE];
	int64_t now = boot_ticks();
	int fd;

	*start = before >= 0 && now == before ? before : own_start_time();
	if (!r->pid_file || !*r->pid_file || *start < 0 ||
	    pid_line(text, getpid(), *start, r->pid_tail) < 0)
		return -1;
	fd = open(r->pid_file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0 && pwrite(fd, text, PID_LINE, 0) != PID_LINE) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* What the child of process_clone_exec needs, and tells (through shared
 * memory with CLONE_VM; with clone3 its own copy, told by the pipe). */
struct spawn_child {
	const struct process_req *r;
	const char *path;
	int64_t before; /* the parent's boot_ticks() before the clone */
	int err;        /* the errno of a failed exec */
	int named;      /* the child wrote its pid file */
	int64_t start;  /* its start time, when named */
};

/* The child side of process_clone_exec: only system calls and
 * computation, then exec. report: the pipe for a failure's errno, or -1
 * (v is the parent's memory). */
static void __attribute__((noreturn)) exec_child(struct spawn_child *v, int report)
{
	const struct process_req *r = v->r;
	sigset_t none;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int null, e, pid_fd;

	setsid();
	pid_fd = name_self(r, v->before, &v->start);
	v->named = pid_fd >= 0;
	/* A handled signal would be default after the exec anyway; one
	 * ignored would stay ignored; before the exec a handler must not run
	 * in a child that shares our memory. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP &&
		    (!not_default.settled || sigismember(&not_default.set, sig) == 1))
			sigaction(sig, &dfl, NULL);
	if (!not_default.settled)
		reserved_signals_default();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its stdin on /dev/null: the caller's own when that is it (the
	 * spawn helper's: two calls less a spawn), else opened — close-on-exec,
	 * its copy as 0 being the only one the job gets. */
	if (!not_default.stdin_null &&
	    ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || dup2(null, 0) < 0))
		goto fail;
	if (dup2(r->out_fd, 1) < 0 || dup2(r->err_fd, 2) < 0 || (r->cwd && chdir(r->cwd) < 0))
		goto fail;
	execve(v->path, r->argv, r->envp);
fail:
	e = errno;
	if (pid_fd >= 0) {
		char blank[PID_LINE];

		memset(blank, ' ', sizeof(blank));
		blank[PID_LINE - 1] = '\n';
		(void)!pwrite(pid_fd, blank, PID_LINE, 0);
	}
	if (report < 0)
		v->err = e; /* the parent's memory (CLONE_VM), read once we are gone */
	else
		(void)!write(report, &e, sizeof(e));
	_exit(127);
}

struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
		set_tid, set_tid_size, cgroup;
};

static int vm_child_main(void *arg)
{
	exec_child(arg, -1);
}

/* The pid file written by the parent, after the exec: when the child
 * could not (its folder is made by the first file made in it). */
static void record_pid(const struct process_req *r, pid_t pid, int64_t *start)
{
	char text[PID_LINE];
	int fd;

	if (*start < 0)
		*start = process_start_time(pid);
	if (pid_line(text, pid, *start, r->pid_tail) < 0)
		return;
	fd = open(r->pid_file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && errno == ENOENT && files_make_parent(r->pid_file) == 0)
		fd = open(r->pid_file, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0) {
		(void)!pwrite(fd, text, PID_LINE, 0);
		close(fd);
	}
}

static int clone_exec(const struct process_req *r, int parent, pid_t *pid, int64_t *start,
		      int *named)
{
	/* The CLONE_VM child's stack (the helper is one thread, one spawn at
	 * a time): no page tables copied, as posix_spawn does. */
	static char stack[64 * 1024] __attribute__((aligned(16)));
	struct clone_args_v2 args = { 0 };
	char path[4096];
	struct spawn_child v = { r, path, -1, 0, 0, -1 };
	int report[2], rc, e = 0;
	long child;

	*pid = 0;
	*start = -1;
	*named = 0;
	if ((rc = process_resolve(r->program, path, sizeof(path))) != 0)
		return rc;
	v.before = boot_ticks();
	if (r->cgroup_fd < 0) {
		/* With CLONE_PARENT the exit signal is the caller's own. The
		 * child shares our memory until its exec: a failure is told
		 * in v.err, no pipe needed; so is its start time. */
		child = clone(vm_child_main, stack + sizeof(stack),
			      CLONE_VM | CLONE_VFORK | (parent ? CLONE_PARENT : SIGCHLD), &v);
		if (child < 0)
			return errno;
		*pid = (pid_t)child;
		*start = v.start;
		*named = v.named;
		return v.err;
	}
	if (pipe2(report, O_CLOEXEC) < 0)
		return errno;
	args.flags = CLONE_VFORK | (parent ? CLONE_PARENT : 0) |
		     (r->cgroup_fd >= 0 ? CLONE_INTO_CGROUP_FLAG : 0);
	/* With CLONE_PARENT the exit signal is the caller's own (clone3
	 * refuses another): SIGCHLD, since the helper was forked. */
	args.exit_signal = parent ? 0 : SIGCHLD;
	args.cgroup = r->cgroup_fd >= 0 ? (uint64_t)r->cgroup_fd : 0;
	child = syscall(SYS_clone3, &args, sizeof(args));
	if (child == 0)
		exec_child(&v, report[1]);
	rc = child < 0 ? errno : 0;
	close(report[1]);
	if (child > 0) {
		*pid = (pid_t)child;
		if (read(report[0], &e, sizeof(e)) == (ssize_t)sizeof(e))
			rc = e;
	}
	close(report[0]);
	/* No memory shared with this child: the second reading comes after
	 * its exec. When both fall in one tick, that tick is its start time,
	 * and nobody needs to read /proc for it. The child's pid file is
	 * written again (what the child did is not known here). */
	if (*pid > 0 && v.before >= 0 && boot_ticks() == v.before)
		*start = v.before;
	return rc;
}

int process_clone_exec(const struct process_req *r, int parent, pid_t *pid, int64_t *start)
{
	sigset_t all, old;
	int rc, named;

	/* Before the clone: while a spawn is held no process of it exists,
	 * which the host relies on (child.c, held()). */
	hold(r);
	if (not_default.settled) {
		rc = clone_exec(r, parent, pid, start, &named);
	} else {
		/* Handlers of ours: none may run in the child before it has
		 * set them to their default (it then unblocks everything
		 * itself). */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = clone_exec(r, parent, pid, start, &named);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (rc == 0 && !named && r->pid_file && *r->pid_file)
		record_pid(r, *pid, start);
	return rc;
}

