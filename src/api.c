/*
 * api: routing, authentication and the read endpoints of the jobs API.
 */
#define _GNU_SOURCE
#include "api.h"
#include "api_int.h"
#include "evq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "args.h"
#include "cron.h"
#include "dashboard.h"
#include "deploy.h"
#include "files.h"
#include "follow.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "settings.h"
#include "timefmt.h"
#include "vfs.h"

enum handler {
	H_HEALTH,
	H_ALL,
	H_LIST,
	H_JOB,
	H_HISTORY,
	H_RUN,
	H_SETTINGS,
	H_SWAGGER,
	H_DEPLOY,
	H_DELETE,
	H_RUN_START,
	H_PUT_SETTINGS,
	H_START,
	H_STOP,
	H_VFS,
	H_ZIP,
	H_METRICS,
	H_FOLLOW_RUN,
	H_FOLLOW_JOB,
	H_ABORT_RUN,
	H_ABORT_JOB,
	H_DASH,
	H_DASH_ROOT,
	H_SCHEDULE,
};

/* Route names for the metrics, by handler. */
static const char *const handler_names[] = {
	"healthz", "all", "list", "job", "history", "run", "settings", "swagger", "deploy",
	"delete", "run_start", "put_settings", "start", "stop", "vfs", "zip", "metrics",
	"follow_run", "follow_job", "abort_run", "abort_job", "dashboard", "dashboard",
	"schedule",
};
_Static_assert(sizeof(handler_names) / sizeof(handler_names[0]) == H_SCHEDULE + 1,
	       "a route name for every handler");

#define NO_AUTH 1u
#define GET (HTTP_GET | HTTP_HEAD)

static const struct route routes[] = {
	{ GET, "/healthz", H_HEALTH, NO_AUTH },
	{ GET, "/api/triggeredwebjobsswagger", H_SWAGGER, 0 },
	{ GET, "{J}", H_ALL, 0 },
	{ GET, "{T}", H_LIST, 0 },
	{ GET, "{C}", H_LIST, 0 },
	{ GET, "{T}/{name}", H_JOB, 0 },
	{ GET, "{C}/{name}", H_JOB, 0 },
	{ GET, "{T}/{name}/history", H_HISTORY, 0 },
	{ GET, "{T}/{name}/history/{id}", H_RUN, 0 },
	{ GET, "{T}/{name}/settings", H_SETTINGS, 0 },
	{ GET, "{C}/{name}/settings", H_SETTINGS, 0 },
	{ HTTP_PUT, "{T}/{name}", H_DEPLOY, 0 },
	{ HTTP_PUT, "{C}/{name}", H_DEPLOY, 0 },
	{ HTTP_DELETE, "{T}/{name}", H_DELETE, 0 },
	{ HTTP_DELETE, "{C}/{name}", H_DELETE, 0 },
	{ HTTP_POST, "{T}/{name}/run", H_RUN_START, 0 },
	{ HTTP_PUT, "{T}/{name}/settings", H_PUT_SETTINGS, 0 },
	{ HTTP_PUT, "{C}/{name}/settings", H_PUT_SETTINGS, 0 },
	{ HTTP_POST, "{C}/{name}/start", H_START, 0 },
	{ HTTP_POST, "{C}/{name}/stop", H_STOP, 0 },
	{ GET | HTTP_PUT | HTTP_DELETE, "/api/vfs/{*}", H_VFS, 0 },
	{ GET | HTTP_PUT | HTTP_DELETE, "/vfs/{*}", H_VFS, 0 },
	{ GET | HTTP_PUT | HTTP_DELETE, "/api/vfs", H_VFS, 0 },
	{ GET | HTTP_PUT | HTTP_DELETE, "/vfs", H_VFS, 0 },
	{ GET | HTTP_PUT, "/api/zip/{*}", H_ZIP, 0 },
	{ GET | HTTP_PUT, "/zip/{*}", H_ZIP, 0 },
	{ GET | HTTP_PUT, "/api/zip", H_ZIP, 0 },
	{ GET | HTTP_PUT, "/zip", H_ZIP, 0 },
	{ GET, "/metrics", H_METRICS, 0 },
	{ GET, "{T}/{name}/history/{id}/log", H_FOLLOW_RUN, 0 },
	{ GET, "{C}/{name}/log", H_FOLLOW_JOB, 0 },
	{ HTTP_POST, "{T}/{name}/history/{id}/abort", H_ABORT_RUN, 0 },
	{ HTTP_POST, "{T}/{name}/abort", H_ABORT_JOB, 0 },
	{ GET, "{T}/{name}/schedule", H_SCHEDULE, 0 },
	{ GET, "/azurejobs", H_DASH_ROOT, 0 },
	{ GET, "/azurejobs/{*}", H_DASH, 0 },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static void deny(struct http_request *req);

/* ---- output helpers ---- */

/* A growing text buffer for list bodies. */
struct buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void buf_add(struct buf *b, const char *s, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void reply_buf_etag(struct http_request *req, struct buf *b)
{
	if (b->failed) {
		http_reply_error(req, 500, "Out of memory.");
		return;
	}
	http_reply_json_text_etag(req, b->p, b->len, job_hash_bytes(b->p, b->len));
}

static void reply_json_etag(struct http_request *req, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!text) {
		http_reply_error(req, 500, "Out of memory.");
		return;
	}
	http_reply_json_text_etag(req, text, strlen(text),
				  job_hash_bytes(text, strlen(text)));
	free(text);
}

static void add_jobs(struct api *api, struct buf *b, enum job_type t,
		     const char *prefix, int *first)
{
	struct job **jobs;
	size_t n = registry_list(api->registry, t, &jobs);

	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint64_t hash;
		const char *body = job_body(jobs[i], api->home, prefix, &len, &hash);

		if (!body)
			continue;
		if (!*first)
			buf_add(b, ",", 1);
		*first = 0;
		buf_add(b, body, len);
	}
}

