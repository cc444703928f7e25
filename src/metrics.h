/*
 * metrics: counters and gauges for GET /metrics (Prometheus text format
 * 0.0.4). Everything is kept in memory since the host started; label sets
 * are bounded by the number of jobs (and of routes and statuses).
 */
#ifndef WEBJOBS_METRICS_H
#define WEBJOBS_METRICS_H

#include <stddef.h>

void metrics_run_finished(const char *job, const char *status, double seconds);
void metrics_restart(const char *job);
/* A run of job was aborted ("abort"), timed out ("timeout") or retried
 * ("retry"). */
void metrics_run_control(const char *job, const char *what);
void metrics_fire_delay(double seconds);
void metrics_http(const char *route, unsigned status);
/* A webhook delivery attempt ended: "ok", "retried" (another follows) or
 * "failed" (given up). */
void metrics_webhook(const char *outcome);
/* Forgets a deleted job's series. */
void metrics_forget(const char *job);

/* The exposition text (new string), with the live gauges given by the
 * caller: up is "job\tinstance\t0|1\n" lines; queued "job\tcount\n"
 * lines (runs waiting under concurrency queue); open_connections the
 * current count. */
char *metrics_render(const char *up, const char *queued, unsigned open_connections);

#endif
