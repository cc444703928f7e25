/*
 * http_reply: the replies of the HTTP layer — JSON, errors, files from
 * their fd, chunked streams that sleep while they have nothing to send,
 * ETags — and suspending and resuming a request (docs/DECISIONS.md,
 * "libmicrohttpd inside libuv", rule 3).
 */
#define _GNU_SOURCE
#include "http_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- replies ---- */

static void set_reply(struct http_request *req, unsigned status,
		      const char *content_type, struct MHD_Response *r);

void http_add_header(struct http_request *req, const char *name,
		     const char *value)
{
	if (req->nh == MAX_REPLY_HEADERS)
		return;
	req->hname[req->nh] = strdup(name);
	req->hvalue[req->nh] = strdup(value);
	req->nh++;
}

void http_reply(struct http_request *req, unsigned status,
		const char *content_type, const void *body, size_t len)
{
	struct MHD_Response *r;

	if (req->resp || req->stage == ST_REPLIED)
		return;
	r = MHD_create_response_from_buffer(len, (void *)body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return;
	set_reply(req, status, content_type, r);
}

void http_reply_static(struct http_request *req, unsigned status, const char *content_type,
		       const void *body, size_t len)
{
	struct MHD_Response *r;

	if (req->resp || req->stage == ST_REPLIED)
		return;
	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (r)
		set_reply(req, status, content_type, r);
}

/* Adds the pending headers to r and makes it the reply. */
static void set_reply(struct http_request *req, unsigned status,
		      const char *content_type, struct MHD_Response *r)
{
	if (content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (int i = 0; i < req->nh; i++)
		if (req->hname[i] && req->hvalue[i])
			MHD_add_response_header(r, req->hname[i], req->hvalue[i]);
	req->resp = r;
	req->status = status;
}

void http_reply_fd(struct http_request *req, unsigned status,
		   const char *content_type, int fd, uint64_t offset, uint64_t len)
{
	struct MHD_Response *r;

	if (req->resp || req->stage == ST_REPLIED) {
		close(fd);
		return;
	}
	r = MHD_create_response_from_fd_at_offset64(len, fd, offset);
	if (!r) {
		close(fd);
		http_reply_error(req, 500, "Cannot send the file.");
		return;
	}
	set_reply(req, status, content_type, r);
	req->big_file = !req->srv->tls && len > MHD_SENDFILE_CHUNK;
}

void http_stream_wait(struct http_request *req)
{
	http_suspend(req);
}

void http_stream_wake(struct http_request *req)
{
	http_resume(req);
}

struct stream {
	struct http_server *srv;
	http_reader read;
	void (*done)(void *);
	void *arg;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	long n;

	if (st->srv->closing)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = st->read(st->arg, pos, buf, max);

	if (n == -1)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	if (st->done)
		st->done(st->arg);
	free(st);
}

void http_reply_stream(struct http_request *req, unsigned status,
		       const char *content_type, http_reader read, void *arg,
		       void (*done)(void *arg))
{
	struct stream *st = calloc(1, sizeof(*st));
	struct MHD_Response *r;

	if (!st || req->resp || req->stage == ST_REPLIED) {
		free(st);
		if (done)
			done(arg);
		return;
	}
	st->srv = req->srv;
	st->read = read;
	st->done = done;
	st->arg = arg;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, st,
					      stream_free);
	if (!r) {
		stream_free(st);
		http_reply_error(req, 500, "Cannot send the reply.");
		return;
	}
	set_reply(req, status, content_type, r);
}

void http_reply_empty(struct http_request *req, unsigned status)
{
	http_reply(req, status, NULL, "", 0);
}

#define JSON_TYPE "application/json; charset=utf-8"

void http_reply_json(struct http_request *req, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(body);
	if (!text) {
		http_reply_error(req, 500, "Out of memory.");
		return;
	}
	http_reply(req, status, JSON_TYPE, text, strlen(text));
	free(text);
}

void http_reply_error(struct http_request *req, unsigned status,
		      const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	json_t *o;
	char *text;

	/* Never cut: a message may quote a long path or setting. */
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	o = json_object();
	/* A message may quote user input that is not UTF-8. */
	json_object_set_new(o, "Message", json_stringn_nocheck(msg ? msg : "Out of memory.",
							       strlen(msg ? msg : "Out of memory.")));
	free(msg);
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!text) {
		http_reply(req, status, JSON_TYPE, "{\"Message\":\"\"}", 14);
		return;
	}
	http_reply(req, status, JSON_TYPE, text, strlen(text));
	free(text);
}

int http_etag_matches(const char *inm, const char *tag)
{
	size_t tlen = strlen(tag);

	if (!inm)
		return 0;
	for (const char *p = inm; *p;) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p == '*')
			return 1;
		if (strncmp(p, tag, tlen) == 0 &&
		    (p[tlen] == '\0' || p[tlen] == ',' || p[tlen] == ' '))
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

void http_reply_json_text_etag(struct http_request *req, const char *text,
			       size_t len, uint64_t hash)
{
	char tag[24];

	snprintf(tag, sizeof(tag), "\"%016llx\"", (unsigned long long)hash);
	http_add_header(req, MHD_HTTP_HEADER_ETAG, tag);
	if (http_etag_matches(http_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH), tag)) {
		http_reply(req, 304, NULL, "", 0);
		return;
	}
	http_reply(req, 200, JSON_TYPE, text, len);
}

void http_list_add(struct http_request *req, enum req_list which)
{
	struct http_server *s = req->srv;

	req->next_in[which] = s->list[which];
	req->prev_in[which] = NULL;
	if (s->list[which])
		s->list[which]->prev_in[which] = req;
	s->list[which] = req;
}

void http_list_remove(struct http_request *req, enum req_list which)
{
	if (req->prev_in[which])
		req->prev_in[which]->next_in[which] = req->next_in[which];
	else if (req->srv->list[which] == req)
		req->srv->list[which] = req->next_in[which];
	if (req->next_in[which])
		req->next_in[which]->prev_in[which] = req->prev_in[which];
	req->next_in[which] = req->prev_in[which] = NULL;
}

void http_suspend(struct http_request *req)
{
	if (!req->suspended && !req->srv->closing) {
		req->suspended = 1;
		http_list_add(req, RL_SLEEPING);
		MHD_suspend_connection(req->conn);
	}
}

void http_resume(struct http_request *req)
{
	if (req->suspended) {
		req->suspended = 0;
		http_list_remove(req, RL_SLEEPING);
		MHD_resume_connection(req->conn);
		http_mhd_run(req->srv);
	}
}

