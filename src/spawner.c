/*
 * spawner: the spawn helper (spawner.h).
 *
 * A request is one SOCK_SEQPACKET message: a head (counts), then NUL-
 * terminated strings — the program, the folder ("" for none), the pid
 * file ("" for none) and its tail, argv, the environment — with the
 * output and error pipes' write ends (and the cgroup folder) attached by
 * SCM_RIGHTS. The answer: the errno of the
 * exec (0), the pid and its start time, in the order of the requests. A
 * drain of the loop's event queue sends its spawns without waiting and
 * reads the answers at its end (child.c); elsewhere the host waits for
 * each.
 */
#define _GNU_SOURCE
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"
#include "process.h"

#define MSG_MAX (192 * 1024) /* a bigger request is spawned by the host itself */
#define MAX_STRINGS 8192

struct head {
	uint32_t argc, envc, nfds, has_cgroup;
	int64_t not_before;
};

struct answer {
	int32_t err, pid;
	int64_t start; /* the start time, or -1 */
};

static int sock = -1;
static void (*on_stop)(void);
static pid_t helper = 0;
static int helper_fd = -1; /* its pidfd: never a signal to a pid reused */

pid_t spawner_pid(void)
{
	return helper;
}

/* ---- the helper's side ---- */

/* The strings of a request into r (pointers into buf). -EINVAL when the
 * message is not one. */
static int parse(char *buf, size_t len, const struct head *h, char **argv, char **envp,
		 struct process_req *r)
{
	char *p = buf + sizeof(*h), *end = buf + len;
	char *s[4];
	size_t n = 0;

	if (h->argc == 0 || h->argc >= MAX_STRINGS || h->envc >= MAX_STRINGS)
		return -EINVAL;
	for (size_t i = 0; i < 4 + (size_t)h->argc + h->envc; i++) {
		char *z = memchr(p, '\0', (size_t)(end - p));

		if (!z)
			return -EINVAL;
		if (i < 4)
			s[i] = p;
		else if (i < 4 + h->argc)
			argv[n++] = p;
		else
			envp[i - 4 - h->argc] = p;
		p = z + 1;
	}
	argv[h->argc] = NULL;
	envp[h->envc] = NULL;
	r->program = s[0];
	r->cwd = s[1][0] ? s[1] : NULL;
	r->pid_file = s[2][0] ? s[2] : NULL;
	r->pid_tail = s[3];
	r->argv = argv;
	r->envp = envp;
	return 0;
}

