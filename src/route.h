/*
 * route: the table of HTTP routes and the matcher (docs/API.md, "HTTP conventions" and "Endpoints").
 *
 * A pattern is a '/'-separated list of segments. Literal segments match
 * without regard to case; "{T}" and "{C}" match any of the four route
 * families of triggered and continuous jobs ("api/triggeredwebjobs",
 * "api/triggeredjobs", "jobs/triggered", "api/jobs/triggered"), "{J}" the
 * list of all jobs; "{name}"-style segments capture one percent-decoded
 * segment; a final "{*}" captures the raw rest of the path. Pure: no I/O.
 */
#ifndef WEBJOBS_ROUTE_H
#define WEBJOBS_ROUTE_H

#include <stddef.h>

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_DELETE = 1 << 4,
	HTTP_OTHER = 1 << 5,
};

enum job_type { JOB_TRIGGERED = 0, JOB_CONTINUOUS = 1, JOB_TYPE_NONE = -1 };

#define ROUTE_MAX_PARAMS 3
#define ROUTE_MAX_SEGMENTS 64

struct route {
	unsigned methods;    /* mask of enum http_method */
	const char *pattern; /* e.g. "{T}/{name}/history/{id}" */
	int handler;         /* the caller's handler number */
	unsigned flags;      /* the caller's flags (e.g. no authentication) */
};

struct route_match {
	const struct route *route;
	enum job_type type; /* from {T}/{C}, else JOB_TYPE_NONE */
	int nparams;
	char *params[ROUTE_MAX_PARAMS]; /* decoded, owned: route_match_free */
	char *rest;                     /* raw rest of the path for {*}, owned */
};

/* The method bit for a method name, HTTP_OTHER for any other. */
unsigned route_method(const char *name);

/* Writes "GET, HEAD, ..." for a mask into buf. */
void route_allow_text(unsigned mask, char *buf, size_t size);

/* Percent-decodes in[0..len) into out (NUL-terminated, at most size-1
 * bytes). '+' stays '+'. Returns the decoded length, or -EINVAL for a bad
 * escape or a decoded NUL, -ENAMETOOLONG when out is too small. */
int route_decode(const char *in, size_t len, char *out, size_t size);

/* Matches a raw request path (no query) against the table. Returns 0 and
 * fills m on a match; -ENOENT when no pattern matches the path; -EPERM when
 * patterns match the path but none takes the method (*allow gets the mask
 * of methods that do); -EINVAL when a captured segment is badly encoded. */
int route_match(const struct route *table, size_t n, unsigned method,
		const char *path, struct route_match *m, unsigned *allow);

void route_match_free(struct route_match *m);

/* Percent-escapes in into out (NUL-terminated, cut to fit): everything
 * but A-Z a-z 0-9 - . _ ~ (and '/' when keep_slash). */
void route_escape(const char *in, char *out, size_t size, int keep_slash);

/* Looks up key in a raw query string ("a=1&b=2") and percent-decodes its
 * value into a new string ('+' stays '+'). Returns NULL when absent or
 * badly encoded. */
char *route_query_get(const char *query, const char *key);

#endif
