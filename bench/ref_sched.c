/* The reference scheduler of bench/schedules: at each second boundary it
 * spawns N scripts back to back with posix_spawn (no record, no log, no
 * lock: the least a scheduler can do) and reaps them. Prints its own CPU
 * time (children excluded) in seconds at the end.
 * Usage: ref_sched SECONDS SCRIPT...   (each SCRIPT is run by /bin/bash) */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv)
{
	struct timespec now, at;
	struct rusage ru;
	int seconds;

	if (argc < 3)
		return 2;
	seconds = atoi(argv[1]);
	clock_gettime(CLOCK_REALTIME, &now);
	at.tv_sec = now.tv_sec + 1;
	at.tv_nsec = 0;
	for (int s = 0; s < seconds; s++, at.tv_sec++) {
		while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
			;
		for (int i = 2; i < argc; i++) {
			char *args[] = { "/bin/bash", argv[i], NULL };
			pid_t pid;

			if (posix_spawn(&pid, "/bin/bash", NULL, NULL, args, environ) != 0)
				return 1;
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
	getrusage(RUSAGE_SELF, &ru);
	printf("%.3f\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
				 ru.ru_stime.tv_usec / 1e6);
	return 0;
}
