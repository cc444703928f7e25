/*
 * options: the flags of `webjobs serve` in one table (name, environment
 * variable, kind, bounds, default, help). The table drives parsing,
 * validation and the help text (docs/API.md, "Running the host").
 */
#ifndef WEBJOBS_OPTIONS_H
#define WEBJOBS_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct options {
	char *home;
	char *listen;
	char *instance_id;
	char *temp;
	char *auth_file;
	char *tls_cert;
	char *tls_key;
	char *log_file;
	char *log_level;
	char *run_as;
	char *cgroup;
	char *shared_home;
	uint64_t max_upload_size;
	uint64_t max_connections;
	uint64_t idle_timeout;
	uint64_t fence_after;
};

/* Fills o from the environment and argv (flags win). Returns 0, or -1
 * with a one-line reason in err. */
int options_parse(struct options *o, int argc, char **argv, char *err,
		  size_t errsz);
void options_free(struct options *o);

/* Prints the flags with their help text. */
void options_usage(FILE *f);

#endif