void api_reply_no_job(struct call *c)
{
	http_reply_error(c->req, 404, "No %s job named '%s' was found.", home_type_name(c->m.type),
			 c->m.params[0]);
}

/* The named job of the route, or NULL after a 404 reply. */
struct job *api_find_job(struct call *c)
{
	struct job *j = registry_find(c->api->registry, c->m.type, c->m.params[0]);

	if (!j)
		api_reply_no_job(c);
	return j;
}

/* ---- handlers ---- */

static void h_list(struct call *c)
{
	struct buf b = { 0 };
	const char *prefix = http_prefix(c->req);
	int first = 1;

	buf_add(&b, "[", 1);
	if (c->m.type != JOB_CONTINUOUS)
		add_jobs(c->api, &b, JOB_TRIGGERED, prefix, &first);
	if (c->m.type != JOB_TRIGGERED)
		add_jobs(c->api, &b, JOB_CONTINUOUS, prefix, &first);
	buf_add(&b, "]", 1);
	reply_buf_etag(c->req, &b);
	free(b.p);
}

static void h_job(struct call *c)
{
	struct job *j = api_find_job(c);
	size_t len;
	uint64_t hash;
	const char *body;

	if (!j)
		return;
	body = job_body(j, c->api->home, http_prefix(c->req), &len, &hash);
	if (!body)
		http_reply_error(c->req, 500, "Out of memory.");
	else
		http_reply(c->req, 200, "application/json; charset=utf-8", body, len);
}

static void h_history(struct call *c)
{
	struct job *j = api_find_job(c);

	if (j)
		reply_json_etag(c->req, job_history_json(j, c->api->home,
							 http_prefix(c->req)));
}

static void h_run(struct call *c)
{
	struct job *j = api_find_job(c);
	const char *id = c->m.params[1];
	json_t *o;

	if (!j)
		return;
	o = time_is_run_id(id) ? job_run_json(j, c->api->home,
					      http_prefix(c->req), id)
			       : NULL;
	if (!o) {
		http_reply_error(c->req, 404, "No run '%s' of job '%s' was found.",
				 id, job_name(j));
		return;
	}
	http_reply_json(c->req, 200, o);
}

static void h_settings(struct call *c)
{
	struct job *j = api_find_job(c);

	if (j)
		http_reply_json(c->req, 200, json_incref((json_t *)job_settings(j)));
}

