/*
 * http_int: what http.c and http_reply.c share — the server and request
 * structures. Not for other modules: they use http.h.
 */
#ifndef WEBJOBS_HTTP_INT_H
#define WEBJOBS_HTTP_INT_H

#include <microhttpd.h>
#include <stdint.h>

#include "http.h"

#define MAX_HEADERS_SIZE (64 * 1024)
/* Past the upload limit a chunked body is read and dropped up to this
 * much more, so that the client gets its 413; beyond it the connection is
 * closed (MHD cannot queue a reply while a body is arriving). */
#define MAX_DRAIN (16 * 1024 * 1024)
#define MAX_REPLY_HEADERS 8

struct http_server {
	uv_loop_t *loop;
	struct MHD_Daemon *d;
	uv_poll_t poll;
	uv_timer_t timer;
	int lfd;
	int tls;
	char address[80];
	struct http_handlers hd;
	uint64_t max_upload;
	char *cert, *key;
	int closing;
	int open_handles;
	unsigned max_conns, open_conns;
	unsigned idle_timeout; /* seconds */
	struct http_request *sleeping; /* suspended requests */
};

enum stage { ST_NEW, ST_BODY, ST_WAITING, ST_REPLIED };

struct http_request {
	struct http_server *srv;
	struct MHD_Connection *conn;
	char *target; /* raw request target */
	size_t target_len; /* its length, query included */
	char *path;   /* points into target (cut at '?') */
	const char *query;
	const char *method_name;
	unsigned method;
	enum stage stage;
	int suspended;
	struct http_request *next_sleeping, *prev_sleeping;
	char prefix[300];
	char client[64];
	void *user;
	/* body */
	int body_fd;
	int body_error;
	int keep_body;
	size_t body_max;
	char *body;
	size_t body_len;
	uint64_t body_seen;
	int too_large;
	/* reply */
	struct MHD_Response *resp;
	unsigned status;
	char *hname[MAX_REPLY_HEADERS], *hvalue[MAX_REPLY_HEADERS];
	int nh;
};

/* Runs MHD now and re-arms its timer (after a resume). */
void http_mhd_run(struct http_server *s);
/* Takes a request off the server's list of suspended ones. */
void http_sleep_remove(struct http_request *req);

#endif
