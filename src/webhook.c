/*
 * webhook: deliveries in a thread of their own.
 *
 * The loop thread decides (webhook_emit: the job's hook, the events it
 * takes), builds the payload and its signature and hands it to the
 * delivery thread. That thread writes it to the spool
 * ({home}/data/webjobs/webhooks/{instance}/{delivery}.json) before its
 * first send, and runs one curl multi handle: every
 * delivery at once, 10 s each, a connection error or a 5xx retried after
 * 1, 4 and 16 s. Each attempt's outcome comes back to the loop (a
 * uv_async), which writes its line to data/webjobs/webhooks.log, counts it
 * for /metrics and, once a delivery is done with, removes its spool file.
 * A host that stops or dies leaves the rest in the spool; its next start
 * sends them again with the same delivery id (receivers may see one twice,
 * never none). libcurl is loaded only when there is something to send.
 */
#define _GNU_SOURCE
#include "webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "files.h"
#include "joblog.h"
#include "lcurl.h"
#include "log.h"
#include "metrics.h"
#include "settings.h"
#include "sha256.h"
#include "timefmt.h"

#define TIMEOUT_MS 10000
#define RETRIES 3
#define STOP_GRACE_MS 2000
#define EXIT_EVERY_MS 60000 /* at most one "exit" a minute per job */
static const int retry_delay_s[RETRIES] = { 1, 4, 16 };

struct delivery {
	struct delivery *next;
	char id[33];
	char *url, *event, *job, *body, *signature; /* signature: its header, or NULL */
	int attempt;   /* sends made */
	int spooled;   /* its spool file is written */
	uint64_t due;  /* ms (uv_hrtime) of the next send */
	CURL *easy;
	struct curl_slist *headers;
	char error[CURL_ERROR_SIZE];
};

/* One attempt's outcome, from the thread to the loop. */
struct result {
	struct result *next;
	char id[33];
	char *event, *job, *url;
	int attempt, ok, final, retry_in;
	long code;
	char error[CURL_ERROR_SIZE];
};

struct exit_mark {
	struct exit_mark *next;
	char *job;
	uint64_t at;
};

static struct {
	struct webhook_config c;
	int started, running, broken;
	char *instance, *base_url;
	int spool_fd, log_fd;
	uv_async_t async;
	uv_thread_t thread;
	uv_mutex_t mu;
	struct delivery *incoming; /* loop -> thread, under mu */
	struct result *results;    /* thread -> loop, under mu */
	int stopping;
	uint64_t stop_at;
	CURLM *multi;
	struct exit_mark *exits;
} W = { .spool_fd = -1, .log_fd = -1 };

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

static void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	free(d->url);
	free(d->event);
	free(d->job);
	free(d->body);
	free(d->signature);
	free(d);
}

/* ---- the delivery thread ---- */

/* Written by the thread, before the first send: the loop only builds the
 * payload. */
static void spool(const struct delivery *d)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "delivery", d->id, "event", d->event,
			      "job", d->job, "url", d->url, "body", d->body);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL, name[48];

	snprintf(name, sizeof(name), "%s.json", d->id);
	if (text && W.spool_fd >= 0)
		files_write_atomic(W.spool_fd, name, text, strlen(text), 0600, 0);
	free(text);
	json_decref(o);
}


