/*
 * metrics: a few labelled series in small arrays (a host has at most some
 * thousands of jobs; a scrape walks them once).
 */
#define _GNU_SOURCE
#include "metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timefmt.h"

#define NBUCKETS 12
static const double run_buckets[NBUCKETS] = { 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 86400 };
static const double delay_buckets[NBUCKETS] = { 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
						0.25, 0.5, 1, 5, 30 };

struct series {
	char *a, *b;      /* label values */
	double value;
};

struct family {
	struct series *v;
	size_t n, cap;
};

struct histogram {
	unsigned long long buckets[NBUCKETS];
	unsigned long long count;
	double sum;
};

static struct family runs, last_success, restarts, http_requests, aborts, timeouts, retries,
	webhooks;
static struct histogram run_duration, fire_delay;

static struct series *get(struct family *f, const char *a, const char *b)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].a, a) == 0 && strcmp(f->v[i].b, b) == 0)
			return &f->v[i];
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct series *v = realloc(f->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n].a = strdup(a);
	f->v[f->n].b = strdup(b);
	f->v[f->n].value = 0;
	if (!f->v[f->n].a || !f->v[f->n].b) {
		free(f->v[f->n].a);
		free(f->v[f->n].b);
		return NULL;
	}
	return &f->v[f->n++];
}

static void observe(struct histogram *h, const double *bounds, double x)
{
	for (int i = 0; i < NBUCKETS; i++)
		if (x <= bounds[i])
			h->buckets[i]++;
	h->count++;
	h->sum += x;
}

void metrics_run_finished(const char *job, const char *status, double seconds)
{
	struct series *s = get(&runs, job, status);

	if (s)
		s->value++;
	if (strcmp(status, "Success") == 0 && (s = get(&last_success, job, "")))
		s->value = (double)time(NULL);
	observe(&run_duration, run_buckets, seconds);
}

void metrics_restart(const char *job)
{
	struct series *s = get(&restarts, job, "");

	if (s)
		s->value++;
}

void metrics_run_control(const char *job, const char *what)
{
	struct family *f = strcmp(what, "abort") == 0	  ? &aborts
			   : strcmp(what, "timeout") == 0 ? &timeouts
							  : &retries;
	struct series *s = get(f, job, "");

	if (s)
		s->value++;
}

void metrics_webhook(const char *outcome)
{
	struct series *s = get(&webhooks, outcome, "");

	if (s)
		s->value++;
}

void metrics_fire_delay(double seconds)
{
	observe(&fire_delay, delay_buckets, seconds);
}

void metrics_http(const char *route, unsigned status)
{
	char code[8];
	struct series *s;

	snprintf(code, sizeof(code), "%u", status);
	if ((s = get(&http_requests, route, code)))
		s->value++;
}

static void forget_in(struct family *f, const char *job)
{
	for (size_t i = 0; i < f->n;)
		if (strcmp(f->v[i].a, job) == 0) {
			free(f->v[i].a);
			free(f->v[i].b);
			f->v[i] = f->v[--f->n];
		} else {
			i++;
		}
}

void metrics_forget(const char *job)
{
	forget_in(&runs, job);
	forget_in(&last_success, job);
	forget_in(&restarts, job);
	forget_in(&aborts, job);
	forget_in(&timeouts, job);
	forget_in(&retries, job);
}

/* Label values escaped as the text format wants (\\, \", \n). */
static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f), fputc(*s, f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* One family with a single label, job: a series per job. */
static void per_job(FILE *f, const char *name, const char *help, const char *type,
		    const struct family *fam)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (size_t i = 0; i < fam->n; i++) {
		fprintf(f, "%s{job=\"", name);
		label(f, fam->v[i].a);
		fprintf(f, "\"} %.0f\n", fam->v[i].value);
	}
}

static void histogram(FILE *f, const char *name, const char *help, const struct histogram *h,
		      const double *bounds)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int i = 0; i < NBUCKETS; i++)
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], h->buckets[i]);
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, h->count, name,
		h->sum, name, h->count);
}

static void process_figures(FILE *f)
{
	char buf[1024];
	FILE *st = fopen("/proc/self/stat", "re");
	long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long long ut = 0, stt = 0, start = 0, rss = 0;
	double btime = 0;
	int fds = 0;
	DIR *d;

	if (st && fgets(buf, sizeof(buf), st)) {
		char *p = strrchr(buf, ')');

		if (p)
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %*u %llu",
			       &ut, &stt, &start, &rss);
	}
	if (st)
		fclose(st);
	st = fopen("/proc/stat", "re");
	while (st && fgets(buf, sizeof(buf), st))
		if (sscanf(buf, "btime %lf", &btime) == 1)
			break;
	if (st)
		fclose(st);
	if ((d = opendir("/proc/self/fd"))) {
		while (readdir(d))
			fds++;
		closedir(d);
		fds -= 3; /* ".", ".." and this listing's own fd */
	}
	fprintf(f, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
		   "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n",
		(double)(ut + stt) / (double)hz);
	fprintf(f, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
		   "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
		rss * (unsigned long long)page);
	fprintf(f, "# HELP process_open_fds Number of open file descriptors.\n"
		   "# TYPE process_open_fds gauge\nprocess_open_fds %d\n", fds);
	fprintf(f, "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		   "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
		btime + (double)start / (double)hz);
}

