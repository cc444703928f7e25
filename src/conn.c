/*
 * conn: the client's connection to a host — where it is and who we are,
 * and the HTTP requests, made with libcurl (loaded on demand, src/lcurl.c).
 *
 * Where the host is and who we are: --url and --user, else WEBJOBS_URL,
 * WEBJOBS_USERNAME and WEBJOBS_PASSWORD, else ~/.config/webjobs/config
 * (lines key=value: url, user, password), which must not be readable by
 * group or others. The password is never taken from the command line.
 */
#define _GNU_SOURCE
#include "conn.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lcurl.h"

/* ---- connection settings ---- */

static char *base_url, *user, *password;

static int read_config(void)
{
	const char *home = getenv("HOME");
	char path[PATH_MAX], line[1024];
	struct stat st;
	FILE *f;

	if (!home)
		return 0;
	snprintf(path, sizeof(path), "%s/.config/webjobs/config", home);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		fprintf(stderr, "webjobs: %s is readable by others (mode %o): chmod 600 it\n", path,
			st.st_mode & 0777);
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');

		line[strcspn(line, "\r\n")] = '\0';
		if (!eq || line[0] == '#')
			continue;
		*eq = '\0';
		if (strcmp(line, "url") == 0 && !base_url)
			base_url = strdup(eq + 1);
		else if (strcmp(line, "user") == 0 && !user)
			user = strdup(eq + 1);
		else if (strcmp(line, "password") == 0 && !password)
			password = strdup(eq + 1);
	}
	fclose(f);
	return 0;
}

/* ---- requests ---- */

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	if (len > 10 && strncasecmp(p, "Location:", 9) == 0) {
		size_t k = 9;

		while (k < len && p[k] == ' ')
			k++;
		snprintf(r->location, sizeof(r->location), "%.*s", (int)(len - k), p + k);
		r->location[strcspn(r->location, "\r\n")] = '\0';
	}
	return len;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	char *b;

	if (r->stream) {
		fwrite(p, 1, len, stdout);
		fflush(stdout);
		return len;
	}
	b = realloc(r->body, r->len + len + 1);
	if (!b)
		return 0;
	memcpy(b + r->len, p, len);
	r->len += len;
	b[r->len] = '\0';
	r->body = b;
	return len;
}

/* Sends a request to path (already escaped). Returns 0 with r filled, or
 * -1 after printing why it could not be made. */
int conn_request(const char *method, const char *path, const void *body, size_t len,
		   const char *const *headers, struct reply *r)
{
	CURL *c = curl_easy_init();
	char url[4096], userpwd[512];
	struct curl_slist *hl = NULL;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	snprintf(userpwd, sizeof(userpwd), "%s:%s", user ? user : "", password ? password : "");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	for (const char *const *h = headers; h && *h; h++)
		hl = curl_slist_append(hl, *h);
	if (hl)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	rc = curl_easy_perform(c);
	if (rc == 0)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		fprintf(stderr, "webjobs: cannot reach %s: %s\n", base_url, curl_easy_strerror(rc));
	if (hl)
		curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return rc == 0 ? 0 : -1;
}

/* Copies a streamed reply (a followed log) to stdout as it arrives. */
int conn_stream(const char *rel)
{
	struct reply r;

	memset(&r, 0, sizeof(r));
	r.stream = 1;
	{
		CURL *c = curl_easy_init();
		char url[8192], userpwd[512];
		int rc;

		if (!c)
			return 3;
		snprintf(url, sizeof(url), "%s%s", base_url, rel);
		snprintf(userpwd, sizeof(userpwd), "%s:%s", user ? user : "", password ? password : "");
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
		rc = curl_easy_perform(c);
		curl_easy_cleanup(c);
		return rc == 0 ? 0 : 3;
	}
}

/* Prints the host's error for a reply that is not 2xx; returns 3. */
const char *conn_reason(long status)
{
	static const struct {
		long code;
		const char *text;
	} reasons[] = {
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 409, "Conflict" }, { 412, "Precondition Failed" }, { 413, "Content Too Large" },
		{ 414, "URI Too Long" }, { 416, "Range Not Satisfiable" },
		{ 429, "Too Many Requests" }, { 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 502, "Bad Gateway" },
		{ 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
		{ 507, "Insufficient Storage" },
	};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			return reasons[i].text;
	return "HTTP error";
}

int conn_error(const struct reply *r, const char *what)
{
	json_t *o = r->body ? json_loads(r->body, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(o, "Message"));

	/* The status first, so that scripts can grep for it. */
	if (msg)
		fprintf(stderr, "webjobs: %ld %s: %s\n", r->status, conn_reason(r->status), msg);
	else
		fprintf(stderr, "webjobs: %ld %s: %s failed\n", r->status, conn_reason(r->status),
			what);
	json_decref(o);
	return 3;
}

char *conn_escape(const char *s)
{
	CURL *c = curl_easy_init();
	char *e = c ? curl_easy_escape(c, s, 0) : NULL;
	char *out = e ? strdup(e) : NULL;

	if (e)
		curl_free(e);
	if (c)
		curl_easy_cleanup(c);
	return out;
}

int conn_open(const char *url, const char *name)
{
	if (url)
		base_url = strdup(url);
	if (name)
		user = strdup(name);
	if (!base_url && getenv("WEBJOBS_URL"))
		base_url = strdup(getenv("WEBJOBS_URL"));
	if (!user && getenv("WEBJOBS_USERNAME"))
		user = strdup(getenv("WEBJOBS_USERNAME"));
	if (getenv("WEBJOBS_PASSWORD"))
		password = strdup(getenv("WEBJOBS_PASSWORD"));
	if (read_config() < 0) {
		conn_close();
		return 2;
	}
	if (!base_url)
		base_url = strdup("http://127.0.0.1:8080");
	if (base_url && base_url[0] && base_url[strlen(base_url) - 1] == '/')
		base_url[strlen(base_url) - 1] = '\0';
	if (!base_url || lcurl_load() < 0) {
		conn_close();
		return 3;
	}
	return 0;
}

void conn_close(void)
{
	free(base_url);
	free(user);
	free(password);
	base_url = user = password = NULL;
}

int conn_call(const char *method, const char *path, const void *body, size_t len,
	      const char *const *headers, long want, const char *what, struct reply *r)
{
	if (conn_request(method, path, body, len, headers, r) < 0)
		return 3;
	if (r->status != want) {
		conn_error(r, what);
		free(r->body);
		r->body = NULL;
		return 3;
	}
	return 0;
}