static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static void send_one(struct delivery *d)
{
	char h[128];

	d->error[0] = '\0';
	d->headers = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(h, sizeof(h), "X-Webjobs-Event: %s", d->event);
	d->headers = curl_slist_append(d->headers, h);
	snprintf(h, sizeof(h), "X-Webjobs-Delivery: %s", d->id);
	d->headers = curl_slist_append(d->headers, h);
	if (d->signature)
		d->headers = curl_slist_append(d->headers, d->signature);
	d->headers = curl_slist_append(d->headers, "Expect:");
	if (!(d->easy = curl_easy_init()))
		return;
	curl_easy_setopt(d->easy, CURLOPT_URL, d->url);
	curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(d->easy, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(d->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(d->body));
	curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, d->headers);
	curl_easy_setopt(d->easy, CURLOPT_USERAGENT, "webjobs/" WEBJOBS_VERSION);
	curl_easy_setopt(d->easy, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_MS);
	curl_easy_setopt(d->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(d->easy, CURLOPT_ERRORBUFFER, d->error);
	curl_easy_setopt(d->easy, CURLOPT_PRIVATE, (void *)d);
	if (curl_multi_add_handle(W.multi, d->easy) != CURLM_OK) {
		curl_easy_cleanup(d->easy);
		d->easy = NULL;
	}
}

/* An attempt ended with rc (or could not start: easy is NULL): its result
 * goes to the loop; returns 1 when the delivery is done with. */
static int attempt_ended(struct delivery *d, CURLcode rc)
{
	struct result *r = calloc(1, sizeof(*r));
	long code = 0;
	int ok, retry;

	if (d->easy) {
		curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
		curl_multi_remove_handle(W.multi, d->easy);
		curl_easy_cleanup(d->easy);
		d->easy = NULL;
	} else {
		rc = CURLE_FAILED_INIT;
		snprintf(d->error, sizeof(d->error), "cannot start the request");
	}
	curl_slist_free_all(d->headers);
	d->headers = NULL;
	d->attempt++;
	ok = rc == CURLE_OK && code >= 200 && code < 300;
	retry = !ok && (rc != CURLE_OK || code >= 500) && d->attempt <= RETRIES;
	if (retry)
		d->due = now_ms() + (uint64_t)retry_delay_s[d->attempt - 1] * 1000;
	if (r) {
		memcpy(r->id, d->id, sizeof(r->id));
		r->event = strdup(d->event);
		r->job = strdup(d->job);
		r->url = strdup(d->url);
		r->attempt = d->attempt;
		r->ok = ok;
		r->final = !retry;
		r->retry_in = retry ? retry_delay_s[d->attempt - 1] : 0;
		r->code = code;
		if (rc != CURLE_OK)
			snprintf(r->error, sizeof(r->error), "%s",
				 d->error[0] ? d->error : curl_easy_strerror(rc));
		uv_mutex_lock(&W.mu);
		r->next = W.results;
		W.results = r;
		uv_mutex_unlock(&W.mu);
		uv_async_send(&W.async);
	}
	return !retry;
}

/* 1 when an earlier delivery of d's job to d's URL is on its first try:
 * d waits for it, so that a receiver hears of a job's events in the order
 * they happened (a run's start before its end, when both come within
 * moments). A delivery being retried holds nothing up. */
static int behind(const struct delivery *pending, const struct delivery *d)
{
	for (const struct delivery *e = pending; e && e != d; e = e->next)
		if (e->easy && e->attempt == 0 && strcmp(e->job, d->job) == 0 &&
		    strcmp(e->url, d->url) == 0)
			return 1;
	return 0;
}

/* Sends what is due, reads what ended; returns how long to wait. */
static int turn(struct delivery **pending)
{
	uint64_t now = now_ms();
	int wait = 1000, running, left;
	CURLMsg *m;

	for (struct delivery *d = *pending; d; d = d->next) {
		if (d->easy || (d->due <= now && d->attempt == 0 && behind(*pending, d)))
			continue;
		if (d->due <= now) {
			if (!d->spooled)
				spool(d);
			d->spooled = 1;
			send_one(d);
			if (!d->easy && attempt_ended(d, CURLE_FAILED_INIT))
				d->due = UINT64_MAX; /* done with: removed below */
		} else if (d->due - now < (uint64_t)wait) {
			wait = (int)(d->due - now);
		}
	}
	curl_multi_perform(W.multi, &running);
	while ((m = curl_multi_info_read(W.multi, &left))) {
		struct delivery *d = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&d);
		if (d && attempt_ended(d, m->data.result))
			d->due = UINT64_MAX;
	}
	for (struct delivery **p = pending; *p;) {
		struct delivery *d = *p;

		if (!d->easy && d->due == UINT64_MAX) {
			*p = d->next;
			delivery_free(d);
		} else {
			p = &d->next;
		}
	}
	return wait;
}