static void h_swagger(struct call *c)
{
	struct job **jobs;
	size_t n = registry_list(c->api->registry, JOB_TRIGGERED, &jobs);
	json_t *paths = json_object();

	for (size_t i = 0; i < n; i++) {
		char path[600];
		json_t *op = json_pack(
			"{s:{s:b,s:s,s:[],s:[],s:{s:{s:s},s:{s:s}},s:[{s:s,s:s,s:s,s:b,s:s}]}}",
			"post", "deprecated", 0, "operationId", job_name(jobs[i]),
			"consumes", "produces", "responses", "200", "description",
			"Success", "default", "description", "Success",
			"parameters", "name", "arguments", "in", "query",
			"description", "Web Job Arguments", "required", 0, "type",
			"string");

		snprintf(path, sizeof(path), "/api/triggeredjobs/%s/run",
			 job_name(jobs[i]));
		json_object_set_new(paths, path, op);
	}
	http_reply_json(c->req, 200,
			json_pack("{s:s,s:{s:s,s:s},s:s,s:[s],s:o}", "swagger",
				  "2.0", "info", "version", "v1", "title",
				  "WebJobs", "host", "placeHolder", "schemes",
				  "https", "paths", paths));
}

static void on_deployed(void *arg, unsigned status, const char *err)
{
	struct call *c = arg;
	struct job *j;
	size_t len;
	uint64_t hash;
	const char *body;

	c->deploy = NULL;
	c->busy = 0;
	if (!c->req) {
		/* The request went away meanwhile. */
		route_match_free(&c->m);
		free(c);
		return;
	}
	if (status) {
		http_reply_error(c->req, status, "%s", err);
	} else {
		evq_request(1);
		registry_touch(c->api->registry, c->m.type, c->m.params[0]);
		registry_refresh(c->api->registry);
		/* its schedule, in the body we send */
		evq_drain_for(EVQ_PER_REQUEST, evq_turn_until());
		evq_request(0);
		j = registry_find(c->api->registry, c->m.type, c->m.params[0]);
		body = j ? job_body(j, c->api->home, http_prefix(c->req), &len, &hash) : NULL;
		if (body)
			http_reply(c->req, 200, "application/json; charset=utf-8", body, len);
		else
			http_reply_error(c->req, 500, "The job was deployed but cannot be read.");
	}
	http_resume(c->req);
}

static void h_deploy(struct call *c)
{
	int rc = http_body_error(c->req);

	if (rc < 0) {
		http_reply_error(c->req, rc == -ENOSPC || rc == -EDQUOT ? 507 : 500,
				 "Cannot store the upload: %s", strerror(-rc));
		return;
	}
	c->busy = 1;
	http_suspend(c->req);
	deploy_finish(c->deploy, c->api->loop, on_deployed, c);
}

/* Headers of a deploy are in: authenticate now (its body must not be
 * stored for nobody), check the name and the file name, open the upload. */
static void begin_deploy(struct call *c)
{
	struct unpack_limits lim = UNPACK_LIMITS_DEFAULT;
	const char *type = http_header(c->req, "Content-Type");
	char filename[512], err[512];
	int is_zip;

	if (!auth_check_now(c->api->auth, http_header(c->req, "Authorization"),
			    http_client(c->req))) {
		deny(c->req);
		return;
	}
	c->authed = 1;
	if (!home_valid_job_name(c->m.params[0])) {
		http_reply_error(c->req, 400,
				 "'%s' is not a valid job name (1 to 128 bytes of UTF-8, no '/', '\\', control characters, not starting with '.').",
				 c->m.params[0]);
		return;
	}
	if (deploy_filename(http_header(c->req, "Content-Disposition"), filename,
			    sizeof(filename)) < 0) {
		http_reply_error(c->req, 400, "Missing Content-Disposition header.");
		return;
	}
	is_zip = type && (strncasecmp(type, "application/zip", 15) == 0 ||
			  strncasecmp(type, "application/x-zip-compressed", 28) == 0);
	c->deploy = deploy_begin(c->api->home, c->m.type, c->m.params[0], filename,
				 is_zip, &lim, err, sizeof(err));
	if (!c->deploy) {
		http_reply_error(c->req, 500, "%s", err);
		return;
	}
	http_body_to_fd(c->req, deploy_body_fd(c->deploy));
}

