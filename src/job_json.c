/*
 * job_json: a job as the API shows it — the body of a job (cached per
 * request prefix while it depends on nothing but the job's files; a
 * continuous job's status in front of its cached rest), its history and
 * its runs.
 */
#define _GNU_SOURCE
#include "job_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "instances.h"

/* The time of the last sign of life of a run: its newest file. */
static int64_t last_activity(int dfd, const char *id)
{
	static const char *const files[] = { "output_log.txt", "status" };
	int64_t best = 0;

	for (size_t i = 0; i < 2; i++) {
		char path[RUN_ID_LEN + 32];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", id, files[i]);
		if (fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			int64_t t = (int64_t)st.st_mtim.tv_sec * TICKS_PER_SEC +
				    st.st_mtim.tv_nsec / 100;
			if (t > best)
				best = t;
		}
	}
	return best;
}

/* The job's run in progress or last ended: the newest run that is not
 * Queued (queued runs are the newest ones), or NULL. */
static const char *active_run(const struct job *j, int dfd)
{
	if (!j->has_latest || !runrec_waiting(&j->latest))
		return job_newest_run(j);
	for (size_t k = j->nruns; dfd >= 0 && k-- > 0;)
		if (runrec_wait_state(dfd, j->runs[k]) == 0)
			return j->runs[k]; /* unreadable ones are skipped */
	return NULL;
}

/* Fills the status and end to report for r (the Aborted rule of docs/API.md, "Triggered runs"). */
static void view_status(const struct job *j, int dfd, const struct runrec *r,
			struct run_view *v)
{
	const char *active;

	v->status = r->status;
	v->end = r->end;
	if (!runrec_in_progress(r))
		return;
	if (strcmp(r->status, "Queued") == 0) {
		v->end = 0; /* waits for the lock; survives restarts */
		return;
	}
	active = r->slot ? NULL : active_run(j, dfd);
	if (dfd >= 0 && runrec_live(dfd, r, active)) {
		v->end = 0;
		return;
	}
	v->status = "Aborted";
	if (!v->end)
		v->end = dfd >= 0 ? last_activity(dfd, r->id) : r->start;
	if (v->end < r->start)
		v->end = r->start;
}

