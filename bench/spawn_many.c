/* The floor of bench/continuous: the same N scripts started back to back
 * by one process with posix_spawn (new session, as the host does), timed
 * from the first spawn to the last one's return (posix_spawn returns once
 * the child has exec'd). Prints seconds, then kills them all.
 * Usage: spawn_many SCRIPT...   (each SCRIPT is run by /bin/bash) */
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct timespec a, b;
	posix_spawnattr_t at;
	pid_t *pids = calloc((size_t)argc, sizeof(*pids));

	if (argc < 2 || !pids)
		return 2;
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 1; i < argc; i++) {
		char *args[] = { "/bin/bash", argv[i], NULL };

		if (posix_spawn(&pids[i], "/bin/bash", NULL, &at, args, environ) != 0)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	fflush(stdout);
	for (int i = 1; i < argc; i++)
		kill(pids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}