/* The file API: the call is made once the request is authenticated (a
 * PUT: when its headers come, so its body can be written). */
static void start_vfs(struct call *c)
{
	int zip = c->m.route->handler == H_ZIP;
	int api = strncasecmp(http_path(c->req), "/api/", 5) == 0;
	const char *base = zip ? (api ? "/api/zip" : "/zip") : (api ? "/api/vfs" : "/vfs");

	c->vfs = vfs_begin(c->req, c->api->home, c->api->loop, zip, base, c->m.rest);
}

static void h_vfs(struct call *c)
{
	if (!c->vfs)
		start_vfs(c);
	if (c->vfs && !http_replied(c->req))
		vfs_complete(c->vfs);
}

/* A number from the query, or def when absent or not a number >= 0. */
static long long query_number(struct call *c, const char *key, long long def)
{
	char *v = route_query_get(http_query(c->req), key), *end;
	long long n;

	if (!v)
		return def;
	n = strtoll(v, &end, 10);
	if (!*v || *end || n < 0)
		n = def;
	free(v);
	return n;
}

/* GET /azurejobs/...: the app; "/azurejobs" goes to "/azurejobs/" (the
 * app's files are relative to the folder). */
static void h_dashboard(struct call *c)
{
	const char *p = http_path(c->req);

	if (c->m.route->handler == H_DASH) {
		dashboard_serve(c->req, c->m.rest);
	} else if (p[strlen(p) - 1] == '/') {
		dashboard_serve(c->req, "");
	} else {
		http_add_header(c->req, "Location", "/azurejobs/");
		http_reply_empty(c->req, 301);
	}
}

/* GET {T}/{name}/schedule[?count=N]: the job's schedule and its next N
 * (5, at most 100) fire times in its zone (docs/API.md, "Schedules"). */
static void h_schedule(struct call *c)
{
	struct job *j = api_find_job(c);
	const char *expr, *own, *zone;
	long long n = query_number(c, "count", 5);
	int64_t at = time(NULL);
	char err[256] = "", t[48];
	struct cron cr;
	json_t *next;

	if (!j)
		return;
	expr = settings_string(job_settings(j), "schedule");
	own = settings_string(job_settings(j), "timezone");
	zone = own ? own : hostcfg_get(c->api->cfg)->time_zone;
	if (!expr) {
		http_reply_error(c->req, 404, "The job has no schedule.");
		return;
	}
	next = json_array();
	if (cron_parse(expr, &cr, err, sizeof(err)) < 0)
		;
	else if (!cron_zone_valid(zone))
		snprintf(err, sizeof(err), "unknown time zone '%s'", zone);
	else
		for (long long k = 0; k < (n > 100 ? 100 : n) && cron_next(&cr, zone, at, &at) == 0; k++) {
			cron_format_local(zone, at, t, sizeof(t));
			json_array_append_new(next, json_string(t));
		}
	http_reply_json(c->req, 200,
			json_pack("{s:s, s:s, s:o, s:o}", "schedule", expr, "timezone",
				  zone[0] ? zone : "UTC", "next", next, "error",
				  err[0] ? json_string(err) : json_null()));
}

static void h_follow(struct call *c)
{
	struct job *j = api_find_job(c);
	json_t *run;

	if (!j)
		return;
	if (c->m.route->handler == H_FOLLOW_JOB) {
		follow_job(c->req, c->api->loop, c->api->home, job_name(j),
			   (long)query_number(c, "tail", 10));
		return;
	}
	run = time_is_run_id(c->m.params[1])
		      ? job_run_json(j, c->api->home, http_prefix(c->req), c->m.params[1])
		      : NULL;
	if (!run) {
		http_reply_error(c->req, 404, "No run '%s' of job '%s' was found.", c->m.params[1],
				 job_name(j));
		return;
	}
	json_decref(run);
	follow_run(c->req, c->api->loop, c->api->home, job_name(j), c->m.params[1],
		   (uint64_t)query_number(c, "offset", 0));
}

