/*
 * server: `webjobs serve` — the host's life from start-up to shutdown.
 */
#ifndef WEBJOBS_SERVER_H
#define WEBJOBS_SERVER_H

/* Runs the host; returns the process exit code (0, or 2 for bad flags,
 * an unusable home or a port in use). */
int server_main(int argc, char **argv);

#endif
