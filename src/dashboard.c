/*
 * dashboard: the embedded web app and the browser-safety rules.
 *
 * Files are sent from the binary's read-only data (no copy), gzip-encoded
 * when the request accepts it, with an ETag per encoding and
 * "Cache-Control: no-cache" (the browser revalidates: a 304 costs a few
 * hundred bytes, and a new binary's files are seen at once). Every reply
 * carries the headers of docs/API.md, "Dashboard": a CSP that allows the
 * app's own files only (no inline script), nosniff, same-origin referrers,
 * no framing.
 */
#define _GNU_SOURCE
#include "dashboard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static const char *type_of(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".json", "application/json" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

static void safety_headers(struct http_request *req)
{
	http_add_header(req, "Content-Security-Policy", "default-src 'self'");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	http_add_header(req, "Referrer-Policy", "same-origin");
	http_add_header(req, "X-Frame-Options", "DENY");
}

/* 1 when Accept-Encoding lists gzip (and not with q=0). */
static int accepts_gzip(const char *ae)
{
	for (const char *p = ae; p && (p = strcasestr(p, "gzip")); p += 4) {
		const char *q = p + 4;

		if ((p > ae && p[-1] != ' ' && p[-1] != ',') || (*q && *q != ',' && *q != ';' && *q != ' '))
			continue; /* part of another token */
		while (*q == ' ')
			q++;
		return strncasecmp(q, ";q=", 3) != 0 || strtod(q + 3, NULL) > 0;
	}
	return 0;
}

void dashboard_serve(struct http_request *req, const char *rest)
{
	const char *name = rest && *rest ? rest : "index.html";
	const struct dashboard_asset *a = NULL;
	char tag[32];
	int gz;

	for (unsigned i = 0; i < dashboard_nassets && !a; i++)
		if (strcmp(dashboard_assets[i].name, name) == 0)
			a = &dashboard_assets[i];
	safety_headers(req);
	if (!a) {
		http_reply_error(req, 404, "No such file in the dashboard.");
		return;
	}
	gz = accepts_gzip(http_header(req, "Accept-Encoding"));
	snprintf(tag, sizeof(tag), "\"%016llx%s\"", (unsigned long long)a->hash, gz ? "-gz" : "");
	http_add_header(req, "ETag", tag);
	http_add_header(req, "Cache-Control", "no-cache");
	http_add_header(req, "Vary", "Accept-Encoding");
	if (http_etag_matches(http_header(req, "If-None-Match"), tag)) {
		http_reply(req, 304, NULL, "", 0);
		return;
	}
	if (gz)
		http_add_header(req, "Content-Encoding", "gzip");
	http_reply_static(req, 200, type_of(name), gz ? a->gz : a->data, gz ? a->gzlen : a->len);
}

/* The host[:port] of an origin ("scheme://host[:port]"), or NULL. */
static const char *authority(const char *origin)
{
	const char *p = strstr(origin, "://");

	return p && p[3] ? p + 3 : NULL;
}

int dashboard_cross_site(struct http_request *req)
{
	const char *site = http_header(req, "Sec-Fetch-Site");
	const char *origin = http_header(req, "Origin"), *host, *fwd, *auth;

	if (site && strcasecmp(site, "cross-site") == 0)
		return 1;
	if (!origin)
		return 0;
	if (!(auth = authority(origin)))
		return 1; /* "null" and the like: an opaque origin */
	host = http_header(req, "Host");
	fwd = http_header(req, "X-Forwarded-Host");
	return !((host && strcasecmp(auth, host) == 0) || (fwd && strcasecmp(auth, fwd) == 0));
}
