/*
 * hostcfg: one table of host settings, applied from the environment and
 * from settings.json in that order.
 */
#define _GNU_SOURCE
#include "hostcfg.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "settings.h"

extern char **environ;

enum kind { K_INT, K_FLAG, K_ZONE, K_URL, K_TEXT };

static const struct {
	const char *name;
	enum kind kind;
	size_t offset;
	int64_t def;     /* K_INT: the default; K_URL, K_TEXT: the field's size */
} table[] = {
	{ "WEBJOBS_HISTORY_SIZE", K_INT, offsetof(struct hostcfg, history_size), 50 },
	{ "WEBJOBS_IDLE_TIMEOUT", K_INT, offsetof(struct hostcfg, idle_timeout), 120 },
	{ "WEBJOBS_RUN_TIMEOUT", K_INT, offsetof(struct hostcfg, run_timeout), 0 },
	{ "WEBJOBS_RESTART_TIME", K_INT, offsetof(struct hostcfg, restart_time), 60 },
	{ "WEBJOBS_STOPPED", K_FLAG, offsetof(struct hostcfg, stopped), 0 },
	{ "WEBJOBS_DISABLE_SCHEDULE", K_FLAG, offsetof(struct hostcfg, disable_schedule), 0 },
	{ "WEBJOBS_LOG_MAX_SIZE", K_INT, offsetof(struct hostcfg, log_max_size), 10485760 },
	{ "TZ", K_ZONE, offsetof(struct hostcfg, time_zone), 0 },
	{ "WEBSITE_TIME_ZONE", K_ZONE, offsetof(struct hostcfg, time_zone), 0 },
	{ "WEBJOBS_WEBHOOK_URL", K_URL, offsetof(struct hostcfg, webhook_url),
	  sizeof(((struct hostcfg *)0)->webhook_url) },
	{ "WEBJOBS_WEBHOOK_SECRET", K_TEXT, offsetof(struct hostcfg, webhook_secret),
	  sizeof(((struct hostcfg *)0)->webhook_secret) },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

int hostcfg_truthy(const char *s)
{
	return strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0;
}

/* Applies one textual value; returns 0 or -EINVAL. */
static int apply_text(struct hostcfg *c, size_t i, const char *v)
{
	char *p = (char *)c + table[i].offset;

	switch (table[i].kind) {
	case K_INT: {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(v, &end, 10);
		if (!*v || *end || errno)
			return -EINVAL;
		*(int64_t *)(void *)p = n < 0 ? 0 : n;
		return 0;
	}
	case K_FLAG:
		*(int *)(void *)p = hostcfg_truthy(v);
		return 0;
	case K_ZONE:
		if (strlen(v) >= sizeof(c->time_zone))
			return -EINVAL;
		strcpy(p, v[0] == ':' ? v + 1 : v);
		return 0;
	case K_URL:
		if (*v && !settings_url_valid(v))
			return -EINVAL;
		/* fall through */
	case K_TEXT:
		if (strlen(v) >= (size_t)table[i].def)
			return -EINVAL;
		strcpy(p, v);
		return 0;
	}
	return -EINVAL;
}

static void apply_json(struct hostcfg *c, size_t i, const json_t *v, char *err,
		       size_t errsz)
{
	char text[64];
	int rc;

	if (json_is_string(v))
		rc = apply_text(c, i, json_string_value(v));
	else if (json_is_integer(v)) {
		snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
		rc = apply_text(c, i, text);
	} else if (json_is_boolean(v))
		rc = apply_text(c, i, json_is_true(v) ? "true" : "false");
	else
		rc = -EINVAL;
	if (rc < 0 && err)
		snprintf(err, errsz, "settings.json: %s has a value of the wrong form",
			 table[i].name);
}

void hostcfg_build(struct hostcfg *c, char *const *env, const char *json,
		   size_t json_len, char *err, size_t errsz)
{
	memset(c, 0, sizeof(*c));
	if (err && errsz)
		err[0] = '\0';
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].kind == K_INT)
			*(int64_t *)(void *)((char *)c + table[i].offset) = table[i].def;
	for (size_t i = 0; i < NTABLE; i++) {
		size_t nlen = strlen(table[i].name);

		for (char *const *e = env; e && *e; e++)
			if (strncmp(*e, table[i].name, nlen) == 0 && (*e)[nlen] == '=' &&
			    apply_text(c, i, *e + nlen + 1) < 0 && err)
				snprintf(err, errsz, "environment: %s has a value of the wrong form",
					 table[i].name);
	}
	if (json && json_len) {
		json_error_t jerr;
		json_t *o = json_loadb(json, json_len, 0, &jerr);

		if (!json_is_object(o)) {
			if (err)
				snprintf(err, errsz, "settings.json: not a JSON object (line %d: %s)",
					 jerr.line, jerr.text);
		} else {
			for (size_t i = 0; i < NTABLE; i++) {
				const json_t *v = json_object_get(o, table[i].name);

				if (v)
					apply_json(c, i, v, err, errsz);
			}
		}
		json_decref(o);
	}
}

/* ---- the live settings ---- */

struct hostcfg_watch {
	uv_fs_event_t ev;
	char *site;
	char *path;
	struct hostcfg cfg;
	hostcfg_changed_fn cb;
	void *arg;
};

static void reload(struct hostcfg_watch *w)
{
	char err[256], *text = NULL;
	size_t len = 0;
	FILE *f = fopen(w->path, "re");

	if (f) {
		text = malloc(1024 * 1024);
		if (text)
			len = fread(text, 1, 1024 * 1024, f);
		fclose(f);
	}
	hostcfg_build(&w->cfg, environ, text, len, err, sizeof(err));
	if (err[0])
		log_warn("%s", err);
	free(text);
}

static void on_change(uv_fs_event_t *ev, const char *filename, int events,
		      int status)
{
	struct hostcfg_watch *w = ev->data;
	struct hostcfg old = w->cfg;

	(void)events;
	if (status < 0 || !filename || strcmp(filename, "settings.json") != 0)
		return;
	reload(w);
	if (memcmp(&old, &w->cfg, sizeof(old)) != 0) {
		log_info("host settings changed (settings.json)");
		if (w->cb)
			w->cb(w->arg, &old);
	}
}

struct hostcfg_watch *hostcfg_watch_start(uv_loop_t *loop, const char *home,
					  hostcfg_changed_fn cb, void *arg)
{
	struct hostcfg_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	if (asprintf(&w->site, "%s/site", home) < 0 ||
	    asprintf(&w->path, "%s/site/settings.json", home) < 0) {
		free(w);
		return NULL;
	}
	w->cb = cb;
	w->arg = arg;
	reload(w);
	uv_fs_event_init(loop, &w->ev);
	w->ev.data = w;
	uv_fs_event_start(&w->ev, on_change, w->site, 0);
	return w;
}

const struct hostcfg *hostcfg_get(const struct hostcfg_watch *w)
{
	return &w->cfg;
}

static void on_closed(uv_handle_t *h)
{
	struct hostcfg_watch *w = h->data;

	free(w->site);
	free(w->path);
	free(w);
}

void hostcfg_watch_close(struct hostcfg_watch *w)
{
	if (w)
		uv_close((uv_handle_t *)&w->ev, on_closed);
}