static void thread_main(void *arg)
{
	struct delivery *pending = NULL, **tail;

	(void)arg;
	for (;;) {
		struct delivery *in;
		int stop, wait;

		uv_mutex_lock(&W.mu);
		in = W.incoming;
		W.incoming = NULL;
		stop = W.stopping;
		uv_mutex_unlock(&W.mu);
		for (tail = &pending; *tail; tail = &(*tail)->next)
			;
		*tail = in; /* in the order they were emitted */
		if (stop && (!pending || now_ms() >= W.stop_at))
			break;
		wait = turn(&pending);
		curl_multi_poll(W.multi, NULL, 0, stop ? 50 : wait, NULL);
	}
	while (pending) {
		struct delivery *d = pending;

		pending = d->next;
		if (d->easy) {
			curl_multi_remove_handle(W.multi, d->easy);
			curl_easy_cleanup(d->easy);
		}
		curl_slist_free_all(d->headers);
		delivery_free(d); /* its spool file stays: sent at the next start */
	}
}

/* ---- the loop's side ---- */

static void log_result(const struct result *r)
{
	struct joblog *l;
	char how[CURL_ERROR_SIZE + 32];

	if (r->error[0])
		snprintf(how, sizeof(how), "%s", r->error);
	else
		snprintf(how, sizeof(how), "HTTP %ld", r->code);
	if (W.log_fd < 0 || !(l = joblog_open(W.log_fd, "webhooks.log", NULL, W.instance)))
		return;
	joblog_set_rollover(l, "webhooks_prev.log", hostcfg_get(W.c.cfg)->log_max_size);
	if (r->ok)
		joblog_sys(l, 0, "Delivery %s (%s of %s) to %s: delivered, %s, attempt %d", r->id,
			   r->event, r->job, r->url, how, r->attempt);
	else if (!r->final)
		joblog_sys(l, 1, "Delivery %s (%s of %s) to %s: %s, attempt %d; again in %d seconds",
			   r->id, r->event, r->job, r->url, how, r->attempt, r->retry_in);
	else
		joblog_sys(l, 1, "Delivery %s (%s of %s) to %s: %s, attempt %d; given up", r->id,
			   r->event, r->job, r->url, how, r->attempt);
	joblog_close(l);
}

static void on_results(uv_async_t *a)
{
	struct result *r, *rev = NULL;

	(void)a;
	uv_mutex_lock(&W.mu);
	r = W.results;
	W.results = NULL;
	uv_mutex_unlock(&W.mu);
	while (r) { /* oldest first */
		struct result *next = r->next;

		r->next = rev;
		rev = r;
		r = next;
	}
	while ((r = rev)) {
		char name[48];

		rev = r->next;
		log_result(r);
		metrics_webhook(r->ok ? "ok" : r->final ? "failed" : "retried");
		if (r->final && W.spool_fd >= 0) {
			snprintf(name, sizeof(name), "%s.json", r->id);
			unlinkat(W.spool_fd, name, 0);
		}
		free(r->event);
		free(r->job);
		free(r->url);
		free(r);
	}
}

/* libcurl and the thread, on first need; -1 when libcurl cannot load. */
static int ensure_thread(void)
{
	if (W.running)
		return 0;
	if (W.broken)
		return -1;
	if (lcurl_load() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(W.multi = curl_multi_init())) {
		log_error("webhooks: libcurl (libcurl4) cannot be loaded: nothing is delivered");
		W.broken = 1;
		return -1;
	}
	uv_mutex_init(&W.mu);
	uv_async_init(W.c.loop, &W.async, on_results);
	if (uv_thread_create(&W.thread, thread_main, NULL) != 0) {
		log_error("webhooks: cannot start the delivery thread");
		uv_close((uv_handle_t *)&W.async, NULL);
		W.broken = 1;
		return -1;
	}
	W.running = 1;
	return 0;
}

