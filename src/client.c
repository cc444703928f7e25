/*
 * client: the client subcommands, a small Kudu WebJobs client. The
 * connection (settings, requests) is src/conn.c.
 */
#define _GNU_SOURCE
#include "client.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "timefmt.h"

static int as_json;

/* Takes a command's next operand into the first empty slot of a, b (b may
 * be NULL); -1 when there is no slot left. */
static int positional(const char *arg, const char **a, const char **b)
{
	if (!*a)
		*a = arg;
	else if (b && !*b)
		*b = arg;
	else
		return -1;
	return 0;
}

/* The job's type: 0 triggered, 1 continuous, -1 not found (said). */
static int job_type_of(const char *name, char *path, size_t size)
{
	char *e = conn_escape(name);
	struct reply r = { 0 };
	int t = -1;

	for (int k = 0; k < 2 && e; k++) {
		free(r.body);
		snprintf(path, size, "/api/%swebjobs/%s", k ? "continuous" : "triggered", e);
		if (conn_request("GET", path, NULL, 0, NULL, &r) < 0) {
			free(r.body);
			free(e);
			return -2;
		}
		if (r.status == 200) {
			t = k;
			break;
		}
		if (r.status != 404)
			break; /* 401 and the like: said below as they are */
	}
	free(e);
	if (t < 0 && r.status == 404)
		fprintf(stderr, "webjobs: 404 Not Found: no job named '%s'\n", name);
	else if (t < 0)
		conn_error(&r, "looking up the job");
	free(r.body);
	return t;
}

/* "3 min ago" for an API time. */
static void ago(const char *iso, char *buf, size_t size)
{
	int64_t t, now = time_now_ticks(), d;

	if (!iso || strncmp(iso, "0001-", 5) == 0 || time_parse_iso(iso, &t) < 0) {
		snprintf(buf, size, "-");
		return;
	}
	d = (now - t) / TICKS_PER_SEC;
	if (d < 60)
		snprintf(buf, size, "%llds ago", (long long)d);
	else if (d < 3600)
		snprintf(buf, size, "%lldm ago", (long long)d / 60);
	else if (d < 86400)
		snprintf(buf, size, "%lldh ago", (long long)d / 3600);
	else
		snprintf(buf, size, "%lldd ago", (long long)d / 86400);
}

static int print_json(const struct reply *r)
{
	json_t *o = json_loads(r->body ? r->body : "", 0, NULL);

	if (!o) {
		fputs(r->body ? r->body : "", stdout);
		return 0;
	}
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
	return 0;
}

/* ---- commands ---- */

/* GETs a listing: -1 with r->body for the caller to print as columns, or
 * the exit code once the error or (with --json) the JSON was printed. */
static int get_listing(const char *what, const char *path, struct reply *r)
{
	int rc = 0;

	if (conn_request("GET", path, NULL, 0, NULL, r) < 0)
		return 3;
	if (r->status != 200)
		rc = conn_error(r, what);
	else if (as_json)
		print_json(r);
	else
		return -1;
	free(r->body);
	return rc;
}

static int cmd_list(int argc, char **argv)
{
	int rc;
	const char *type = NULL;
	char path[64];
	struct reply r;
	json_t *arr, *j;
	size_t i;

	for (int k = 0; k < argc; k++)
		if (strcmp(argv[k], "--type") == 0 && k + 1 < argc)
			type = argv[++k];
		else
			return 2;
	if (type && strcmp(type, "triggered") && strcmp(type, "continuous"))
		return 2;
	snprintf(path, sizeof(path), "/api/%swebjobs", type ? type : "");
	if ((rc = get_listing("list", path, &r)) >= 0)
		return rc;
	arr = json_loads(r.body, 0, NULL);
	printf("%-24s %-11s %-16s %-10s %s\n", "NAME", "TYPE", "STATUS", "LAST RUN", "NEXT RUN");
	json_array_foreach(arr, i, j) {
		const char *t = json_string_value(json_object_get(j, "type"));
		json_t *latest = json_object_get(j, "latest_run");
		char when[32] = "-";
		const char *status = t && strcmp(t, "continuous") == 0
					     ? json_string_value(json_object_get(j, "status"))
					     : json_string_value(json_object_get(latest, "status"));
		const char *next = json_string_value(json_object_get(j, "next_run"));

		if (json_is_object(latest))
			ago(json_string_value(json_object_get(latest, "start_time")), when, sizeof(when));
		printf("%-24s %-11s %-16s %-10s %s\n", json_string_value(json_object_get(j, "name")),
		       t, status ? status : "-", when, next ? next : "-");
	}
	json_decref(arr);
	free(r.body);
	return 0;
}

