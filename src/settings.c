/*
 * settings: removing comments and trailing commas from settings.job, then
 * parsing it strictly. The cleaned copy keeps line breaks, so jansson's
 * line numbers in errors still point into the user's file.
 */
#include "settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies text to out, blanking comments and trailing commas outside
 * strings. out has len + 1 bytes. */
static void clean(const char *text, size_t len, char *out)
{
	size_t i = 0;
	int in_str = 0;

	memcpy(out, text, len);
	out[len] = '\0';
	while (i < len) {
		char c = out[i];

		if (in_str) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				in_str = 0;
			i++;
			continue;
		}
		if (c == '"') {
			in_str = 1;
			i++;
		} else if (c == '/' && i + 1 < len && out[i + 1] == '/') {
			while (i < len && out[i] != '\n')
				out[i++] = ' ';
		} else if (c == '/' && i + 1 < len && out[i + 1] == '*') {
			out[i++] = ' ';
			out[i++] = ' ';
			while (i < len && !(out[i] == '*' && i + 1 < len &&
					    out[i + 1] == '/')) {
				if (out[i] != '\n')
					out[i] = ' ';
				i++;
			}
			for (int k = 0; k < 2 && i < len; k++)
				out[i++] = ' ';
		} else if (c == ',') {
			size_t j = i + 1;

			/* A comma followed (past blanks and comments, which
			 * are blanked by now or later) by } or ] is dropped. */
			while (j < len) {
				if (out[j] == ' ' || out[j] == '\t' ||
				    out[j] == '\r' || out[j] == '\n') {
					j++;
				} else if (out[j] == '/' && j + 1 < len &&
					   out[j + 1] == '/') {
					while (j < len && out[j] != '\n')
						j++;
				} else if (out[j] == '/' && j + 1 < len &&
					   out[j + 1] == '*') {
					j += 2;
					while (j + 1 < len && !(out[j] == '*' &&
								out[j + 1] == '/'))
						j++;
					j += 2;
				} else {
					break;
				}
			}
			if (j < len && (out[j] == '}' || out[j] == ']'))
				out[i] = ' ';
			i++;
		} else {
			i++;
		}
	}
}

json_t *settings_parse(const char *text, size_t len, char *err, size_t errsz)
{
	char *buf;
	json_t *obj;
	json_error_t jerr;
	size_t k = 0;

	if (len > SETTINGS_MAX_SIZE) {
		snprintf(err, errsz, "settings.job: larger than %d bytes",
			 SETTINGS_MAX_SIZE);
		return NULL;
	}
	buf = malloc(len + 1);
	if (!buf) {
		snprintf(err, errsz, "settings.job: out of memory");
		return NULL;
	}
	clean(text, len, buf);
	/* A UTF-8 byte order mark, as Windows editors write, is allowed. */
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		memset(buf, ' ', 3);
	while (k < len && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r' ||
			   buf[k] == '\n'))
		k++;
	if (k == len) {
		free(buf);
		return json_object();
	}
	obj = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!obj) {
		snprintf(err, errsz, "settings.job: line %d, column %d: %s",
			 jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		snprintf(err, errsz, "settings.job: not a JSON object");
		return NULL;
	}
	return obj;
}

int settings_bool(const json_t *s, const char *key, int def)
{
	const json_t *v = json_object_get(s, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

long long settings_int(const json_t *s, const char *key, long long def)
{
	const json_t *v = json_object_get(s, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

const char *settings_string(const json_t *s, const char *key)
{
	const json_t *v = json_object_get(s, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int settings_url_valid(const char *url)
{
	size_t skip = strncmp(url, "http://", 7) == 0 ? 7 : strncmp(url, "https://", 8) == 0 ? 8 : 0;
	size_t n = strlen(url);

	if (!skip || n >= 2048 || !url[skip] || url[skip] == '/' || url[skip] == '?' ||
	    url[skip] == '#')
		return 0;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

const char *const settings_webhook_events[] = { "start", "success", "failure", "retry", "exit",
						NULL };

const char *settings_webhook_error(const json_t *s)
{
	const json_t *v = json_object_get(s, "webhook");
	size_t i;

	if (v && !(json_is_string(v) && (json_string_length(v) == 0 ||
					  settings_url_valid(json_string_value(v)))))
		return "settings.job: 'webhook' is not an http:// or https:// URL";
	v = json_object_get(s, "webhook_on");
	if (!v)
		return NULL;
	if (!json_is_array(v))
		return "settings.job: 'webhook_on' is not a list of events";
	json_array_foreach (v, i, s) {
		size_t k = 0;

		while (json_is_string(s) && settings_webhook_events[k] &&
		       strcmp(settings_webhook_events[k], json_string_value(s)) != 0)
			k++;
		if (!json_is_string(s) || !settings_webhook_events[k])
			return "settings.job: 'webhook_on' has an unknown event (start, success, "
			       "failure, retry, exit)";
	}
	return NULL;
}
