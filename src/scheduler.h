/*
 * scheduler: firing triggered jobs on their cron schedules (docs/API.md, "Schedules") —
 * one timer for all schedules (a heap keyed by the next fire), the
 * missed-run rule after a start or a change, exactly once across
 * instances, and the scheduler log (docs/API.md, "Schedules").
 */
#ifndef WEBJOBS_SCHEDULER_H
#define WEBJOBS_SCHEDULER_H

#include <uv.h>

#include "home.h"
#include "hostcfg.h"
#include "registry.h"
#include "run.h"

struct scheduler;

struct scheduler_config {
	struct home *home;
	struct registry *registry;
	const struct hostcfg_watch *cfg;
	struct runner *runner;
	const char *instance;
};

/* Reads every triggered job's schedule and arms the timer; follows the
 * registry's changes from then on. */
struct scheduler *scheduler_new(uv_loop_t *loop, const struct scheduler_config *c);

/* The host's settings changed (time zone): schedules are computed again. */
void scheduler_host_changed(struct scheduler *s);

/* Stops firing (shutdown) and frees the scheduler once its timer closed. */
void scheduler_close(struct scheduler *s);

#endif