static void serve_one(int fd, char *buf, char **argv, char **envp)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(3 * sizeof(int))];
	} c;
	struct iovec iov = { buf, MSG_MAX };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b,
			    .msg_controllen = sizeof(c.b) };
	struct process_req r = { .out_fd = -1, .err_fd = -1, .cgroup_fd = -1 };
	struct answer a = { EINVAL, 0, -1 };
	int fds[3] = { -1, -1, -1 }, nfds = 0;
	struct head h;
	ssize_t n;
	pid_t pid = 0;

	n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0)
		_exit(0); /* the host is gone */
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfds < 3;
			     i++)
				memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	if ((size_t)n > sizeof(h) && !(m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		memcpy(&h, buf, sizeof(h));
		if (h.nfds == (uint32_t)nfds && nfds >= 2 &&
		    parse(buf, (size_t)n, &h, argv, envp, &r) == 0) {
			r.out_fd = fds[0];
			r.err_fd = fds[1];
			r.cgroup_fd = h.has_cgroup && nfds == 3 ? fds[2] : -1;
			r.not_before = h.not_before;
			a.err = process_clone_exec(&r, 1, &pid, &a.start);
			a.pid = (int32_t)pid;
		}
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	while (send(fd, &a, sizeof(a), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void __attribute__((noreturn)) helper_main(int fd, pid_t host)
{
	static char buf[MSG_MAX];
	static char *argv[MAX_STRINGS + 1], *envp[MAX_STRINGS + 1];
	struct sigaction ign = { .sa_handler = SIG_IGN }, dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int null, rd;

	/* Gone with the host, whatever its end. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != host)
		_exit(0);
	prctl(PR_SET_NAME, "webjobs-spawn");
	/* Its descriptors: three on /dev/null (0 read-only: every job's
	 * stdin, process_stdin_is_null) and the socket as 3, nothing else
	 * (the socket is moved out of the way first). */
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	rd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || null < 0 || rd < 0 || dup2(rd, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0 || dup3(fd, 3, O_CLOEXEC) < 0)
		_exit(1);
	syscall(SYS_close_range, 4u, ~0u, 0u);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	/* A ^C at the terminal, or a SIGTERM to the host's process group
	 * (timeout(1), kill -TERM -PGID), is the host's to handle (it stops
	 * its jobs gracefully): not the end of the helper, which the host
	 * closes (and SIGKILLs, src/spawner.c spawner_stop) when it is done. */
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	process_signals_settled();
	process_stdin_is_null();
	for (;;)
		serve_one(3, buf, argv, envp);
}

/* ---- the host's side ---- */

int spawner_start(void)
{
	int sv[2];
	pid_t host = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(sv[1], host);
	}
	close(sv[1]);
	sock = sv[0];
	helper = pid;
	helper_fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (helper_fd >= 0)
		fcntl(helper_fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

/* The helper failed us: no more requests; it is killed and reaped. */
static void give_up(const char *why, int e)
{
	log_error("spawn helper: %s (%s); job processes are started by the host itself",
		  why, strerror(e));
	spawner_stop();
}

/* Waits until the socket is ready for events (the loop may have made it
 * non-blocking to poll it): 1, or 0 when it cannot tell. */
static int ready(short events)
{
	struct pollfd p = { .fd = sock, .events = events };
	int n;

	while ((n = poll(&p, 1, -1)) < 0 && errno == EINTR)
		;
	return n == 1;
}

/* Requests whose answers are still to be read, oldest first: each kept
 * whole, for the host to spawn itself should the helper fail before it
 * answers. The first `out` are sent; the rest wait for room (at most
 * SPAWNER_MAX_OUT unanswered with the helper, so that neither side's
 * socket buffer fills while the other waits, and no spawn waits on an
 * answer). */
struct entry {
	char *buf;
	size_t len;
	int fds[3], nfds;
	int unsent; /* could not be sent (too big): spawned here */
};

static struct {
	struct entry *v;
	size_t head, n, cap, out;
} sent;

static struct entry *at(size_t i)
{
	return &sent.v[(sent.head + i) % sent.cap];
}

static int sent_push(const struct entry *e)
{
	if (sent.n == sent.cap) {
		size_t cap = sent.cap ? sent.cap * 2 : 64;
		struct entry *v = malloc(cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < sent.n; i++)
			v[i] = *at(i);
		free(sent.v);
		sent.v = v;
		sent.head = 0;
		sent.cap = cap;
	}
	sent.v[(sent.head + sent.n) % sent.cap] = *e;
	sent.n++;
	return 0;
}

/* The request message of r (head and strings), newly allocated; NULL with
 * errno (EMSGSIZE: too big for the helper). */
static char *message(const struct process_req *r, size_t *out_len)
{
	struct head h = { 0, 0, r->cgroup_fd >= 0 ? 3 : 2, r->cgroup_fd >= 0, r->not_before };
	size_t len = sizeof(h);
	const char *lead[4] = { r->program, r->cwd ? r->cwd : "", r->pid_file ? r->pid_file : "",
				r->pid_tail ? r->pid_tail : "" };
	char *buf;

	while (r->argv[h.argc])
		h.argc++;
	while (r->envp[h.envc])
		h.envc++;
	for (int i = 0; i < 4; i++)
		len += strlen(lead[i]) + 1;
	for (uint32_t i = 0; i < h.argc; i++)
		len += strlen(r->argv[i]) + 1;
	for (uint32_t i = 0; i < h.envc; i++)
		len += strlen(r->envp[i]) + 1;
	if (len > MSG_MAX || h.argc >= MAX_STRINGS || h.envc >= MAX_STRINGS) {
		errno = EMSGSIZE;
		return NULL;
	}
	if (!(buf = malloc(len)))
		return NULL;
	memcpy(buf, &h, sizeof(h));
	len = sizeof(h);
	for (int i = 0; i < 4; i++)
		len += (size_t)(stpcpy(buf + len, lead[i]) - (buf + len)) + 1;
	for (uint32_t i = 0; i < h.argc; i++)
		len += (size_t)(stpcpy(buf + len, r->argv[i]) - (buf + len)) + 1;
	for (uint32_t i = 0; i < h.envc; i++)
		len += (size_t)(stpcpy(buf + len, r->envp[i]) - (buf + len)) + 1;
	*out_len = len;
	return buf;
}

/* Sends e: 0, or an errno (the socket is full only while the helper
 * reads: waited for). */
static int transmit(const struct entry *e)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(3 * sizeof(int))];
	} c;
	struct iovec iov = { e->buf, e->len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b,
			    .msg_controllen = CMSG_SPACE((size_t)e->nfds * sizeof(int)) };
	struct cmsghdr *cm;
	ssize_t n;

	memset(&c, 0, sizeof(c));
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)e->nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), e->fds, (size_t)e->nfds * sizeof(int));
	while ((n = sendmsg(sock, &m, MSG_NOSIGNAL)) < 0 &&
	       (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) && ready(POLLOUT))))
		;
	return n < 0 ? errno : 0;
}

/* Sends the requests waiting, while there is room. */
static void flush(void)
{
	while (sock >= 0 && sent.out < sent.n && sent.out < SPAWNER_MAX_OUT) {
		struct entry *e = at(sent.out);
		int rc = transmit(e);

		if (rc == EMSGSIZE) {
			e->unsent = 1; /* the host spawns this one */
		} else if (rc) {
			give_up("cannot send a request", rc);
			return;
		}
		sent.out++;
	}
}