static int cmd_show(const char *name)
{
	char path[1024];
	struct reply r;
	int t = job_type_of(name, path, sizeof(path));

	if (t < 0)
		return 3;
	if (conn_request("GET", path, NULL, 0, NULL, &r) < 0)
		return 3;
	print_json(&r);
	free(r.body);
	return 0;
}

/* ---- deploy: a file, a zip, or a folder zipped on the fly ---- */

struct membuf {
	char *p;
	size_t len;
};

static la_ssize_t mem_write(struct archive *a, void *arg, const void *data, size_t n)
{
	struct membuf *m = arg;
	char *p = realloc(m->p, m->len + n);

	(void)a;
	if (!p)
		return -1;
	memcpy(p + m->len, data, n);
	m->p = p;
	m->len += n;
	return (la_ssize_t)n;
}

static int zip_add(struct archive *a, const char *root, const char *rel)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char sub[PATH_MAX], full[PATH_MAX * 2];
		struct stat st;
		struct archive_entry *e;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		snprintf(full, sizeof(full), "%s/%s", root, sub);
		if (lstat(full, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
			continue;
		e = archive_entry_new();
		archive_entry_set_pathname(e, S_ISDIR(st.st_mode) ? strcat(sub, "/") : sub);
		archive_entry_set_mode(e, st.st_mode);
		archive_entry_set_size(e, S_ISREG(st.st_mode) ? st.st_size : 0);
		archive_write_header(a, e);
		archive_entry_free(e);
		if (S_ISREG(st.st_mode)) {
			int fd = open(full, O_RDONLY | O_CLOEXEC);
			char buf[65536];
			ssize_t n;

			while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
				archive_write_data(a, buf, (size_t)n);
			if (fd >= 0)
				close(fd);
		} else {
			sub[strlen(sub) - 1] = '\0';
			zip_add(a, root, sub);
		}
	}
	closedir(d);
	return 0;
}

static int slurp(const char *path, struct membuf *m)
{
	FILE *f = fopen(path, "rb");
	char buf[65536];
	size_t n;

	if (!f)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		mem_write(NULL, m, buf, n);
	fclose(f);
	return 0;
}

static int cmd_deploy(int argc, char **argv)
{
	const char *name = NULL, *src = NULL, *base;
	int continuous = 0, is_zip, rc;
	struct membuf m = { 0 };
	struct stat st;
	char path[1024], disp[1200], *e;
	const char *hdr[3];
	struct reply r;

	for (int k = 0; k < argc; k++) {
		if (strcmp(argv[k], "--continuous") == 0)
			continuous = 1;
		else if (positional(argv[k], &name, &src) < 0)
			return 2;
	}
	if (!name || !src)
		return 2;
	if (stat(src, &st) < 0) {
		fprintf(stderr, "webjobs: %s: %s\n", src, strerror(errno));
		return 2;
	}
	base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
	is_zip = S_ISDIR(st.st_mode) || (strlen(base) > 4 && !strcasecmp(base + strlen(base) - 4, ".zip"));
	if (S_ISDIR(st.st_mode)) {
		struct archive *a = archive_write_new();

		archive_write_set_format_zip(a);
		archive_write_open2(a, &m, NULL, mem_write, NULL, NULL);
		zip_add(a, src, "");
		archive_write_close(a);
		archive_write_free(a);
		base = "job.zip";
	} else if (slurp(src, &m) < 0) {
		fprintf(stderr, "webjobs: cannot read %s\n", src);
		return 2;
	}
	e = conn_escape(name);
	snprintf(path, sizeof(path), "/api/%swebjobs/%s", continuous ? "continuous" : "triggered",
		 e ? e : "");
	free(e);
	snprintf(disp, sizeof(disp), "Content-Disposition: attachment; filename=\"%s\"", base);
	hdr[0] = disp;
	hdr[1] = is_zip ? "Content-Type: application/zip" : "Content-Type: application/octet-stream";
	hdr[2] = NULL;
	rc = conn_call("PUT", path, m.p ? m.p : "", m.len, hdr, 200, "deploy", &r);
	free(m.p);
	if (rc != 0)
		return rc;
	if (as_json)
		print_json(&r);
	else
		printf("deployed %s job %s\n", continuous ? "continuous" : "triggered", name);
	free(r.body);
	return 0;
}

