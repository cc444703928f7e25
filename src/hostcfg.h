/*
 * hostcfg: the host-wide settings of docs/API.md, "Running the host", read from the environment
 * at start-up and from {home}/site/settings.json (which wins, and is re-read
 * whenever it changes).
 */
#ifndef WEBJOBS_HOSTCFG_H
#define WEBJOBS_HOSTCFG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct hostcfg {
	int64_t history_size;   /* WEBJOBS_HISTORY_SIZE, 50 */
	int64_t idle_timeout;   /* WEBJOBS_IDLE_TIMEOUT, 120 s */
	int64_t run_timeout;    /* WEBJOBS_RUN_TIMEOUT, 0 s = none */
	int64_t restart_time;   /* WEBJOBS_RESTART_TIME, 60 s */
	int stopped;            /* WEBJOBS_STOPPED */
	int disable_schedule;   /* WEBJOBS_DISABLE_SCHEDULE */
	int64_t log_max_size;   /* WEBJOBS_LOG_MAX_SIZE, 10 MiB */
	char time_zone[128];    /* WEBSITE_TIME_ZONE or TZ, "" for UTC */
	char webhook_url[2048]; /* WEBJOBS_WEBHOOK_URL, "" for none */
	char webhook_secret[512]; /* WEBJOBS_WEBHOOK_SECRET, "" for none */
};

/* Fills c from the defaults, then env (a NULL-terminated environ-style
 * array), then the JSON text of settings.json (may be NULL). Unknown
 * names are ignored; a value of the wrong form keeps the previous value
 * and is reported in err (if err is given). Pure. */
void hostcfg_build(struct hostcfg *c, char *const *env, const char *json,
		   size_t json_len, char *err, size_t errsz);

/* 1 for "1" or "true" in any case. Pure. */
int hostcfg_truthy(const char *s);

/* The live settings of a running host. */
struct hostcfg_watch;
typedef void (*hostcfg_changed_fn)(void *arg, const struct hostcfg *old);

/* Reads the settings now and re-reads them when settings.json changes,
 * calling cb after each change. */
struct hostcfg_watch *hostcfg_watch_start(uv_loop_t *loop, const char *home,
					  hostcfg_changed_fn cb, void *arg);
const struct hostcfg *hostcfg_get(const struct hostcfg_watch *w);
void hostcfg_watch_close(struct hostcfg_watch *w);

#endif