static json_t *url(const char *prefix, const struct job *j, const char *more)
{
	return json_sprintf("%s/api/%swebjobs/%s%s", prefix,
			    home_type_name(j->type), j->name, more);
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* text as a JSON string, or NULL (out of memory, not UTF-8). */
static char *json_text(const char *text)
{
	json_t *v = json_string(text);
	char *s = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

	json_decref(v);
	return s;
}

/* status (copied to status) and detailed_status (returned, the caller
 * frees it; NULL when out of memory) of a continuous job from the live
 * instances: the detail is an "id - status" line per instance. */
static char *continuous_state(const struct job *j, const struct home *h,
			      char status[INSTANCE_STATUS_MAX])
{
	struct instance_status *v = NULL;
	const char *active = NULL;
	char *detail;
	size_t cap, at = 0;
	int dfd = -1, n = 0, others = 0;

	/* The files seen by the last read of the folder (a file made or
	 * removed is an event that reads it again); each is asked whether
	 * its instance lives, but for this one's, known here (a listing of
	 * 1,000 jobs made no call to the file system then). */
	for (int i = 0; j->inst_known && i < j->ninst; i++)
		others |= !j->own_status[0] || strcmp(j->inst[i], j->own_id) != 0;
	if (!j->inst_known || others)
		dfd = job_open_data(j, h);
	if (j->inst_known)
		n = instances_read_ids(dfd, (const char *const *)j->inst, j->ninst, j->own_id,
				       j->own_status[0] ? j->own_status : NULL, &v);
	else if (dfd >= 0)
		n = instances_read(dfd, &v);
	if (dfd >= 0)
		close(dfd);
	for (int i = 0; i < n; i++)
		if (strcmp(v[i].status, "InactiveInstance") != 0)
			active = v[i].status;
	snprintf(status, INSTANCE_STATUS_MAX, "%s",
		 n > 0 ? (active ? active : "InactiveInstance")
		       : j->disabled ? "Stopped" : "Initializing");
	/* Each line fits: an id, " - ", a status, a newline. */
	cap = 1 + (size_t)(n > 0 ? n : 0) * (sizeof(*v) + 4);
	if ((detail = malloc(cap))) {
		detail[0] = '\0';
		for (int i = 0; i < n && at < cap; i++)
			at += (size_t)snprintf(detail + at, cap - at, "%s - %s\n", v[i].id,
					       v[i].status);
	}
	free(v);
	return detail;
}

/* The job's JSON; a continuous job's without status and detailed_status
 * (continuous_body puts them in front). */
static json_t *render(struct job *j, const struct home *h, const char *prefix)
{
	json_t *o = json_object();
	const char *type = home_type_name(j->type);

	if (j->type == JOB_TRIGGERED) {
		json_t *latest = json_null();

		if (j->has_latest) {
			int dfd = job_open_data(j, h);
			struct run_view v = { .prefix = prefix, .job = j->name,
					      .has_output = j->latest_out,
					      .has_error = j->latest_err,
					      .now = time_now_ticks() };

			view_status(j, dfd, &j->latest, &v);
			latest = runrec_json(&j->latest, &v);
			if (dfd >= 0)
				close(dfd);
		}
		json_object_set_new(o, "latest_run", latest);
		json_object_set_new(o, "history_url", url(prefix, j, "/history"));
		json_object_set_new(
			o, "scheduler_logs_url",
			j->has_sched_log
				? json_sprintf("%s/vfs/data/jobs/triggered/%s/job_scheduler.log",
					       prefix, j->name)
				: json_null());
	} else {
		json_object_set_new(
			o, "log_url",
			json_sprintf("%s/vfs/data/jobs/continuous/%s/job_log.txt",
				     prefix, j->name));
	}
	json_object_set_new(o, "name", json_string(j->name));
	json_object_set_new(o, "run_command", string_or_null(j->run_command));
	json_object_set_new(o, "url", url(prefix, j, ""));
	json_object_set_new(o, "extra_info_url",
			    json_sprintf("%s/azurejobs/#/jobs/%s/%s", prefix,
					 type, j->name));
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "error", string_or_null(j->error));
	json_object_set_new(o, "using_sdk", json_boolean(j->using_sdk));
	json_object_set(o, "settings", j->settings);
	if (j->type == JOB_TRIGGERED) {
		char t[TIME_ISO_MAX];

		if (j->next_run)
			time_format_iso(j->next_run, t);
		json_object_set_new(o, "next_run", j->next_run ? json_string(t) : json_null());
	}
	return o;
}

/* A continuous job's body: its status (which instances live is asked
 * each time) in front of the rest, kept until the job changes — a listing
 * of 1,000 jobs rendered 1,000 objects each time (docs/DECISIONS.md, "A
 * restart storm"). */
