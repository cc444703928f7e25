/*
 * api_int: what api.c (routes, reads, the request's life) and api_write.c
 * (the handlers that change something) share. Not for other modules.
 */
#ifndef WEBJOBS_API_INT_H
#define WEBJOBS_API_INT_H

#include "api.h"
#include "http.h"
#include "job.h"
#include "route.h"

/* The state of one request between its callbacks. */
struct call {
	struct api *api;
	struct http_request *req;
	struct route_match m;
	int rc;          /* of route_match */
	unsigned allow;  /* methods, for 405 */
	void *ticket;    /* a pending authentication */
	int authed;      /* authenticated when the headers came */
	struct deploy *deploy; /* an upload being received */
	struct vfs_call *vfs;  /* a file API request */
	int busy;        /* work in flight that will come back to this call */
	int refused;     /* answered when the headers came (cross-site) */
	struct call *next_held; /* held until the jobs are read (api.c) */
	int held;
};

/* "triggered" or "continuous". */
/* 404: no job of the route's type and name. */
void api_reply_no_job(struct call *c);
/* The named job of the route, or NULL after a 404 reply. */
struct job *api_find_job(struct call *c);

void api_run_start(struct call *c);
void api_delete(struct call *c);
void api_put_settings(struct call *c);
void api_start_stop(struct call *c, int enable);
/* whole_job: POST .../abort (the job's run in progress), else
 * .../history/{id}/abort. */
void api_abort(struct call *c, int whole_job);

#endif