/* Shell-quotes words into one arguments string the host splits back. */
static char *join_args(int argc, char **argv)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	for (int i = 0; i < argc && f; i++) {
		if (i)
			fputc(' ', f);
		fputc('\'', f);
		for (const char *p = argv[i]; *p; p++)
			if (*p == '\'')
				fputs("'\\''", f);
			else
				fputc(*p, f);
		fputc('\'', f);
	}
	if (f)
		fclose(f);
	return out;
}

/* The run's status and attempt (1 when the host does not say). */
static int run_status(const char *rel, char *status, size_t size, long *attempt)
{
	struct reply r;
	json_t *o;
	const char *s;

	if (conn_request("GET", rel, NULL, 0, NULL, &r) < 0)
		return -1;
	o = json_loads(r.body ? r.body : "", 0, NULL);
	s = json_string_value(json_object_get(o, "status"));
	snprintf(status, size, "%s", s ? s : "");
	*attempt = json_is_integer(json_object_get(o, "attempt"))
			   ? (long)json_integer_value(json_object_get(o, "attempt")) : 1;
	json_decref(o);
	free(r.body);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	const char *name = NULL;
	int wait = 0, follow = 0, nargs = 0;
	long attempt = 1;
	char **args = NULL, path[8192], status[32], *e, *q = NULL, *joined = NULL, *rel;
	struct reply r;
	const char *loc;

	for (int k = 0; k < argc; k++) {
		if (strcmp(argv[k], "--wait") == 0)
			wait = 1;
		else if (strcmp(argv[k], "--follow") == 0)
			follow = 1;
		else if (strcmp(argv[k], "--") == 0) {
			args = argv + k + 1;
			nargs = argc - k - 1;
			break;
		} else if (positional(argv[k], &name, NULL) < 0)
			return 2;
	}
	if (!name)
		return 2;
	e = conn_escape(name);
	if (nargs) {
		joined = join_args(nargs, args);
		q = joined ? conn_escape(joined) : NULL;
	}
	snprintf(path, sizeof(path), "/api/triggeredwebjobs/%s/run%s%s", e ? e : "",
		 q ? "?arguments=" : "", q ? q : "");
	free(e);
	free(q);
	free(joined);
	if (conn_call("POST", path, NULL, 0, NULL, 202, "run", &r) != 0)
		return 3;
	free(r.body);
	/* The run's id: the last segment of the Location header. */
	loc = strrchr(r.location, '/') ? strdup(strrchr(r.location, '/') + 1) : NULL;
	e = conn_escape(name);
	snprintf(path, sizeof(path), "/api/triggeredwebjobs/%s/history", e ? e : "");
	free(e);
	if (!loc || strlen(loc) != RUN_ID_LEN) {
		fprintf(stderr, "webjobs: the run was started but cannot be found\n");
		return 3;
	}
	rel = NULL;
	if (asprintf(&rel, "%s/%s", path, loc) < 0)
		return 3;
	if (!wait && !follow) {
		printf("%s\n", loc);
		free(rel);
		free((char *)loc);
		return 0;
	}
	if (follow) {
		char *fp = NULL;

		if (asprintf(&fp, "%s/log", rel) >= 0)
			conn_stream(fp);
		free(fp);
	}
	for (;;) {
		if (run_status(rel, status, sizeof(status), &attempt) < 0) {
			free(rel);
			return 3;
		}
		if (strcmp(status, "Queued") && strcmp(status, "Initializing") &&
		    strcmp(status, "Running"))
			break;
		usleep(200000);
	}
	/* "ID Status", and the attempts when the job retried. */
	if (!follow && attempt > 1)
		printf("%s %s after %ld attempts\n", loc, status, attempt);
	else if (!follow)
		printf("%s %s\n", loc, status);
	free(rel);
	free((char *)loc);
	return strcmp(status, "Success") == 0 ? 0 : strcmp(status, "Aborted") == 0 ? 4 : 1;
}