static void sign(struct delivery *d)
{
	const char *secret = hostcfg_get(W.c.cfg)->webhook_secret;
	uint8_t mac[SHA256_LEN];
	char hex[2 * SHA256_LEN + 1];

	if (!secret[0])
		return;
	hmac_sha256(secret, strlen(secret), d->body, strlen(d->body), mac);
	sha256_hex(mac, hex);
	if (asprintf(&d->signature, "X-Webjobs-Signature-256: sha256=%s", hex) < 0)
		d->signature = NULL;
}

/* Hands d to the thread (which owns it from then on). */
static void enqueue(struct delivery *d)
{
	struct delivery **tail;

	if (ensure_thread() < 0) {
		delivery_free(d);
		return;
	}
	sign(d);
	d->due = 0;
	uv_mutex_lock(&W.mu);
	for (tail = &W.incoming; *tail; tail = &(*tail)->next)
		;
	*tail = d;
	uv_mutex_unlock(&W.mu);
	curl_multi_wakeup(W.multi);
}

static struct delivery *delivery_new(const char *id, const char *event, const char *job,
				     const char *url, char *body)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d) {
		free(body);
		return NULL;
	}
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->event = strdup(event);
	d->job = strdup(job);
	d->url = strdup(url);
	d->body = body;
	if (!d->event || !d->job || !d->url || !d->body) {
		delivery_free(d);
		return NULL;
	}
	return d;
}

