/*
 * child: the loop side of a job process — pipes, reaping, grace timer.
 */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evq.h"
#include "fence.h"
#include "spawner.h"
#include "tree.h"

#define PIPE_GRACE_MS 5000

struct child {
	uv_loop_t *loop;
	struct child_ops ops;
	void *arg;
	struct joblog *log;
	pid_t pid;
	int64_t start_time;
	uv_pipe_t pipe[2];
	uv_timer_t grace;
	int pipe_open[2];
	int pipe_grown[2];     /* made 1 MiB (a chatty job) */
	int exited, wstatus, done, freed;
	int handles;
	struct tree_cg *cg;    /* its cgroup, in the cgroup mode */
	/* Sent to the spawn helper, its answer not read yet (pid 0): the
	 * pipes' write ends, who it is (for tree_track), a signal asked. */
	int pending, wfd[2], pending_sig;
	char *ident[3];
	int64_t not_before; /* the helper holds the spawn until (process_req) */
};

pid_t child_pid(const struct child *c) { return c->pid; }
int64_t child_start_time(const struct child *c) { return c->start_time; }
int child_exited(const struct child *c) { return c->exited; }

static void on_closed(uv_handle_t *h)
{
	struct child *c = h->data;

	if (--c->handles == 0)
		free(c);
}

static void close_handle(struct child *c, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, on_closed);
}

static void maybe_done(struct child *c)
{
	if (c->done || !c->exited || c->pipe_open[0] || c->pipe_open[1])
		return;
	/* In a cgroup, over means empty: the last descendant is gone. */
	if (c->cg && tree_cg_populated(c->cg))
		return;
	c->done = 1;
	uv_timer_stop(&c->grace);
	if (!c->freed)
		c->ops.done(c->arg, c->wstatus);
}

static void end_pipe(struct child *c, int k, int cut_off)
{
	if (!c->pipe_open[k])
		return;
	c->pipe_open[k] = 0;
	uv_read_stop((uv_stream_t *)&c->pipe[k]);
	if (!c->freed) {
		if (cut_off)
			joblog_sys(c->log, 1, "Output kept open by a process that left the job's process group; closed");
		joblog_end(c->log, (enum joblog_stream)k);
	}
	close_handle(c, (uv_handle_t *)&c->pipe[k]);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	/* One slab for every pipe: the loop consumes each read at once. */
	static char slab[256 * 1024];

	(void)h;
	(void)hint;
	*buf = uv_buf_init(slab, sizeof(slab));
}

static void collect_until(const struct child *c);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct child *c = s->data;
	int k = s == (uv_stream_t *)&c->pipe[1];

	/* Its answer first (it ran, so the helper has sent it): the log
	 * says Running before the job's first line. */
	collect_until(c);
	if (n > 0) {
		uv_os_fd_t fd;

		/* A read that filled a default pipe (64 KiB): a chatty job,
		 * given a larger pipe for fewer wake-ups. Quiet ones (most)
		 * never pay for the call. */
		if (n >= 64 * 1024 && !c->pipe_grown[k] && uv_fileno((uv_handle_t *)s, &fd) == 0) {
			c->pipe_grown[k] = 1;
			fcntl(fd, F_SETPIPE_SZ, 1 << 20);
		}
		if (c->freed)
			return;
		joblog_output(c->log, (enum joblog_stream)k, buf->base, (size_t)n);
		if (c->ops.output)
			c->ops.output(c->arg);
		return;
	}
	if (n < 0) {
		end_pipe(c, k, 0);
		maybe_done(c);
	}
}

static void on_grace(uv_timer_t *t)
{
	struct child *c = t->data;

	end_pipe(c, 0, 1);
	end_pipe(c, 1, 1);
	maybe_done(c);
}

/* Reaping: SIGCHLD (tree.c's handle) plans it, and waitpid(-1) takes
 * every child that ended — a job's leader, an orphan the subreaper got,
 * the spawn helper — a few ms' worth per turn of the loop: 1,000 jobs
 * that exit at once (a restart storm) must not hold the loop for their
 * 1,000 reaps in one turn (docs/DECISIONS.md, "A restart storm"): they
 * share the turn's time for work that can wait (evq_turn_until). A pid
 * is found in tree.c's table of tracked leaders (tree_owner). No
 * descriptor per child: a pidfd cost each spawn some nine system calls
 * (docs/DECISIONS.md, "The cost of a scheduled run"). */
