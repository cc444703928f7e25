/* The floor for "start a job": posix_spawn of the same script the host
 * runs, timed from just before the spawn to the script's first instruction
 * (which writes $EPOCHREALTIME to a file). Prints one latency in
 * microseconds per run. Usage: spawn_floor SCRIPT STAMPFILE RUNS */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	for (int i = 0; i < atoi(argv[3]); i++) {
		struct timespec ts;
		char *args[] = { "/bin/bash", argv[1], NULL };
		pid_t pid;
		int st;
		double t0, t1 = 0;
		FILE *f;

		unlink(argv[2]);
		clock_gettime(CLOCK_REALTIME, &ts);
		t0 = (double)ts.tv_sec + ts.tv_nsec / 1e9;
		if (posix_spawn(&pid, "/bin/bash", NULL, NULL, args, environ) != 0)
			return 1;
		waitpid(pid, &st, 0);
		f = fopen(argv[2], "r");
		if (!f || fscanf(f, "%lf", &t1) != 1)
			return 1;
		fclose(f);
		printf("%.1f\n", (t1 - t0) * 1e6);
	}
	return 0;
}
