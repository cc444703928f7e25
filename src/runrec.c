/*
 * runrec: parsing, writing and presenting run status records. Parsing is
 * forgiving (keys in any case, extra keys ignored) because records may come
 * from other instances or older versions; presenting follows docs/API.md ("JSON shapes") to the
 * byte.
 */
#define _GNU_SOURCE
#include "runrec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "jsonw.h"

#define RECORD_MAX_SIZE (256 * 1024)

static const json_t *get_ci(const json_t *obj, const char *key)
{
	const char *k;
	const json_t *v;

	json_object_foreach((json_t *)obj, k, v)
		if (strcasecmp(k, key) == 0)
			return v;
	return NULL;
}

static char *dup_string(const json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

int runrec_parse(const char *id, const char *text, size_t len,
		 struct runrec *r)
{
	json_t *obj;
	const json_t *v;
	int64_t t;

	memset(r, 0, sizeof(*r));
	if (!time_is_run_id(id))
		return -EINVAL;
	obj = json_loadb(text, len, 0, NULL);
	if (!json_is_object(obj))
		goto fail;
	memcpy(r->id, id, RUN_ID_LEN + 1);
	v = get_ci(obj, "Status");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= sizeof(r->status))
		goto fail;
	strcpy(r->status, json_string_value(v));
	v = get_ci(obj, "StartTime");
	if (json_is_string(v) && time_parse_iso(json_string_value(v), &t) == 0)
		r->start = t;
	else if (time_parse_run_id(id, &t) == 0)
		r->start = t;
	else
		goto fail;
	v = get_ci(obj, "EndTime");
	if (json_is_string(v) && time_parse_iso(json_string_value(v), &t) == 0 &&
	    t > 0)
		r->end = t;
	v = get_ci(obj, "ExitCode");
	if (json_is_integer(v)) {
		r->has_exit_code = 1;
		r->exit_code = (int)json_integer_value(v);
	}
	v = get_ci(obj, "Pid");
	if (json_is_integer(v))
		r->pid = (int)json_integer_value(v);
	v = get_ci(obj, "PidStart");
	if (json_is_integer(v))
		r->pid_start = json_integer_value(v);
	r->trigger = dup_string(get_ci(obj, "Trigger"));
	if (!r->trigger && !(r->trigger = strdup("")))
		goto fail;
	r->instance = dup_string(get_ci(obj, "InstanceId"));
	r->arguments = dup_string(get_ci(obj, "Arguments"));
	r->never_started = json_is_true(get_ci(obj, "NeverStarted"));
	v = get_ci(obj, "Attempt");
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 1000)
		r->attempt = (int)json_integer_value(v);
	v = get_ci(obj, "Slot");
	if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 1000)
		r->slot = (int)json_integer_value(v);
	json_decref(obj);
	return 0;
fail:
	json_decref(obj);
	runrec_free(r);
	return -EINVAL;
}

char *runrec_serialize(const struct runrec *r)
{
	struct jsonw w;
	char t[TIME_ISO_MAX];

	jsonw_init(&w);
	jsonw_raw(&w, "{", 1);
	jsonw_member_str(&w, "Trigger", r->trigger ? r->trigger : "");
	jsonw_member_str(&w, "Status", r->status);
	time_format_iso(r->start, t);
	jsonw_member_str(&w, "StartTime", t);
	if (r->end) {
		time_format_iso(r->end, t);
		jsonw_member_str(&w, "EndTime", t);
	}
	if (r->has_exit_code)
		jsonw_member_int(&w, "ExitCode", r->exit_code);
	if (r->pid) {
		jsonw_member_int(&w, "Pid", r->pid);
		jsonw_member_int(&w, "PidStart", r->pid_start);
	}
	if (r->instance)
		jsonw_member_str(&w, "InstanceId", r->instance);
	if (r->arguments)
		jsonw_member_str(&w, "Arguments", r->arguments);
	if (r->attempt)
		jsonw_member_int(&w, "Attempt", r->attempt);
	if (r->never_started)
		jsonw_member_raw(&w, "NeverStarted", "true");
	if (r->slot)
		jsonw_member_int(&w, "Slot", r->slot);
	jsonw_raw(&w, "}", 1);
	return jsonw_end(&w);
}