static const char *continuous_body(struct job *j, const struct home *h, const char *prefix,
				   size_t *len, uint64_t *hash)
{
	json_t *o;
	char status[INSTANCE_STATUS_MAX], *s, *d, *body = NULL;
	char *detail = continuous_state(j, h, status);
	size_t blen = 0;
	int fresh = 0;
	FILE *f;

	if (!j->body_valid || !j->rest || !j->body_prefix || strcmp(j->body_prefix, prefix) != 0) {
		o = render(j, h, prefix);
		free(j->rest);
		j->rest = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		free(j->body_prefix);
		j->body_prefix = strdup(prefix);
		j->body_valid = j->rest && j->rest[0] == '{' && j->rest[1] && j->body_prefix;
		fresh = 1;
	}
	/* The body of the last call, when neither its rest nor its status
	 * changed since: a listing of 1,000 jobs builds none of them. */
	if (!fresh && j->body && detail && j->body_detail &&
	    strcmp(status, j->body_status) == 0 && strcmp(detail, j->body_detail) == 0) {
		free(detail);
		*len = j->body_len;
		*hash = j->body_hash;
		return j->body;
	}
	s = json_text(status);
	d = detail ? json_text(detail) : NULL;
	if (j->body_valid && s && d && (f = open_memstream(&body, &blen))) {
		fprintf(f, "{\"status\":%s,\"detailed_status\":%s,%s", s, d, j->rest + 1);
		if (fclose(f) != 0) {
			free(body);
			body = NULL;
		}
	}
	free(s);
	free(d);
	free(j->body);
	free(j->body_detail);
	j->body = body;
	j->body_detail = body ? detail : NULL;
	if (!body)
		free(detail);
	snprintf(j->body_status, sizeof(j->body_status), "%s", status);
	j->body_len = body ? blen : 0;
	j->body_hash = body ? job_hash_bytes(body, blen) : 0;
	*len = j->body_len;
	*hash = j->body_hash;
	return body;
}

const char *job_body(struct job *j, const struct home *h, const char *prefix,
		     size_t *len, uint64_t *hash)
{
	json_t *o;
	int cacheable = j->type == JOB_TRIGGERED &&
			!(j->has_latest && runrec_in_progress(&j->latest));

	if (j->type == JOB_CONTINUOUS)
		return continuous_body(j, h, prefix, len, hash);

	if (j->body_valid && cacheable && j->body_prefix &&
	    strcmp(j->body_prefix, prefix) == 0)
		goto out;
	o = render(j, h, prefix);
	free(j->body);
	j->body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!j->body) {
		j->body_valid = 0;
		*len = 0;
		*hash = 0;
		return NULL;
	}
	j->body_len = strlen(j->body);
	j->body_hash = job_hash_bytes(j->body, j->body_len);
	free(j->body_prefix);
	j->body_prefix = strdup(prefix);
	j->body_valid = cacheable && j->body_prefix;
out:
	*len = j->body_len;
	*hash = j->body_hash;
	return j->body;
}

/* The JSON of run id (known to be one of the job's runs), or NULL. */
static json_t *one_run(struct job *j, int dfd, const char *prefix,
		       const char *id, int64_t now)
{
	struct runrec r;
	struct run_view v = { .prefix = prefix, .job = j->name, .now = now };
	json_t *o;

	if (runrec_load(dfd, id, &r) < 0)
		return NULL;
	v.has_output = job_file_exists(dfd, id, "output_log.txt");
	v.has_error = job_file_exists(dfd, id, "error_log.txt");
	view_status(j, dfd, &r, &v);
	o = runrec_json(&r, &v);
	runrec_free(&r);
	return o;
}

json_t *job_history_json(struct job *j, const struct home *h,
			 const char *prefix)
{
	json_t *runs = json_array();
	int dfd = job_open_data(j, h);
	int64_t now = time_now_ticks();

	for (size_t k = j->nruns; dfd >= 0 && k-- > 0;) {
		json_t *o = one_run(j, dfd, prefix, j->runs[k], now);

		if (o)
			json_array_append_new(runs, o);
	}
	if (dfd >= 0)
		close(dfd);
	return json_pack("{s:o}", "runs", runs);
}

json_t *job_run_json(struct job *j, const struct home *h, const char *prefix,
		     const char *id)
{
	json_t *o = NULL;
	int dfd;
	size_t k;

	for (k = 0; k < j->nruns; k++)
		if (strcmp(j->runs[k], id) == 0)
			break;
	if (k == j->nruns)
		return NULL;
	dfd = job_open_data(j, h);
	if (dfd < 0)
		return NULL;
	o = one_run(j, dfd, prefix, id, time_now_ticks());
	close(dfd);
	return o;
}