static void h_metrics(struct call *c)
{
	char *up = supervisor_up_text(c->api->supervisor);
	char *queued = runner_queue_text(c->api->runner);
	char *text = metrics_render(up, queued, http_server_connections(c->api->http));

	free(up);
	free(queued);
	if (!text) {
		http_reply_error(c->req, 500, "Out of memory.");
		return;
	}
	http_reply(c->req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
	free(text);
}

static void dispatch(struct call *c)
{
	/* The one place a request brings the registry up to date: before the
	 * handler runs. Then the queued events run — the listeners' notices
	 * among them — so that the request sees what the requests before it
	 * caused (nothing of a machine is on the stack here). */
	evq_request(1);
	registry_refresh_for(c->api->registry,
			     c->m.type != JOB_TYPE_NONE && c->m.nparams ? (int)c->m.type : -1,
			     c->m.nparams ? c->m.params[0] : NULL, evq_turn_until());
	evq_drain_for(EVQ_PER_REQUEST, evq_turn_until());
	switch ((enum handler)c->m.route->handler) {
	case H_HEALTH:
		http_reply(c->req, 200, "text/plain; charset=utf-8", "ok", 2);
		break;
	case H_ALL:
	case H_LIST:
		h_list(c);
		break;
	case H_JOB:
		h_job(c);
		break;
	case H_HISTORY:
		h_history(c);
		break;
	case H_RUN:
		h_run(c);
		break;
	case H_SETTINGS:
		h_settings(c);
		break;
	case H_SWAGGER:
		h_swagger(c);
		break;
	case H_DEPLOY:
		h_deploy(c);
		break;
	case H_DELETE:
		api_delete(c);
		break;
	case H_RUN_START:
		api_run_start(c);
		break;
	case H_PUT_SETTINGS:
		api_put_settings(c);
		break;
	case H_VFS:
	case H_ZIP:
		h_vfs(c);
		break;
	case H_METRICS:
		h_metrics(c);
		break;
	case H_FOLLOW_RUN:
	case H_FOLLOW_JOB:
		h_follow(c);
		break;
	case H_START:
		api_start_stop(c, 1);
		break;
	case H_STOP:
		api_start_stop(c, 0);
		break;
	case H_ABORT_RUN:
	case H_ABORT_JOB:
		api_abort(c, c->m.route->handler == H_ABORT_JOB);
		break;
	case H_DASH:
	case H_DASH_ROOT:
		h_dashboard(c);
		break;
	case H_SCHEDULE:
		h_schedule(c);
		break;
	}
	evq_request(0);
}

/* Answers a request whose route is known and whose caller may proceed. */
static void on_jobs_read(void *arg);

/* A request that needs the jobs while they are still being read at
 * start-up waits for the read (src/registry.c): it never sees part of
 * them, and the loop goes on starting the jobs read so far. 1 when c is
 * held. */
static int hold(struct call *c)
{
	struct api *api = c->api;

	if (c->rc < 0 || c->m.route->handler == H_HEALTH || !registry_reading(api->registry))
		return 0;
	log_debug("%s %s waits for the first read of the jobs", http_method_name(c->req),
		  http_path(c->req));
	c->held = 1;
	if (api->held_last)
		api->held_last->next_held = c;
	else
		api->held = c;
	api->held_last = c;
	registry_when_read(api->registry, on_jobs_read, api);
	return 1;
}

static void unhold(struct call *c)
{
	struct api *api = c->api;
	struct call *prev = NULL;

	for (struct call *p = api->held; p; prev = p, p = p->next_held)
		if (p == c) {
			*(prev ? &prev->next_held : &api->held) = c->next_held;
			if (api->held_last == c)
				api->held_last = prev;
			break;
		}
	c->held = 0;
	c->next_held = NULL;
}

/* Answers the request; 0, or 1 when it is held (and suspended). */
static int answer(struct call *c)
{
	char allow[64];

	if (hold(c))
		return 1;
	if (c->rc == -ENOENT) {
		http_reply_error(c->req, 404, "No route matches %s %s.",
				 http_method_name(c->req), http_path(c->req));
	} else if (c->rc == -EPERM) {
		route_allow_text(c->allow, allow, sizeof(allow));
		http_add_header(c->req, "Allow", allow);
		http_reply_error(c->req, 405, "The method %s is not allowed here.",
				 http_method_name(c->req));
	} else if (c->rc == -EINVAL) {
		http_reply_error(c->req, 400, "The path is not correctly percent-encoded.");
	} else if (c->rc < 0) {
		http_reply_error(c->req, 500, "Out of memory.");
	} else {
		dispatch(c);
	}
	return 0;
}

static void on_jobs_read(void *arg)
{
	struct api *api = arg;

	while (api->held) {
		struct call *c = api->held;

		unhold(c);
		/* A call that went to the thread pool unanswered (a deploy,
		 * a zip's upload) stays suspended: its own end resumes it. */
		if (!answer(c) && http_replied(c->req))
			http_resume(c->req);
	}
}

static void deny(struct http_request *req)
{
	/* The dashboard's own requests get no challenge: a browser would pop
	 * up a login box over the page; the page says what to do instead. */
	if (!http_header(req, "X-Webjobs-Client"))
		http_add_header(req, "WWW-Authenticate", "Basic realm=\"webjobs\"");
	http_reply_error(req, 401, "Authentication is required.");
}

static void on_auth(void *arg, int ok)
{
	struct call *c = arg;

	c->ticket = NULL;
	if (ok && answer(c))
		return; /* stays suspended */
	if (!ok)
		deny(c->req);
	http_resume(c->req);
}

/* ---- the http hooks ---- */


static void on_begin(struct http_request *req, void *arg)
{
	struct call *c = calloc(1, sizeof(*c));

	if (!c) {
		http_reply_error(req, 500, "Out of memory.");
		return;
	}
	c->api = arg;
	c->req = req;
	http_set_user(req, c);
	c->rc = route_match(routes, NROUTES, http_method(req), http_path(req),
			    &c->m, &c->allow);
	/* Before any body is taken in: a browser on another origin must not
	 * change anything with the credentials it keeps (docs/API.md,
	 * "Dashboard"). */
	if ((http_method(req) & (HTTP_POST | HTTP_PUT | HTTP_DELETE)) &&
	    dashboard_cross_site(req)) {
		c->refused = 1;
		http_reply_error(req, 403, "Cross-site request refused.");
		return;
	}
	if (c->rc < 0)
		return;
	if (c->m.route->handler == H_DEPLOY) {
		begin_deploy(c);
	} else if ((c->m.route->handler == H_VFS || c->m.route->handler == H_ZIP) &&
		   http_method(req) == HTTP_PUT) {
		if (!auth_check_now(c->api->auth, http_header(req, "Authorization"),
				    http_client(req))) {
			deny(req);
			return;
		}
		c->authed = 1;
		start_vfs(c);
	}
	else if (c->m.route->handler == H_PUT_SETTINGS)
		http_body_to_memory(req, SETTINGS_MAX_SIZE);
}

static void on_complete(struct http_request *req, void *arg)
{
	struct call *c = http_user(req);
	struct api *api = arg;

	if (!c || c->refused)
		return;
	if (c->authed || (c->rc == 0 && (c->m.route->flags & NO_AUTH))) {
		if (answer(c))
			http_suspend(req);
		return;
	}
	switch (auth_check(api->auth, http_header(req, "Authorization"),
			   http_client(req), on_auth, c, &c->ticket)) {
	case AUTH_OK:
		if (answer(c))
			http_suspend(req);
		break;
	case AUTH_DENIED:
		deny(req);
		break;
	case AUTH_PENDING:
		http_suspend(req);
		break;
	}
}

static void on_done(struct http_request *req, void *arg)
{
	struct call *c = http_user(req);

	(void)arg;
	if (!c)
		return;
	metrics_http(c->rc == 0 ? handler_names[c->m.route->handler] : "none", http_status(req));
	auth_cancel(c->ticket);
	if (c->held)
		unhold(c); /* the host stops while it waits */
	if (c->busy) {
		/* A deploy is on the thread pool; its callback frees c. */
		c->req = NULL;
		return;
	}
	deploy_abort(c->deploy);
	vfs_done(c->vfs);
	route_match_free(&c->m);
	free(c);
}

struct http_handlers api_handlers(struct api *api)
{
	struct http_handlers hd = { on_begin, on_complete, on_done, api };

	return hd;
}