static int cmd_history(int argc, char **argv)
{
	const char *name = NULL;
	long n = 20;
	char path[1024], *e, *end;
	struct reply r;
	json_t *o, *runs, *run;
	size_t i;

	for (int k = 0; k < argc; k++)
		if (strcmp(argv[k], "-n") == 0 && k + 1 < argc) {
			n = strtol(argv[++k], &end, 10);
			if (*end || n < 0)
				return 2;
		} else if (positional(argv[k], &name, NULL) < 0) {
			return 2;
		}
	if (!name)
		return 2;
	e = conn_escape(name);
	snprintf(path, sizeof(path), "/api/triggeredwebjobs/%s/history", e ? e : "");
	free(e);
	if (conn_call("GET", path, NULL, 0, NULL, 200, "history", &r) != 0)
		return 3;
	o = json_loads(r.body ? r.body : "", 0, NULL);
	runs = json_object_get(o, "runs");
	/* -n counts with --json too: the newest n runs. */
	while (json_array_size(runs) > (size_t)n)
		json_array_remove(runs, json_array_size(runs) - 1);
	if (as_json) {
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else {
		printf("%-18s  %-12s %-10s %-17s %s\n", "RUN", "STATUS", "STARTED", "DURATION",
		       "TRIGGER");
	}
	json_array_foreach(as_json ? NULL : runs, i, run) {
		char when[32];

		ago(json_string_value(json_object_get(run, "start_time")), when, sizeof(when));
		printf("%-18s  %-12s %-10s %-17s %s\n", json_string_value(json_object_get(run, "id")),
		       json_string_value(json_object_get(run, "status")), when,
		       json_string_value(json_object_get(run, "duration")),
		       json_string_value(json_object_get(run, "trigger")));
	}
	json_decref(o);
	free(r.body);
	return 0;
}

static int stream_to_stdout(const char *rel)
{
	struct reply r;

	if (conn_call("GET", rel, NULL, 0, NULL, 200, "logs", &r) != 0)
		return 3;
	fwrite(r.body ? r.body : "", 1, r.len, stdout);
	free(r.body);
	return 0;
}

static int cmd_logs(int argc, char **argv)
{
	const char *name = NULL, *id = NULL;
	int f = 0, t;
	char path[1024], rel[2048], *e;

	for (int k = 0; k < argc; k++)
		if (strcmp(argv[k], "-f") == 0 || strcmp(argv[k], "--follow") == 0)
			f = 1;
		else if (positional(argv[k], &name, &id) < 0)
			return 2;
	if (!name)
		return 2;
	t = job_type_of(name, path, sizeof(path));
	if (t < 0)
		return 3;
	e = conn_escape(name);
	if (t == 1) {
		if (f)
			snprintf(rel, sizeof(rel), "/api/continuouswebjobs/%s/log?tail=50", e ? e : "");
		else
			snprintf(rel, sizeof(rel), "/vfs/data/jobs/continuous/%s/job_log.txt", e ? e : "");
	} else {
		char runid[RUN_ID_LEN + 1] = "";

		if (id) {
			snprintf(runid, sizeof(runid), "%s", id);
		} else {
			struct reply r;
			json_t *o;
			const char *s;

			if (conn_request("GET", path, NULL, 0, NULL, &r) < 0) {
				free(e);
				return 3;
			}
			o = json_loads(r.body ? r.body : "", 0, NULL);
			s = json_string_value(json_object_get(json_object_get(o, "latest_run"), "id"));
			snprintf(runid, sizeof(runid), "%s", s ? s : "");
			json_decref(o);
			free(r.body);
			if (!runid[0]) {
				fprintf(stderr, "webjobs: %s has not run yet\n", name);
				free(e);
				return 3;
			}
		}
		if (f)
			snprintf(rel, sizeof(rel), "/api/triggeredwebjobs/%s/history/%s/log", e ? e : "",
				 runid);
		else
			snprintf(rel, sizeof(rel), "/vfs/data/jobs/triggered/%s/%s/output_log.txt",
				 e ? e : "", runid);
	}
	free(e);
	if (f)
		return conn_stream(rel);
	return stream_to_stdout(rel);
}

static int cmd_simple(const char *what, const char *method, const char *name, const char *suffix,
		      int need_continuous)
{
	char path[1024];
	struct reply r;
	int t = job_type_of(name, path, sizeof(path));

	if (t < 0)
		return 3;
	if (need_continuous && t != 1) {
		fprintf(stderr, "webjobs: %s is not a continuous job\n", name);
		return 2;
	}
	strncat(path, suffix, sizeof(path) - strlen(path) - 1);
	if (conn_call(method, path, NULL, 0, NULL, 200, what, &r) != 0)
		return 3;
	free(r.body);
	printf("%s %s\n", what, name);
	return 0;
}

/* webjobs abort NAME [RUN_ID]: the run (or the job's run in progress) is
 * stopped and ends Aborted, on whichever instance runs it. */
static int cmd_abort(int argc, char **argv)
{
	const char *name = NULL, *id = NULL;
	char path[1024], *e;
	struct reply r;

	for (int k = 0; k < argc; k++)
		if (positional(argv[k], &name, &id) < 0)
			return 2;
	if (!name)
		return 2;
	e = conn_escape(name);
	if (id)
		snprintf(path, sizeof(path), "/api/triggeredwebjobs/%s/history/%s/abort", e ? e : "",
			 id);
	else
		snprintf(path, sizeof(path), "/api/triggeredwebjobs/%s/abort", e ? e : "");
	free(e);
	if (conn_call("POST", path, NULL, 0, NULL, 202, "abort", &r) != 0)
		return 3;
	free(r.body);
	printf("aborting run %s of %s\n", strrchr(r.location, '/') ? strrchr(r.location, '/') + 1 : "?",
	       name);
	return 0;
}

static int cmd_settings(int argc, char **argv)
{
	char path[1024];
	struct reply r;
	json_t *o;
	int t;

	if (argc < 1)
		return 2;
	t = job_type_of(argv[0], path, sizeof(path));
	if (t < 0)
		return 3;
	strncat(path, "/settings", sizeof(path) - strlen(path) - 1);
	if (conn_request("GET", path, NULL, 0, NULL, &r) < 0)
		return 3;
	if (argc == 1) {
		print_json(&r);
		free(r.body);
		return 0;
	}
	o = json_loads(r.body ? r.body : "{}", 0, NULL);
	free(r.body);
	if (!json_is_object(o))
		o = json_object();
	for (int k = 1; k < argc; k++) {
		char *eq = strchr(argv[k], '=');
		json_t *v;

		if (!eq || eq == argv[k]) {
			json_decref(o);
			return 2;
		}
		*eq = '\0';
		v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
		json_object_set_new(o, argv[k], v ? v : json_string(eq + 1));
	}
	{
		char *text = json_dumps(o, JSON_COMPACT);
		const char *hdr[] = { "Content-Type: application/json", NULL };

		int rc;

		json_decref(o);
		rc = text ? conn_call("PUT", path, text, strlen(text), hdr, 200, "settings", &r) : 3;
		free(text);
		if (rc != 0)
			return rc;
	}
	free(r.body);
	printf("settings of %s saved\n", argv[0]);
	return 0;
}

static const struct {
	const char *name, *synopsis, *help;
} commands[] = {
	{ "list", "webjobs list [--type triggered|continuous] [--json]",
	  "Lists the jobs: name, type, status, last run (relative) and next run; or the\n"
	  "host's JSON with --json.\n" },
	{ "show", "webjobs show NAME", "Prints one job's JSON (triggered or continuous).\n" },
	{ "deploy", "webjobs deploy NAME PATH [--continuous]",
	  "Deploys PATH as job NAME (triggered unless --continuous): a script file, a .zip,\n"
	  "or a folder (zipped on the fly). The job's files are replaced whole.\n" },
	{ "run", "webjobs run NAME [--wait] [--follow] [-- ARGS...]",
	  "Starts a run of triggered job NAME with ARGS (quoted so that the host splits\n"
	  "them back as given) and prints its id. --wait waits for its end and exits 0\n"
	  "(Success), 1 (Failed) or 4 (Aborted); --follow also prints its log as it runs.\n" },
	{ "history", "webjobs history NAME [-n N] [--json]",
	  "Lists the newest N runs (default 20) of triggered job NAME, as columns or JSON.\n" },
	{ "logs", "webjobs logs NAME [RUN_ID] [-f]",
	  "Prints a run's log (the newest run unless RUN_ID), or a continuous job's log;\n"
	  "-f follows it as it grows.\n" },
	{ "start", "webjobs start NAME", "Starts continuous job NAME (removes disable.job).\n" },
	{ "stop", "webjobs stop NAME", "Stops continuous job NAME (creates disable.job).\n" },
	{ "settings", "webjobs settings NAME [KEY=VALUE ...]",
	  "Prints job NAME's settings.job, or sets keys in it (values are JSON when they\n"
	  "parse as JSON, else strings).\n" },
	{ "abort", "webjobs abort NAME [RUN_ID]",
	  "Aborts the run RUN_ID of triggered job NAME, or its run in progress: the run\n"
	  "is asked to stop (shutdown file, SIGTERM, SIGKILL after stopping_wait_time)\n"
	  "and ends Aborted, whichever instance runs it.\n" },
	{ "delete", "webjobs delete NAME", "Deletes job NAME, its runs and logs.\n" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char options_text[] =
	"Client options: --url URL, --user USER ($WEBJOBS_URL, $WEBJOBS_USERNAME,\n"
	"$WEBJOBS_PASSWORD, or ~/.config/webjobs/config with url=, user=, password=,\n"
	"mode 600). Exit codes: 0 ok, 1 the run failed, 2 usage, 3 HTTP or\n"
	"connection error (the message starts with the HTTP status), 4 the run was\n"
	"aborted.\n";

int client_is_command(const char *cmd)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return 1;
	return 0;
}

void client_usage(void)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("  %s\n", commands[i].synopsis);
	fputs(options_text, stdout);
}

int client_help(const char *cmd)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(cmd, commands[i].name) == 0) {
			printf("Usage: %s\n\n%s\n%s", commands[i].synopsis, commands[i].help,
			       options_text);
			return 0;
		}
	return -1;
}

