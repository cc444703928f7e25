/*
 * settings: the lenient reader of settings.job (docs/API.md, "Running the host") and typed
 * look-ups in a settings object. Pure: the caller reads the file.
 *
 * settings.job may hold // and slash-star comments and trailing commas; they
 * are removed outside strings before the text goes to jansson, which keeps
 * keys in the order written.
 */
#ifndef WEBJOBS_SETTINGS_H
#define WEBJOBS_SETTINGS_H

#include <jansson.h>
#include <stddef.h>

#define SETTINGS_MAX_SIZE (1024 * 1024)

/* Parses text[0..len). Returns a new JSON object, or NULL with a reason in
 * err (for example "settings.job: line 3: ..."). An empty or all-blank
 * text is an empty object. */
json_t *settings_parse(const char *text, size_t len, char *err, size_t errsz);

/* Typed look-ups: a value of the wrong JSON type gives the default. */
int settings_bool(const json_t *s, const char *key, int def);
long long settings_int(const json_t *s, const char *key, long long def);
const char *settings_string(const json_t *s, const char *key);

/* 1 for an http:// or https:// URL with a host, under 2,048 bytes, with no
 * space or control character (a webhook's address). */
int settings_url_valid(const char *url);

/* The events a webhook may be told of (docs/API.md, "Run control"). */
extern const char *const settings_webhook_events[];

/* What is wrong with the webhook settings of a job (webhook, webhook_on),
 * as the job's error text, or NULL when nothing is. */
const char *settings_webhook_error(const json_t *s);

#endif
