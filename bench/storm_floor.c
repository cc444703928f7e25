/* The floor of bench/continuous's restart storm: a bare supervisor in C
 * doing the same work as the host in a storm, and nothing else — the N
 * scripts spawned with posix_spawn (a new session each, standard output
 * and error to pipes), every pipe read with epoll and closed at its end,
 * every exit reaped and the script spawned again at once. The bench kills
 * them all and times GETs of nginx meanwhile: what this machine makes any
 * server wait while that many processes end and start again.
 * Prints "ready" once all are spawned; when its standard input ends, it
 * kills them all and exits.
 * Usage: storm_floor SCRIPT...   (each SCRIPT is run by /bin/bash) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int ep;
static char **scripts;
static pid_t *pids;
static int *index_of; /* pid -> script index + 1 */
static long pid_max;
static posix_spawnattr_t attr;

static int watch(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int spawn(int i)
{
	int out[2], err[2];
	posix_spawn_file_actions_t fa;
	char *args[] = { "/bin/bash", scripts[i], NULL };
	int rc;

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	rc = posix_spawn(&pids[i], "/bin/bash", &fa, &attr, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	if (rc != 0 || watch(out[0]) < 0 || watch(err[0]) < 0)
		return -1;
	if (pids[i] < pid_max)
		index_of[pids[i]] = i + 1;
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc - 1, sfd;
	sigset_t set;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	static char buf[65536];
	struct epoll_event evs[1024];

	if (n < 1 || !f || fscanf(f, "%ld", &pid_max) != 1)
		return 2;
	fclose(f);
	scripts = argv + 1;
	pids = calloc((size_t)n, sizeof(*pids));
	index_of = calloc((size_t)pid_max, sizeof(*index_of));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!pids || !index_of || ep < 0)
		return 2;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
	sigemptyset(&set);
	posix_spawnattr_setsigmask(&attr, &set);
	for (int i = 0; i < n; i++)
		if (spawn(i) < 0)
			return 1;
	if (sfd < 0 || watch(sfd) < 0 || watch(0) < 0)
		return 2;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int m = epoll_wait(ep, evs, 1024, -1);

		for (int k = 0; k < m; k++) {
			int fd = evs[k].data.fd;
			ssize_t r = read(fd, buf, sizeof(buf));

			if (fd == 0 && r <= 0) {
				for (int i = 0; i < n; i++)
					kill(pids[i], SIGKILL);
				while (wait(NULL) > 0 || errno == EINTR)
					;
				return 0;
			}
			if (fd == sfd) {
				pid_t pid;

				while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
					if (pid < pid_max && index_of[pid]) {
						int i = index_of[pid] - 1;

						index_of[pid] = 0;
						if (spawn(i) < 0)
							return 1;
					}
				continue;
			}
			if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
}