static struct {
	uv_idle_t idle;
	int init;
} rq;

static void reaped(struct child *c, int st)
{
	c->exited = 1;
	c->wstatus = st;
	/* The leader is gone: nothing else of its tree may outlive it. */
	if (c->cg)
		tree_cg_kill(c->cg);
	else
		kill(-c->pid, SIGKILL);
	tree_leader_exited(c->pid);
	uv_timer_start(&c->grace, on_grace, PIPE_GRACE_MS, 0);
	maybe_done(c);
}

static void collect_all(void);
static void collect_ready(void);
static int collect_one(int wait);
static int owed(void);

static void on_reap(uv_idle_t *h)
{
	uint64_t until = evq_turn_until();
	int st;

	for (int k = 0; k == 0 || uv_hrtime() < until; k++) {
		pid_t pid = waitpid(-1, &st, WNOHANG);
		struct child *c;

		if (pid <= 0) {
			uv_idle_stop(h); /* none left that ended */
			return;
		}
		/* Unknown: an orphan's, the helper's — or a spawn's whose
		 * answer is still to be read (the answers come in order:
		 * read until it is known, or none is owed). */
		if (!(c = tree_owner(pid)) && owed()) {
			while (!(c = tree_owner(pid)) && owed())
				collect_one(1);
			collect_ready();
		}
		if (c)
			reaped(c, st);
		else
			spawner_reaped(pid); /* else an orphan: nothing more to do */
	}
	/* Over budget: the rest at the next turn (the idle stays on). */
}

static void on_sigchld(void)
{
	if (rq.init)
		uv_idle_start(&rq.idle, on_reap);
}

/* cgroup.events changed: the last process may have gone. */
static void on_cg_event(void *arg)
{
	maybe_done(arg);
}

/* Spawns a drain's actions sent to the helper (src/spawner.c keeps at
 * most 32 with it, the rest queued): the helper clones while the host goes
 * on with the next one. A run's answer is read at the end of the drain
 * that sent it, the loop waiting there (one turn for a burst of runs); a
 * continuous job's whenever it comes, the helper's socket polled by the
 * loop, so that a restart storm's spawns never hold up the API
 * (child_ops.answer_later; docs/DECISIONS.md, "The cost of a scheduled
 * run", "Answers as they come, for continuous jobs"). Oldest first, as the
 * helper answers. A child's answer is read before its output, and before
 * a pid nobody knows is taken for an orphan's. */

static struct {
	struct child **v;
	size_t head, n, cap;
	size_t waited;  /* of n, those read at the drain's end (answer_later 0) */
	int hooked;
	uv_poll_t poll; /* on the helper's socket while answers are owed */
	int poll_init;  /* 1: initialised (2: tried and failed, 3: closed) */
	int poll_fd;    /* the socket it polls, -1 once given up */
	int polling;
	int hold;       /* child_hold_answers */
	uv_timer_t wake; /* the read of answers the helper holds (held()) */
	int wake_init;
} pend;

/* The leader is known: tracked, watched, found by the reaper. */
static void track(struct child *c, const char *type, const char *name, const char *run_id)
{
	if (c->start_time < 0)
		c->start_time = process_start_time(c->pid);
	fence_track(c->pid);
	if (tree_track(c->pid, c, type, name, run_id) < 0) {
		/* No room to find it by pid: this one is reaped by waiting. */
		kill(-c->pid, SIGKILL);
		waitpid(c->pid, &c->wstatus, 0);
		reaped(c, c->wstatus);
	}
}

static struct {
	void (*fn)(void *);
	void *arg;
} room;

size_t child_spawn_room(void)
{
	return pend.n < SPAWNER_MAX_OUT ? SPAWNER_MAX_OUT - pend.n : 0;
}

static struct {
	void (*fn)(void *);
	void *arg;
} answered;

size_t child_answers_owed(void)
{
	return pend.n;
}

