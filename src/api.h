/*
 * api: the routes of the WebJobs REST API (SPEC 3) and their handlers.
 * Routes are matched when a request's headers are complete; every route
 * but /healthz needs authentication, checked before anything else.
 */
#ifndef WEBJOBS_API_H
#define WEBJOBS_API_H

#include "auth.h"
#include "home.h"
#include "http.h"
#include "registry.h"

struct api {
	const struct home *home;
	struct registry *registry;
	struct auth *auth;
};

/* The handlers to give http_server_start; arg is the struct api. */
struct http_handlers api_handlers(struct api *api);

#endif
