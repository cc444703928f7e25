/*
 * follow: live log following (docs/API.md) — a run's output_log.txt from an
 * offset until the run ends, or a continuous job's job_log.txt from its
 * last N lines, across roll-overs, until the client leaves. The response
 * is chunked text/plain, or Server-Sent Events when asked. Driven by the
 * loop: an inotify watch on the log's folder wakes a sleeping connection;
 * nothing polls.
 */
#ifndef WEBJOBS_FOLLOW_H
#define WEBJOBS_FOLLOW_H

#include <stdint.h>
#include <uv.h>

#include "home.h"
#include "http.h"

/* Replies with the output of run id of triggered job name, from byte
 * offset, following it until the run ends. */
void follow_run(struct http_request *req, uv_loop_t *loop, const struct home *h,
		const char *name, const char *id, uint64_t offset);

/* Replies with the last `tail` lines of a continuous job's log and what
 * is written after, until the client leaves. */
void follow_job(struct http_request *req, uv_loop_t *loop, const struct home *h,
		const char *name, long tail);

#endif
