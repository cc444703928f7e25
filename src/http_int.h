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
/* libmicrohttpd 0.9.75 sends a file 128 KiB per sendfile() when it runs
 * in our loop, and corks the socket when more than that is left. */
#define MHD_SENDFILE_CHUNK (128 * 1024)

/* The server's lists of requests: the suspended ones (MHD must not be
 * stopped with any), and the files being sent whose socket is still to
 * be uncorked (docs/DECISIONS.md, "Files go out with sendfile"). */
enum req_list { RL_SLEEPING, RL_UNCORK, RL_COUNT };

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
	struct http_request *list[RL_COUNT];
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
	int suspended; /* and on RL_SLEEPING */
	int uncork;    /* on RL_UNCORK */
	struct http_request *next_in[RL_COUNT], *prev_in[RL_COUNT];
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
	int big_file; /* the reply is a file MHD will send corked */
};

/* Runs MHD now and re-arms its timer (after a resume). */
void http_mhd_run(struct http_server *s);
/* Puts a request on one of the server's lists, or takes it off. */
void http_list_add(struct http_request *req, enum req_list which);
void http_list_remove(struct http_request *req, enum req_list which);

#endif
