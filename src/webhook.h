/*
 * webhook: telling a URL about runs (docs/API.md, "Run control",
 * "Webhooks") — which hook a job has, the payload and its signature, and
 * delivery in the background with retries, a spool that survives the
 * host, webhooks.log and the metrics.
 */
#ifndef WEBJOBS_WEBHOOK_H
#define WEBJOBS_WEBHOOK_H

#include <uv.h>

#include "home.h"
#include "hostcfg.h"
#include "job.h"
#include "runrec.h"

struct webhook_config {
	uv_loop_t *loop;
	const struct home *home;
	const struct hostcfg_watch *cfg;
	const char *instance; /* the whole instance id */
	const char *base_url; /* "http://host:port", the prefix of the payload's URLs */
};

/* Starts the module at host start-up: deliveries a previous life of this
 * instance left in its spool are sent again. libcurl is loaded, and the
 * delivery thread started, only when there is something to send. */
void webhook_start(const struct webhook_config *c);

/* Tells job j's hook of event ("start", "success", "failure", "retry",
 * "exit") when the job has a hook and takes that event. rec is the run
 * (NULL for a continuous job), dfd the run's folder (-1: unknown) for
 * the log links. Loop thread only; never blocks on the network. */
void webhook_emit(const struct job *j, const char *event, const struct runrec *rec, int dfd);
/* 1 when webhook_emit(j, event, ...) would tell a hook. */
int webhook_wanted(const struct job *j, const char *event);

/* The final status of a run as an event: "success" or "failure". */
const char *webhook_final_event(const char *status);

/* At shutdown: stops the delivery thread; what was not delivered stays in
 * the spool for the next start. */
void webhook_stop(void);

#endif