void child_on_answered(void (*fn)(void *), void *arg)
{
	answered.fn = fn;
	answered.arg = arg;
}

void child_on_room(void (*fn)(void *), void *arg)
{
	room.fn = fn;
	room.arg = arg;
}

/* Reads the answer to the oldest spawn sent and tells its owner: 1, or 0
 * when it has not come and wait is 0. */
static int collect_one(int wait)
{
	struct child *c = pend.v[pend.head];
	struct process_req fds = { .out_fd = c->wfd[0], .err_fd = c->wfd[1],
				   .cgroup_fd = c->cg ? tree_cg_fd(c->cg) : -1 };
	char err[512];
	int rc = process_spawn_result(&fds, wait, &c->pid, &c->start_time, err, sizeof(err));

	if (rc == -EAGAIN)
		return 0;
	pend.head = (pend.head + 1) % pend.cap;
	pend.n--;
	if (!c->ops.answer_later)
		pend.waited--;
	close(c->wfd[0]);
	close(c->wfd[1]);
	c->pending = 0;
	if (rc == 0 && c->freed) {
		/* Abandoned meanwhile: ended at once; the reaper reaps it. */
		if (c->cg)
			tree_cg_kill(c->cg);
		kill(-c->pid, SIGKILL);
	} else if (rc == 0) {
		track(c, c->ident[0], c->ident[1], c->ident[2]);
		if (c->pending_sig && !c->exited)
			child_kill(c, c->pending_sig);
		c->ops.started(c->arg, c, NULL);
	} else {
		/* Never ran: over once its pipes are at their end (no writer
		 * is left), as a process that exited 127. */
		c->pid = 0;
		c->exited = 1;
		c->wstatus = 127 << 8;
		if (!c->freed)
			c->ops.started(c->arg, c, err);
		uv_timer_start(&c->grace, on_grace, PIPE_GRACE_MS, 0);
		maybe_done(c);
	}
	for (int k = 0; k < 3; k++)
		free(c->ident[k]);
	if (c->freed) {
		tree_cg_free(c->cg);
		c->cg = NULL;
	}
	if (--c->handles == 0)
		free(c);
	if (room.fn)
		room.fn(room.arg);
	if (!pend.n && answered.fn)
		answered.fn(answered.arg);
	return 1;
}

/* The oldest spawn owed is held by the helper until its time (a tick's
 * runs accepted ahead of their second): none of those owed has run yet,
 * so a pid nobody knows is no spawn's, and nothing waits for their
 * answers before that time — the loop goes on meanwhile. */
static int held(void)
{
	return pend.n && pend.v[pend.head]->not_before > process_monotonic_ns();
}

static int owed(void)
{
	return pend.n > 0 && !held();
}

static void poll_stop(void)
{
	if (pend.polling)
		uv_poll_stop(&pend.poll);
	pend.polling = 0;
}

static void on_answers(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)status;
	(void)events;
	collect_ready();
}

/* The answers already there; the loop polls for the rest. */
static void collect_ready(void)
{
	while (pend.n && collect_one(0))
		;
	if (!pend.n) {
		poll_stop();
		tree_spawns_answered();
		return;
	}
	if (!pend.polling && pend.poll_init == 1 && pend.poll_fd >= 0 &&
	    spawner_fd() == pend.poll_fd &&
	    uv_poll_start(&pend.poll, UV_READABLE, on_answers) == 0)
		pend.polling = 1;
	if (!pend.polling)
		collect_all(); /* no poll: wait for them */
}

static void collect_all(void)
{
	while (pend.n)
		collect_one(1);
	poll_stop();
	tree_spawns_answered();
}

static void collect_until(const struct child *c)
{
	while (c->pending && pend.n)
		collect_one(1);
}

/* The helper is given up (its socket is about to close): the poll goes
 * now, while its descriptor is still the socket — closed later, libuv's
 * removal from epoll could hit a descriptor that took the number. */
static void on_spawner_stop(void)
{
	poll_stop();
	if (pend.poll_init == 1)
		uv_close((uv_handle_t *)&pend.poll, NULL);
	pend.poll_init = 3; /* closed: the helper is not started again */
	pend.poll_fd = -1;
}

