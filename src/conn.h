/*
 * conn: the client's connection to a host (see conn.c): settings from the
 * flags, the environment or ~/.config/webjobs/config, and HTTP requests.
 */
#ifndef WEBJOBS_CONN_H
#define WEBJOBS_CONN_H

#include <stddef.h>

/* A reply: status, body (NUL-ended, malloc'ed; free it), Location. */
struct reply {
	long status;
	char *body;
	size_t len;
	int stream;       /* write to stdout as it comes */
	char location[2048];
};

/* Takes the host's URL and the user (NULL: from the environment or the
 * config file) and loads libcurl. Returns 0, 2 (a config file others may
 * read) or 3 (no libcurl). */
int conn_open(const char *url, const char *user);
void conn_close(void);

/* Sends a request to path (already escaped). Returns 0 with r filled, or
 * -1 after printing why it could not be made. */
int conn_request(const char *method, const char *path, const void *body, size_t len,
		 const char *const *headers, struct reply *r);

/* conn_request, then: the status is want → 0 with r (its body for the
 * caller to free); else the error printed (conn_error) → 3, as when the
 * request could not be made. */
int conn_call(const char *method, const char *path, const void *body, size_t len,
	      const char *const *headers, long want, const char *what, struct reply *r);

/* Copies a streamed reply (a followed log) to stdout as it arrives;
 * 0, or 3 when it failed. */
int conn_stream(const char *rel);

/* Prints the host's error for a reply that is not 2xx, as
 * "webjobs: 404 Not Found: {the host's message}"; returns 3. */
int conn_error(const struct reply *r, const char *what);

/* "Not Found" for 404, and so on. */
const char *conn_reason(long status);

/* s percent-escaped for a path segment or a query value; a new string. */
char *conn_escape(const char *s);

#endif
