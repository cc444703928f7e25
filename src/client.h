/*
 * client: the command-line client subcommands of `webjobs` (list, show,
 * deploy, run, history, logs, start, stop, settings, delete), talking to a
 * host over HTTP with libcurl, loaded with dlopen only by these commands
 * so the host itself never maps it.
 */
#ifndef WEBJOBS_CLIENT_H
#define WEBJOBS_CLIENT_H

/* 1 when cmd is a client subcommand. */
int client_is_command(const char *cmd);

/* Runs one; returns the exit code (0 ok, 1 the run failed, 2 usage,
 * 3 the host answered an error or could not be reached, 4 the run was
 * aborted). */
int client_main(const char *cmd, int argc, char **argv);

/* Prints the client commands' usage. */
void client_usage(void);

/* Prints the help of one client command; -1 when cmd is none. */
int client_help(const char *cmd);

#endif