static void collect(void *arg);

static void on_wake(uv_timer_t *t)
{
	(void)t;
	collect(NULL);
}

/* The drain's end: the answers it waits for, then those already there;
 * those the helper holds, from their time on (the wake timer). */
static void collect(void *arg)
{
	int64_t left;

	(void)arg;
	if (pend.hold) {
		while (pend.n && collect_one(0))
			;
		return;
	}
	while (pend.waited && !held())
		collect_one(1);
	if (pend.waited && pend.wake_init) {
		left = pend.v[pend.head]->not_before - process_monotonic_ns();
		uv_timer_start(&pend.wake, on_wake, left > 0 ? (uint64_t)(left + 999999) / 1000000 : 0,
			       0);
		return;
	}
	collect_ready();
}

void child_hold_answers(int on)
{
	pend.hold = on;
	/* Those there now are read; should no drain follow to wait for the
	 * rest, the loop polls for them. */
	if (!on && pend.n)
		collect_ready();
}

/* Room for one more spawn sent (and the drain's hook that reads the
 * answers): 1, or 0 when there is none (the spawn waits for its answer). */
static int pend_ready(uv_loop_t *loop)
{
	if (!pend.hooked) {
		if (evq_on_drained(collect, NULL) < 0)
			return 0;
		pend.hooked = 1;
	}
	if (!pend.wake_init && uv_timer_init(loop, &pend.wake) == 0) {
		uv_unref((uv_handle_t *)&pend.wake);
		pend.wake_init = 1;
	}
	if (!pend.poll_init && spawner_fd() >= 0) {
		pend.poll_init = 2;
		if (uv_poll_init(loop, &pend.poll, spawner_fd()) == 0) {
			pend.poll_init = 1;
			pend.poll_fd = spawner_fd();
			spawner_on_stop(on_spawner_stop);
		}
	}
	if (pend.n == pend.cap) {
		size_t cap = pend.cap ? pend.cap * 2 : 64;
		struct child **v = malloc(cap * sizeof(*v));

		if (!v)
			return 0;
		for (size_t i = 0; i < pend.n; i++)
			v[i] = pend.v[(pend.head + i) % pend.cap];
		free(pend.v);
		pend.v = v;
		pend.head = 0;
		pend.cap = cap;
	}
	return 1;
}

/* Starts the process: sent to the helper when the caller takes the
 * answer later (ops->started) and a drain is under way, else at once.
 * 1 when sent, 0 when started, a negative errno with err. */
static int start(struct child *c, struct process_req *req, const struct child_ops *ops,
		 int out_w, int err_w, char *err, size_t errsz)
{
	int rc;

	if (!ops->started || !evq_draining() || !pend_ready(c->loop)) {
		/* Answers come in order: the ones waiting first, so that this
		 * spawn can wait for its own through the helper too. */
		collect_all();
		return process_spawn(req, &c->pid, &c->start_time, err, errsz);
	}
	rc = process_spawn_send(req, &c->pid, &c->start_time, err, errsz);
	if (rc != 1)
		return rc;
	c->pending = 1;
	c->not_before = req->not_before;
	c->wfd[0] = out_w;
	c->wfd[1] = err_w;
	c->ident[0] = strdup(req->type ? req->type : "");
	c->ident[1] = strdup(req->name ? req->name : "");
	c->ident[2] = strdup(req->run_id ? req->run_id : "");
	c->handles++; /* held until the answer is read */
	pend.v[(pend.head + pend.n) % pend.cap] = c;
	pend.n++;
	if (!ops->answer_later)
		pend.waited++;
	return 1;
}

