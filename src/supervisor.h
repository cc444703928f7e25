/*
 * supervisor: continuous jobs (docs/API.md, "Continuous jobs") — every enabled continuous job kept
 * running on this instance (or, for a singleton, on the one instance that
 * holds its lock), restarted after it exits, stopped gracefully, and its
 * state published in status_{inst} for every instance to read.
 *
 * Each job is a small state machine driven by a state x event table (see
 * supervisor.c), in the manner of s6-supervise.
 */
#ifndef WEBJOBS_SUPERVISOR_H
#define WEBJOBS_SUPERVISOR_H

#include <uv.h>

#include "home.h"
#include "hostcfg.h"
#include "job.h"
#include "registry.h"

struct supervisor;

struct supervisor_config {
	struct home *home;
	struct registry *registry;
	const struct hostcfg_watch *cfg;
	const char *instance;
	const char *temp;
};

/* Creates the supervisor and starts every enabled continuous job. It
 * listens to the registry for jobs that appear, change or go. */
struct supervisor *supervisor_new(uv_loop_t *loop, const struct supervisor_config *c);

/* POST .../start and .../stop: removes or creates disable.job in the job's
 * script folder and applies the change at once. Returns 0 or -errno. */
int supervisor_set_enabled(struct supervisor *s, struct job *j, int enabled);

/* DELETE of a job: its process is killed now (the files go next). */
void supervisor_delete(struct supervisor *s, const char *name);

/* The host settings changed (WEBJOBS_STOPPED): start or stop every job. */
void supervisor_host_changed(struct supervisor *s);

/* "job\tinstance\t1|0\n" for every continuous job (1: its process runs
 * here), for /metrics. A new string. */
char *supervisor_up_text(const struct supervisor *s);

/* The state x event table as the code has it, in the layout of the
 * comment at the top of supervisor.c (for the test that keeps the two
 * equal). A new string. */
char *supervisor_table_text(void);

/* What the supervisor holds for one job, for tests and diagnostics.
 * Returns -1 when it holds nothing for that name. A pure look-up. */
struct supervisor_probe {
	const char *state;   /* the name of its state in the table */
	int has_child;       /* a process is up or being waited for */
	int timer_active;    /* a restart, retry or stop timer is armed */
};
int supervisor_probe(const struct supervisor *s, const char *name,
		     struct supervisor_probe *out);

/* Posts the event named as in the table (START, STOP, ...) to the job's
 * machine, as the loop would; -1 for an unknown job or event. For tests
 * that walk every state x event. */
int supervisor_inject(struct supervisor *s, const char *name, const char *event);

/* Stops every job gracefully; done(arg) when all are down. */
void supervisor_shutdown(struct supervisor *s, void (*done)(void *), void *arg);
void supervisor_free(struct supervisor *s);

#endif