static int dispatch(const char *cmd, int n, char **rest)
{
	if (strcmp(cmd, "list") == 0)
		return cmd_list(n, rest);
	if (strcmp(cmd, "show") == 0)
		return n == 1 ? cmd_show(rest[0]) : 2;
	if (strcmp(cmd, "deploy") == 0)
		return cmd_deploy(n, rest);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(n, rest);
	if (strcmp(cmd, "history") == 0)
		return cmd_history(n, rest);
	if (strcmp(cmd, "logs") == 0)
		return cmd_logs(n, rest);
	if (strcmp(cmd, "start") == 0)
		return n == 1 ? cmd_simple("started", "POST", rest[0], "/start", 1) : 2;
	if (strcmp(cmd, "stop") == 0)
		return n == 1 ? cmd_simple("stopped", "POST", rest[0], "/stop", 1) : 2;
	if (strcmp(cmd, "settings") == 0)
		return cmd_settings(n, rest);
	if (strcmp(cmd, "abort") == 0)
		return cmd_abort(n, rest);
	if (strcmp(cmd, "delete") == 0)
		return n == 1 ? cmd_simple("deleted", "DELETE", rest[0], "", 0) : 2;
	return 2;
}

int client_main(const char *cmd, int argc, char **argv)
{
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	const char *url = NULL, *name = NULL;
	int n = 0, rc;

	if (!rest)
		return 3;
	for (int k = 0; k < argc; k++) {
		if (strcmp(argv[k], "--url") == 0 && k + 1 < argc)
			url = argv[++k];
		else if (strcmp(argv[k], "--user") == 0 && k + 1 < argc)
			name = argv[++k];
		else if (strcmp(argv[k], "--json") == 0)
			as_json = 1;
		else if (strcmp(argv[k], "--password") == 0) {
			fprintf(stderr, "webjobs: the password is never taken from the command line: "
					"use $WEBJOBS_PASSWORD or ~/.config/webjobs/config\n");
			free(rest);
			return 2;
		} else if (strcmp(argv[k], "--") == 0) {
			while (k < argc)
				rest[n++] = argv[k++];
		} else
			rest[n++] = argv[k];
	}
	if ((rc = conn_open(url, name)) != 0) {
		free(rest);
		return rc;
	}
	rc = dispatch(cmd, n, rest);
	if (rc == 2)
		fprintf(stderr, "webjobs: usage: see 'webjobs help %s'\n", cmd);
	free(rest);
	conn_close();
	return rc;
}