int runrec_load(int dfd, const char *id, struct runrec *r)
{
	char path[RUN_ID_LEN + 16], *buf = NULL;
	struct stat st;
	int fd, rc;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	if (!time_is_run_id(id))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/status", id);
	fd = files_open_read(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -EINVAL;
	rc = -EINVAL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > RECORD_MAX_SIZE)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n < 0)
		goto out;
	rc = runrec_parse(id, buf, (size_t)n, r);
out:
	free(buf);
	close(fd);
	return rc;
}

int runrec_copy(struct runrec *dst, const struct runrec *src)
{
	*dst = *src;
	dst->trigger = src->trigger ? strdup(src->trigger) : NULL;
	dst->instance = src->instance ? strdup(src->instance) : NULL;
	dst->arguments = src->arguments ? strdup(src->arguments) : NULL;
	if ((src->trigger && !dst->trigger) || (src->instance && !dst->instance) ||
	    (src->arguments && !dst->arguments)) {
		runrec_free(dst);
		return -ENOMEM;
	}
	return 0;
}

void runrec_free(struct runrec *r)
{
	free(r->trigger);
	free(r->instance);
	free(r->arguments);
	r->trigger = r->instance = r->arguments = NULL;
}

int runrec_live(int jfd, const struct runrec *r, const char *active)
{
	if (r->slot)
		return runrec_lock_held(jfd, r->slot);
	return active && strcmp(active, r->id) == 0 && runrec_lock_held(jfd, 0);
}

int runrec_waiting(const struct runrec *r)
{
	return strcmp(r->status, "Queued") == 0 || r->never_started;
}

int runrec_wait_state(int jfd, const char *id)
{
	struct runrec rec;
	int w;

	if (runrec_load(jfd, id, &rec) < 0)
		return -1;
	w = strcmp(rec.status, "Queued") == 0 ? 2 : rec.never_started;
	runrec_free(&rec);
	return w;
}

int runrec_in_progress(const struct runrec *r)
{
	return strcmp(r->status, "Initializing") == 0 ||
	       strcmp(r->status, "Running") == 0 || strcmp(r->status, "Queued") == 0;
}

/* "{prefix}/vfs/data/jobs/triggered/{job}/{id}/{file}" or null. */
static json_t *log_url(const struct run_view *v, const char *id,
		       const char *file, int exists)
{
	if (!exists)
		return json_null();
	return json_sprintf("%s/vfs/data/jobs/triggered/%s/%s/%s", v->prefix,
			    v->job, id, file);
}

json_t *runrec_json(const struct runrec *r, const struct run_view *v)
{
	json_t *o = json_object();
	char t[TIME_ISO_MAX], d[48];
	int64_t end = v->end ? v->end : v->now;

	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "name", json_string(r->id));
	json_object_set_new(o, "status", json_string(v->status));
	time_format_iso(r->start, t);
	json_object_set_new(o, "start_time", json_string(t));
	if (v->end)
		time_format_iso(v->end, t);
	else
		strcpy(t, "0001-01-01T00:00:00");
	json_object_set_new(o, "end_time", json_string(t));
	time_format_duration(end - r->start, d, sizeof(d));
	json_object_set_new(o, "duration", json_string(d));
	json_object_set_new(o, "output_url",
			    log_url(v, r->id, "output_log.txt", v->has_output));
	json_object_set_new(o, "error_url",
			    log_url(v, r->id, "error_log.txt", v->has_error));
	json_object_set_new(o, "url",
			    json_sprintf("%s/api/triggeredwebjobs/%s/history/%s",
					 v->prefix, v->job, r->id));
	json_object_set_new(o, "job_name", json_string(v->job));
	json_object_set_new(o, "trigger", json_string(r->trigger));
	/* webjobs' extension after Kudu's fields (docs/API.md, "Run control"). */
	json_object_set_new(o, "attempt", json_integer(r->attempt > 0 ? r->attempt : 1));
	return o;
}

int runrec_lock_held(int jfd, int slot)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = slot > 0 ? slot - 1 : 0, .l_len = slot > 0 ? 1 : 0 };
	int fd = openat(jfd, "triggeredJob.lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int held = 0;

	if (fd < 0)
		return 0;
	/* The lock reported must be the one such a run takes: a slot's byte
	 * is not the whole lock, and the whole lock is not a slot's byte (a
	 * network file system may report "to the end" as a huge length). */
	if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		held = slot > 0 ? fl.l_start == slot - 1 && fl.l_len == 1
				: fl.l_start == 0 && (fl.l_len == 0 || fl.l_len > 65536);
	close(fd);
	return held;
}