/* The spool a previous life of this instance left: sent again. */
static void resend_spool(void)
{
	char **names;
	int n = files_list(W.spool_fd, NULL, SIZE_MAX, &names);

	for (int i = 0; i < n; i++) {
		json_t *o = NULL;
		char *text = NULL;
		int fd = openat(W.spool_fd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		const char *id, *event, *job, *url, *body;
		struct delivery *d;

		if (fd >= 0) {
			o = json_loadfd(fd, 0, NULL);
			close(fd);
		}
		if (json_unpack(o, "{s:s, s:s, s:s, s:s, s:s}", "delivery", &id, "event", &event,
				"job", &job, "url", &url, "body", &body) == 0 &&
		    strlen(id) == 32 && (text = strdup(body)) &&
		    (d = delivery_new(id, event, job, url, text))) {
			log_info("webhooks: sending again delivery %s (%s of %s)", id, event, job);
			d->spooled = 1;
			enqueue(d);
		} else if (!o) {
			unlinkat(W.spool_fd, names[i], 0); /* half-written: the crash was mid-write */
		}
		json_decref(o);
	}
	files_free_names(names, n < 0 ? 0 : n);
}

void webhook_start(const struct webhook_config *c)
{
	char *dir = NULL;

	W.c = *c;
	W.instance = strdup(c->instance);
	W.base_url = strdup(c->base_url);
	W.started = W.instance && W.base_url;
	/* data/webjobs is the host's private folder (hook URLs may carry
	 * tokens): made as the credentials' folder is. */
	if (auth_make_folder(c->home->root) == 0 &&
	    asprintf(&dir, "data/webjobs/webhooks/%s", c->instance) >= 0 &&
	    home_mkdirs(c->home->fd, dir) == 0)
		W.spool_fd = openat(c->home->fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	W.log_fd = openat(c->home->fd, "data/webjobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (W.spool_fd < 0 || W.log_fd < 0)
		log_warn("webhooks: cannot open data/webjobs/webhooks: %s (deliveries are not "
			 "kept across a restart)", strerror(errno));
	if (W.spool_fd >= 0)
		resend_spool();
}

const char *webhook_final_event(const char *status)
{
	return strcmp(status, "Success") == 0 ? "success" : "failure";
}

/* The job's hook: its own "webhook" ("" turns it off), else the host's. */
static const char *hook_of(const struct job *j)
{
	const json_t *s = job_settings(j);
	const json_t *v = json_object_get(s, "webhook");
	const char *url = v ? json_string_value(v) : hostcfg_get(W.c.cfg)->webhook_url;

	return url && url[0] && settings_url_valid(url) ? url : NULL;
}

static int takes(const struct job *j, const char *event)
{
	const json_t *on = json_object_get(job_settings(j), "webhook_on"), *e;
	size_t i;

	if (!json_is_array(on))
		return strcmp(event, "failure") == 0;
	json_array_foreach (on, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), event) == 0)
			return 1;
	return 0;
}

/* 1 when an "exit" of job name may go now (one a minute per job). */
static int exit_allowed(const char *name)
{
	uint64_t now = now_ms();
	struct exit_mark *m;

	for (m = W.exits; m; m = m->next)
		if (strcmp(m->job, name) == 0)
			break;
	if (m && now - m->at < EXIT_EVERY_MS)
		return 0;
	if (!m && (m = calloc(1, sizeof(*m))) && !(m->job = strdup(name))) {
		free(m);
		m = NULL;
	}
	if (m && !m->at) {
		m->next = W.exits;
		W.exits = m;
	}
	if (m)
		m->at = now;
	return 1;
}

static int exists_in(int dfd, const char *file)
{
	return dfd >= 0 && faccessat(dfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static char *payload(const struct job *j, const char *event, const struct runrec *rec, int dfd)
{
	const char *type = home_type_name(job_type(j));
	json_t *o = json_object(), *run = json_null();
	char *text;

	if (rec) {
		struct run_view v = { .prefix = W.base_url, .job = job_name(j),
				      .has_output = exists_in(dfd, "output_log.txt"),
				      .has_error = exists_in(dfd, "error_log.txt"),
				      .status = rec->status, .end = rec->end,
				      .now = time_now_ticks() };

		run = runrec_json(rec, &v);
	}
	json_object_set_new(o, "event", json_string(event));
	json_object_set_new(o, "instance", json_string(W.instance));
	json_object_set_new(o, "job", json_pack("{s:s, s:s, s:o}", "name", job_name(j), "type",
						type,
						"url", json_sprintf("%s/api/%swebjobs/%s", W.base_url,
								    type, job_name(j))));
	json_object_set_new(o, "run", run);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

int webhook_wanted(const struct job *j, const char *event)
{
	return W.started && !W.broken && j && hook_of(j) && takes(j, event);
}

void webhook_emit(const struct job *j, const char *event, const struct runrec *rec, int dfd)
{
	const char *url;
	uint8_t raw[16];
	char id[33];
	struct delivery *d;

	if (!W.started || W.broken || !j || !(url = hook_of(j)) || !takes(j, event))
		return;
	if (strcmp(event, "exit") == 0 && !exit_allowed(job_name(j)))
		return;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return;
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	if (!(d = delivery_new(id, event, job_name(j), url, payload(j, event, rec, dfd))))
		return;
	enqueue(d);
}

void webhook_stop(void)
{
	if (W.running) {
		uv_mutex_lock(&W.mu);
		W.stopping = 1;
		W.stop_at = now_ms() + STOP_GRACE_MS;
		uv_mutex_unlock(&W.mu);
		curl_multi_wakeup(W.multi);
		uv_thread_join(&W.thread);
		on_results(&W.async);
		uv_close((uv_handle_t *)&W.async, NULL);
		curl_multi_cleanup(W.multi);
		uv_mutex_destroy(&W.mu);
		W.running = 0;
	}
	while (W.exits) {
		struct exit_mark *m = W.exits;

		W.exits = m->next;
		free(m->job);
		free(m);
	}
	if (W.spool_fd >= 0)
		close(W.spool_fd);
	if (W.log_fd >= 0)
		close(W.log_fd);
	free(W.instance);
	free(W.base_url);
	W.spool_fd = W.log_fd = -1;
	W.instance = W.base_url = NULL;
	W.started = 0;
}