int spawner_send(const struct process_req *r)
{
	struct entry e = { NULL, 0, { r->out_fd, r->err_fd, r->cgroup_fd },
			   r->cgroup_fd >= 0 ? 3 : 2, 0 };
	int rc;

	if (sock < 0)
		return -ENOSYS;
	if (!(e.buf = message(r, &e.len)))
		return errno ? -errno : -ENOMEM;
	if (sent_push(&e) < 0) {
		free(e.buf);
		return -ENOMEM;
	}
	if (sent.out < sent.n - 1 || sent.out >= SPAWNER_MAX_OUT)
		return 0; /* sent once the answers before it made room */
	if ((rc = transmit(&e)) == 0) {
		sent.out++;
		return 0;
	}
	sent.n--; /* not sent, the newest: the caller spawns it */
	free(e.buf);
	if (rc == EMSGSIZE)
		return -EMSGSIZE;
	give_up("cannot send a request", rc);
	return -EPIPE;
}

/* A request sent, spawned by the host itself (the helper failed before
 * it answered): its strings from the message kept, its descriptors from
 * r. */
static int spawn_kept(const char *buf, size_t len, const struct process_req *r, pid_t *pid,
		      int64_t *start)
{
	char **argv = calloc(MAX_STRINGS + 1, sizeof(*argv));
	char **envp = calloc(MAX_STRINGS + 1, sizeof(*envp));
	char *copy = malloc(len);
	struct process_req q = *r;
	struct head h;
	int rc = ENOMEM;

	*pid = 0;
	*start = -1;
	if (argv && envp && copy) {
		memcpy(copy, buf, len);
		memcpy(&h, copy, sizeof(h));
		rc = parse(copy, len, &h, argv, envp, &q) == 0 ? process_clone_exec(&q, 0, pid, start)
							     : EINVAL;
	}
	free(argv);
	free(envp);
	free(copy);
	return rc;
}

int spawner_fd(void)
{
	return sock;
}

void spawner_on_stop(void (*fn)(void))
{
	on_stop = fn;
}

int spawner_receive(const struct process_req *r, int wait, pid_t *pid, int64_t *start,
		    char *program, size_t psize)
{
	struct answer a;
	struct entry e;
	ssize_t n = -1;
	int rc;

	*pid = 0;
	*start = -1;
	if (!sent.n)
		return -ENOENT;
	if (!sent.out)
		flush(); /* the oldest waits to be sent: it is now */
	if (sock >= 0 && sent.out && !at(0)->unsent) {
		while ((n = recv(sock, &a, sizeof(a), MSG_DONTWAIT)) < 0 &&
		       (errno == EINTR ||
			(wait && (errno == EAGAIN || errno == EWOULDBLOCK) && ready(POLLIN))))
			;
		if (n < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (n != (ssize_t)sizeof(a))
			give_up("no answer", n < 0 ? errno : EPIPE);
	}
	e = *at(0);
	sent.head = (sent.head + 1) % sent.cap;
	sent.n--;
	if (sent.out)
		sent.out--;
	/* The program, first of the strings, for the caller's messages. */
	snprintf(program, psize, "%.*s", (int)strnlen(e.buf + sizeof(struct head),
						      e.len - sizeof(struct head)),
		 e.buf + sizeof(struct head));
	if (n == (ssize_t)sizeof(a)) {
		*pid = (pid_t)a.pid;
		*start = a.start;
		rc = a.err;
	} else {
		rc = spawn_kept(e.buf, e.len, r, pid, start);
	}
	free(e.buf);
	flush(); /* room for one more */
	return rc;
}

int spawner_spawn(const struct process_req *r, pid_t *pid, int64_t *start)
{
	char program[8];
	int rc;

	*pid = 0;
	*start = -1;
	/* Answers come in order: none while sent requests wait for theirs. */
	if (sent.n)
		return -EBUSY;
	if ((rc = spawner_send(r)) < 0)
		return rc;
	return spawner_receive(r, 1, pid, start, program, sizeof(program));
}

/* The helper ended by itself (it was reaped already): no more requests. */
static void gone(void)
{
	close(helper_fd);
	helper_fd = -1;
	log_error("spawn helper: it ended; job processes are started by the host itself");
	spawner_stop();
}

void spawner_reaped(pid_t pid)
{
	if (pid > 0 && pid == helper && helper_fd >= 0)
		gone();
}

void spawner_stop(void)
{
	if (sock >= 0 && on_stop)
		on_stop();
	if (sock >= 0)
		close(sock);
	sock = -1;
	if (helper_fd >= 0) {
		siginfo_t si;

		/* Reaped already by the subreaper's sweep, if it died first. */
		syscall(SYS_pidfd_send_signal, helper_fd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)helper_fd, &si, WEXITED);
		close(helper_fd);
	}
	helper_fd = -1;
	helper = 0;
}
