/*
 * api_write: the handlers that change something — start, abort and delete
 * runs and jobs, write settings, start and stop continuous jobs. Each
 * brings the registry up to date after its own writes, so that the
 * listeners hear of the change before the next request is handled.
 */
#define _GNU_SOURCE
#include "api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "auth.h"
#include "deploy.h"
#include "files.h"
#include "metrics.h"
#include "route.h"
#include "settings.h"
#include "share.h"
#include "timefmt.h"

/* 202 with the run's URL in Location (escaped, unlike URLs in bodies). */
static void reply_accepted(struct call *c, const char *name, const char *id)
{
	char esc[1024], location[2048];

	route_escape(name, esc, sizeof(esc), 0);
	snprintf(location, sizeof(location), "%s/api/triggeredwebjobs/%s/history/%s",
		 http_prefix(c->req), esc, id);
	http_add_header(c->req, "Location", location);
	http_reply_empty(c->req, 202);
}

void api_run_start(struct call *c)
{
	struct job *j = api_find_job(c);
	const char *ua = http_header(c->req, "User-Agent");
	char *arguments = NULL, *trigger = NULL, id[RUN_ID_LEN + 1], err[512];
	char **words = NULL;
	int rc;

	if (!j)
		return;
	arguments = route_query_get(http_query(c->req), "arguments");
	if (!arguments && strstr(http_query(c->req), "rguments=")) {
		http_reply_error(c->req, 400, "The arguments are not correctly percent-encoded.");
		return;
	}
	if (arguments && args_split(arguments, &words, err, sizeof(err)) < 0) {
		http_reply_error(c->req, 400, "Bad arguments: %s.", err);
		free(arguments);
		return;
	}
	args_free(words);
	if (asprintf(&trigger, "External - %s", ua ? ua : "") < 0)
		trigger = NULL;
	rc = trigger ? runner_start(c->api->runner, j, trigger, arguments, 0, id, err,
				    sizeof(err))
		     : -ENOMEM;
	if (rc == -ESHUTDOWN) {
		http_reply_error(c->req, 409, "WebJobs are currently in \"stopped\" state.");
	} else if (rc == -EBUSY) {
		http_reply_error(c->req, 409, "Cannot start a new run since job is already running.");
	} else if (rc == -EXFULL) {
		http_reply_error(c->req, 409, "The run queue is full.");
	} else if (rc == -ENOTCONN) {
		http_reply_error(c->req, 503, "The home cannot be reached; no run starts until it can.");
	} else if (rc == -ESTALE) {
		http_reply_error(c->req, 503,
				 "The job was deleted or deployed again a moment ago on another "
				 "instance; try again in a second.");
	} else if (rc < 0) {
		http_reply_error(c->req, 500, "Cannot start the run: %s", err);
	} else {
		reply_accepted(c, job_name(j), id);
	}
	free(trigger);
	free(arguments);
}

void api_delete(struct call *c)
{
	const char *name = c->m.params[0];

	/* A name that cannot be a job never reaches the file system. */
	if (home_valid_job_name(name)) {
		if (c->m.type == JOB_TRIGGERED)
			runner_kill_job(c->api->runner, name);
		else
			supervisor_delete(c->api->supervisor, name);
		deploy_remove(c->api->home, c->api->loop, c->m.type, name, share_active());
		metrics_forget(name);
		registry_touch(c->api->registry, c->m.type, name);
		registry_refresh(c->api->registry);
	}
	http_reply_empty(c->req, 200);
}

void api_put_settings(struct call *c)
{
	struct job *j = api_find_job(c);
	size_t len;
	const char *body = http_body(c->req, &len);
	json_t *o;
	char path[4096];
	int dfd, rc;

	if (!j)
		return;
	o = json_loadb(body, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		http_reply_error(c->req, 400, "The settings must be a JSON object.");
		return;
	}
	json_decref(o);
	snprintf(path, sizeof(path), "%s%s%s", job_name(j), *job_script_dir(j) ? "/" : "",
		 job_script_dir(j));
	dfd = openat(c->api->home->jobs_fd[c->m.type], path,
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	rc = dfd < 0 ? -errno : files_write_atomic(dfd, "settings.job", body, len, 0644, 1);
	if (dfd >= 0)
		close(dfd);
	if (rc == -ENOENT) {
		/* Removed on disk a moment ago: the registry has not seen it. */
		api_reply_no_job(c);
		return;
	}
	if (rc < 0) {
		http_reply_error(c->req, rc == -ENOSPC ? 507 : 500,
				 "Cannot write settings.job: %s", strerror(-rc));
		return;
	}
	/* Re-read now: the listeners (the schedule, a continuous job's
	 * restart) hear of it before the next request is handled. */
	registry_touch(c->api->registry, c->m.type, job_name(j));
	registry_refresh(c->api->registry);
	http_reply_empty(c->req, 200);
}

void api_start_stop(struct call *c, int enable)
{
	struct job *j = api_find_job(c);
	int rc;

	if (!j)
		return;
	rc = supervisor_set_enabled(c->api->supervisor, j, enable);
	/* Applied at once: the job is re-read now, and the supervisor hears
	 * of it from the loop's queue before the next request is handled. */
	registry_refresh(c->api->registry);
	if (rc == -ENOENT)
		api_reply_no_job(c); /* removed on disk a moment ago */
	else if (rc < 0)
		http_reply_error(c->req, 500, "Cannot %s the job: %s", enable ? "start" : "stop",
				 strerror(-rc));
	else
		http_reply_empty(c->req, 200);
}

/* POST .../history/{id}/abort and .../abort (docs/API.md, "Run control"). */
void api_abort(struct call *c, int whole_job)
{
	struct job *j = api_find_job(c);
	const char *id = whole_job ? NULL : c->m.params[1];
	char user[256] = "", out[RUN_ID_LEN + 1];
	int rc;

	if (!j)
		return;
	if (id && !time_is_run_id(id)) {
		http_reply_error(c->req, 404, "No run '%s' of job '%s' was found.", id, job_name(j));
		return;
	}
	auth_user_name(http_header(c->req, "Authorization"), user, sizeof(user));
	rc = runner_abort(c->api->runner, job_name(j), id, user[0] ? user : "an unknown user", out);
	if (rc == -ENOENT) {
		http_reply_error(c->req, 404, "No run '%s' of job '%s' was found.", id, job_name(j));
	} else if (rc == -EALREADY) {
		http_reply_error(c->req, 409, "The run has already ended.");
	} else if (rc == -ESRCH) {
		http_reply_error(c->req, 409, "No run is in progress.");
	} else if (rc < 0) {
		http_reply_error(c->req, rc == -ENOSPC ? 507 : 500, "Cannot abort the run: %s",
				 strerror(-rc));
	} else {
		reply_accepted(c, job_name(j), out);
	}
}

