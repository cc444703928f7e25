/*
 * api: the routes of the WebJobs REST API (docs/API.md, "Endpoints") and their handlers.
 * Routes are matched when a request's headers are complete; every route
 * but /healthz needs authentication, checked before anything else.
 */
#ifndef WEBJOBS_API_H
#define WEBJOBS_API_H

#include <uv.h>

#include "auth.h"
#include "home.h"
#include "hostcfg.h"
#include "http.h"
#include "registry.h"
#include "run.h"
#include "supervisor.h"

struct api {
	uv_loop_t *loop;
	struct home *home;
	struct registry *registry;
	struct auth *auth;
	struct runner *runner;
	struct supervisor *supervisor;
	const struct hostcfg_watch *cfg;
	struct http_server *http;
	/* Requests that came while the registry's first read goes on,
	 * answered in order when it ends. */
	struct call *held, *held_last;
};

/* The handlers to give http_server_start; arg is the struct api. */
struct http_handlers api_handlers(struct api *api);

#endif