/* Lines "a\tb\n" of up to 3 tab-separated fields, each line given to fn. */
static void each_line(const char *text, void (*fn)(FILE *, char **, int), FILE *f)
{
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		char *line, *v[3], *save = NULL;
		int n = 0;

		if (!nl)
			break;
		if ((line = strndup(p, (size_t)(nl - p)))) {
			for (char *t = strtok_r(line, "\t", &save); t && n < 3;
			     t = strtok_r(NULL, "\t", &save))
				v[n++] = t;
			fn(f, v, n);
		}
		free(line);
		p = nl + 1;
	}
}

static void up_line(FILE *f, char **v, int n)
{
	if (n != 3)
		return;
	fputs("webjobs_continuous_up{job=\"", f);
	label(f, v[0]);
	fputs("\",instance=\"", f);
	label(f, v[1]);
	fprintf(f, "\"} %c\n", v[2][0]);
}

static void queued_line(FILE *f, char **v, int n)
{
	if (n != 2)
		return;
	fputs("webjobs_run_queue_length{job=\"", f);
	label(f, v[0]);
	fprintf(f, "\"} %s\n", v[1]);
}

char *metrics_render(const char *up, const char *queued, unsigned open_connections)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fputs("# HELP webjobs_runs_total Triggered runs ended since the host started, by job and final status.\n"
	      "# TYPE webjobs_runs_total counter\n", f);
	for (size_t i = 0; i < runs.n; i++) {
		fputs("webjobs_runs_total{job=\"", f);
		label(f, runs.v[i].a);
		fprintf(f, "\",status=\"%s\"} %.0f\n", runs.v[i].b, runs.v[i].value);
	}
	histogram(f, "webjobs_run_duration_seconds", "Duration of triggered runs.", &run_duration,
		  run_buckets);
	per_job(f, "webjobs_last_success_timestamp_seconds",
		"When a run of the job last succeeded.", "gauge", &last_success);
	per_job(f, "webjobs_run_aborts_total", "Runs aborted on request, by job.", "counter",
		&aborts);
	per_job(f, "webjobs_run_timeouts_total", "Runs stopped by their timeout, by job.",
		"counter", &timeouts);
	per_job(f, "webjobs_run_retries_total",
		"Failed attempts followed by another attempt of the same run, by job.", "counter",
		&retries);
	per_job(f, "webjobs_continuous_restarts_total",
		"Times a continuous job's process went down and was restarted.", "counter",
		&restarts);
	fputs("# HELP webjobs_continuous_up 1 when the continuous job's process runs on the instance.\n"
	      "# TYPE webjobs_continuous_up gauge\n", f);
	each_line(up, up_line, f);
	fputs("# HELP webjobs_run_queue_length Runs waiting with the status Queued, by job.\n"
	      "# TYPE webjobs_run_queue_length gauge\n", f);
	each_line(queued, queued_line, f);
	fputs("# HELP webjobs_webhook_deliveries_total Webhook delivery attempts by outcome "
	      "(ok, retried, failed: given up).\n"
	      "# TYPE webjobs_webhook_deliveries_total counter\n", f);
	for (size_t i = 0; i < webhooks.n; i++)
		fprintf(f, "webjobs_webhook_deliveries_total{outcome=\"%s\"} %.0f\n",
			webhooks.v[i].a, webhooks.v[i].value);
	histogram(f, "webjobs_schedule_fire_delay_seconds",
		  "Delay of scheduled fires after their planned second.", &fire_delay, delay_buckets);
	fputs("# HELP webjobs_http_requests_total HTTP requests by route and status.\n"
	      "# TYPE webjobs_http_requests_total counter\n", f);
	for (size_t i = 0; i < http_requests.n; i++)
		fprintf(f, "webjobs_http_requests_total{route=\"%s\",status=\"%s\"} %.0f\n",
			http_requests.v[i].a, http_requests.v[i].b, http_requests.v[i].value);
	fprintf(f, "# HELP webjobs_http_open_connections Open HTTP connections.\n"
		   "# TYPE webjobs_http_open_connections gauge\nwebjobs_http_open_connections %u\n",
		open_connections);
	process_figures(f);
	fclose(f);
	return text;
}
