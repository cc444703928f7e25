/*
 * http: the HTTP/1.1 server — libmicrohttpd in external-epoll mode, driven
 * by the one libuv loop (docs/DECISIONS.md, "libmicrohttpd inside
 * libuv") — and the request/reply interface the
 * API modules use. Knows nothing of routes or jobs.
 *
 * Life of a request: begin() when its headers are complete (the owner
 * decides how to take the body, or replies at once); the body is read;
 * complete() when it is whole. A reply may be given at once, or later after
 * http_suspend() and http_resume(). done() when MHD forgets the request.
 */
#ifndef WEBJOBS_HTTP_H
#define WEBJOBS_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_server;
struct http_request;

struct http_config {
	const char *listen;        /* "ADDR:PORT", "[V6]:PORT" */
	unsigned max_connections;
	unsigned idle_timeout;     /* seconds */
	uint64_t max_upload;       /* bytes */
	const char *tls_cert;      /* PEM files, or NULL */
	const char *tls_key;
};

struct http_handlers {
	void (*begin)(struct http_request *req, void *arg);
	void (*complete)(struct http_request *req, void *arg);
	void (*done)(struct http_request *req, void *arg);
	void *arg;
};

/* Binds and starts serving. Returns 0, or a negative errno with a one-line
 * reason in err. */
int http_server_start(struct http_server **out, uv_loop_t *loop,
		      const struct http_config *cfg,
		      const struct http_handlers *hd, char *err, size_t errsz);
/* "127.0.0.1:8080", the real bound address and port. */
const char *http_server_address(const struct http_server *s);
/* Stops accepting and frees the server (pending requests are dropped). */
void http_server_stop(struct http_server *s);

/* ---- a request ---- */
unsigned http_method(const struct http_request *req); /* enum http_method */
const char *http_method_name(const struct http_request *req);
const char *http_path(const struct http_request *req);  /* raw, no query */
const char *http_query(const struct http_request *req); /* raw, or "" */
const char *http_header(const struct http_request *req, const char *name);
const char *http_prefix(const struct http_request *req); /* scheme://host */
const char *http_client(const struct http_request *req); /* address text */
void http_set_user(struct http_request *req, void *user);
void *http_user(const struct http_request *req);

/* In begin(): keep the body in memory, up to max bytes (more: 413). By
 * default the body is read and thrown away. */
void http_body_to_memory(struct http_request *req, size_t max);
/* In begin(): write the body to fd as it arrives (the caller owns fd).
 * A write error is kept for http_body_error. */
void http_body_to_fd(struct http_request *req, int fd);
/* 0, or the negative errno of the first failed write of the body. */
int http_body_error(const struct http_request *req);
/* The number of body bytes received. */
uint64_t http_body_size(const struct http_request *req);

/* The kept body (NUL-terminated); *len gets its length. */
const char *http_body(const struct http_request *req, size_t *len);

/* ---- replies: each queues the reply (once per request) ---- */
void http_add_header(struct http_request *req, const char *name,
		     const char *value);
void http_reply(struct http_request *req, unsigned status,
		const char *content_type, const void *body, size_t len);
void http_reply_empty(struct http_request *req, unsigned status);
/* Compact JSON; takes the reference to body. */
void http_reply_json(struct http_request *req, unsigned status, json_t *body);
/* {"Message":"..."} */
void http_reply_error(struct http_request *req, unsigned status,
		      const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like http_reply, for a body that lives as long as the process (not
 * copied: the dashboard's files). */
void http_reply_static(struct http_request *req, unsigned status, const char *content_type,
		       const void *body, size_t len);
/* 1 when the If-None-Match list inm holds tag (or is "*"). */
int http_etag_matches(const char *inm, const char *tag);
/* A JSON text with an ETag; 304 when If-None-Match has the same tag. */
void http_reply_json_text_etag(struct http_request *req, const char *text,
			       size_t len, uint64_t hash);
int http_replied(const struct http_request *req);
/* The status of the reply given (0 when none yet). */
unsigned http_status(const struct http_request *req);
/* Open connections of the server. */
unsigned http_server_connections(const struct http_server *s);

/* Replies with len bytes of the file fd from offset, read by MHD as it
 * sends (a large file is never held in memory). Takes fd. */
void http_reply_fd(struct http_request *req, unsigned status,
		   const char *content_type, int fd, uint64_t offset, uint64_t len);

/* Replies with a body of unknown length (chunked) produced by read(arg,
 * pos, buf, max), which returns the number of bytes it put in buf; 0 only
 * right after http_stream_wait (nothing to send yet: it is called again
 * once woken — a 0 without the wait would make MHD call it again at once);
 * -1 at the end; -2 on an error (the connection is cut). done(arg) when
 * MHD is finished with it. */
typedef long (*http_reader)(void *arg, uint64_t pos, char *buf, size_t max);
/* From inside a reader with nothing to send yet: the connection sleeps
 * (no busy loop) until http_stream_wake; the reader then returns 0. */
void http_stream_wait(struct http_request *req);
void http_stream_wake(struct http_request *req);
void http_reply_stream(struct http_request *req, unsigned status,
		       const char *content_type, http_reader read, void *arg,
		       void (*done)(void *arg));

/* Holds a complete request without a reply; http_resume after replying. */
void http_suspend(struct http_request *req);
void http_resume(struct http_request *req);

#endif