struct child *child_spawn(uv_loop_t *loop, struct process_req *req,
			  struct joblog *log, const struct child_ops *ops, void *arg,
			  char *err, size_t errsz)
{
	struct child *c = calloc(1, sizeof(*c));
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, rc;

	if (!c) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errsz, "cannot make pipes: %s", strerror(errno));
		goto fail;
	}
	req->out_fd = out[1];
	req->err_fd = errp[1];
	req->cgroup_fd = -1;
	if (tree_uses_cgroups()) {
		if (!(c->cg = tree_cg_new())) {
			snprintf(err, errsz, "cannot make the job's cgroup: %s", strerror(errno));
			goto fail;
		}
		req->cgroup_fd = tree_cg_fd(c->cg);
	}
	c->loop = loop;
	c->ops = *ops;
	c->arg = arg;
	c->log = log;
	c->handles = 1;
	rc = start(c, req, ops, out[1], errp[1], err, errsz);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		close(out[1]);
		close(errp[1]);
	}
	out[1] = errp[1] = -1;
	uv_timer_init(loop, &c->grace);
	c->grace.data = c;
	for (int k = 0; k < 2; k++) {
		int fd = k ? errp[0] : out[0];

		uv_pipe_init(loop, &c->pipe[k], 0);
		c->pipe[k].data = c;
		c->handles++;
		uv_pipe_open(&c->pipe[k], fd);
		c->pipe_open[k] = 1;
		uv_read_start((uv_stream_t *)&c->pipe[k], on_alloc, on_read);
	}
	if (c->cg)
		tree_cg_watch(c->cg, on_cg_event, c);
	if (!rq.init) {
		/* Not unref'd: a reap still to do keeps the loop alive. */
		uv_idle_init(loop, &rq.idle);
		rq.init = 1;
		tree_on_sigchld(on_sigchld);
		tree_on_owed(owed);
	}
	if (!c->pending) {
		track(c, req->type, req->name, req->run_id);
		if (ops->started)
			ops->started(arg, c, NULL);
	}
	return c;
fail:
	for (int k = 0; k < 2; k++) {
		if (out[k] >= 0)
			close(out[k]);
		if (errp[k] >= 0)
			close(errp[k]);
	}
	tree_cg_free(c->cg);
	free(c);
	return NULL;
}

int64_t child_cpu(const struct child *c)
{
	if (!c->pid)
		return -1;
	return c->cg ? tree_cg_cpu(c->cg) : process_group_cpu(c->pid);
}

void child_kill(struct child *c, int sig)
{
	if (!c)
		return;
	if (c->pending) {
		/* Its pid is not known yet: sent once it is. */
		if (!c->pending_sig || sig == SIGKILL)
			c->pending_sig = sig;
		return;
	}
	if (!c->pid)
		return;
	if (c->cg && sig == SIGKILL)
		tree_cg_kill(c->cg);
	else if (!c->exited)
		kill(-c->pid, sig);
}

void child_free(struct child *c)
{
	if (!c)
		return;
	c->freed = 1;
	if (c->pending) {
		/* Its answer is still to come: collect_one ends it. */
	} else if (!c->exited) {
		/* Abandoned while alive: kill it and reap it here. */
		kill(-c->pid, SIGKILL);
		tree_cg_kill(c->cg);
		waitpid(c->pid, NULL, 0);
		c->exited = 1;
		tree_leader_exited(c->pid);
	}
	if (!c->pending) {
		tree_cg_free(c->cg);
		c->cg = NULL;
		tree_untrack(c->pid, c);
		fence_untrack(c->pid);
	}
	for (int k = 0; k < 2; k++)
		if (c->pipe_open[k]) {
			c->pipe_open[k] = 0;
			close_handle(c, (uv_handle_t *)&c->pipe[k]);
		}
	close_handle(c, (uv_handle_t *)&c->grace);
}

void child_close(void)
{
	collect_all();
	if (pend.hooked)
		evq_off_drained(collect);
	pend.hooked = 0;
	if (pend.poll_init == 1) {
		spawner_on_stop(NULL);
		uv_close((uv_handle_t *)&pend.poll, NULL);
	}
	pend.poll_init = 0;
	pend.poll_fd = -1;
	if (pend.wake_init)
		uv_close((uv_handle_t *)&pend.wake, NULL);
	pend.wake_init = 0;
	free(pend.v);
	pend.v = NULL;
	pend.head = pend.n = pend.cap = pend.waited = 0;
	if (rq.init) {
		tree_on_sigchld(NULL);
		tree_on_owed(NULL);
		uv_close((uv_handle_t *)&rq.idle, NULL);
	}
	rq.init = 0;
}
