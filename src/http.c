/*
 * http: libmicrohttpd driven from libuv.
 *
 * MHD runs with MHD_USE_EPOLL and no thread of its own. Its epoll fd is
 * watched by a uv_poll; after every MHD_run() a uv_timer is re-armed from
 * MHD_get_timeout(), which is often 0 while MHD holds buffered work. The
 * pitfalls in docs/DECISIONS.md ("libmicrohttpd inside libuv") shape the
 * access handler: nothing is queued on the
 * first call (that loses keep-alive), a connection is suspended only once
 * its request is complete, and after a resume MHD_run() is called at once.
 *
 * The raw request target comes from MHD's URI log callback, before MHD
 * decodes anything, so that routes see "%2F" as it was sent.
 */
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "files.h"
#include "log.h"
#include "route.h"

#include "http_int.h"

/* ---- accessors ---- */

unsigned http_method(const struct http_request *req) { return req->method; }
const char *http_method_name(const struct http_request *req) { return req->method_name; }
const char *http_path(const struct http_request *req) { return req->path; }
const char *http_query(const struct http_request *req) { return req->query; }
const char *http_prefix(const struct http_request *req) { return req->prefix; }
const char *http_client(const struct http_request *req) { return req->client; }
void http_set_user(struct http_request *req, void *user) { req->user = user; }
void *http_user(const struct http_request *req) { return req->user; }
unsigned http_status(const struct http_request *req) { return req->status; }
unsigned http_server_connections(const struct http_server *s) { return s ? s->open_conns : 0; }
int http_replied(const struct http_request *req) { return req->resp != NULL || req->stage == ST_REPLIED; }

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void http_body_to_memory(struct http_request *req, size_t max)
{
	req->keep_body = 1;
	req->body_max = max;
}

void http_body_to_fd(struct http_request *req, int fd)
{
	req->body_fd = fd;
}

int http_body_error(const struct http_request *req)
{
	return req->body_error;
}

uint64_t http_body_size(const struct http_request *req)
{
	return req->body_seen;
}

const char *http_body(const struct http_request *req, size_t *len)
{
	*len = req->body_len;
	return req->body ? req->body : "";
}

/* What MHD does not answer itself: it closes a connection whose request
 * line does not parse (GARBAGE, "GET" alone, binary bytes) without a word,
 * and one whose request is half-received at the idle timeout too. HTTP/1.1
 * says 400 and 408. MHD (in turbo mode) has not shut the socket down when
 * it tells us of the close, so the reply is written here, straight to the
 * socket (never with TLS: the bytes would not be in the session). */
struct conn_ctx {
	unsigned requests; /* request lines MHD parsed on it */
	uint64_t started;  /* ms, loop time */
};

static void reply_raw(struct MHD_Connection *c, unsigned status)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	char text[256];
	const char *body = status == 408 ? "{\"Message\":\"The request was not received in time.\"}"
					 : "{\"Message\":\"The request is not HTTP.\"}";
	int n = snprintf(text, sizeof(text),
			 "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Type: "
			 "application/json; charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s",
			 status, status == 408 ? "Request Timeout" : "Bad Request", strlen(body), body);

	if (ci)
		(void)!send(ci->connect_fd, text, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Bytes the client sent on the connection, or 0: TCP_INFO's
 * tcpi_bytes_received (Linux 4.1), which glibc's struct tcp_info stops
 * short of; the kernel's layout adds pacing_rate, max_pacing_rate,
 * bytes_acked and bytes_received (u64 each) after glibc's last field. */
static uint64_t bytes_received(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct {
		struct tcp_info base;
		uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	} ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (!ci || getsockopt(ci->connect_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < sizeof(ti))
		return 0;
	return ti.bytes_received;
}

/* ---- the request's life ---- */

/* Host header characters accepted into URLs of replies. */
static int host_ok(const char *h)
{
	size_t len = strlen(h);

	if (len == 0 || len > 255)
		return 0;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || strchr(".-_:[]", *h)))
			return 0;
	return 1;
}

static void fill_request(struct http_request *req, const char *method)
{
	const char *host = http_header(req, MHD_HTTP_HEADER_HOST);
	const union MHD_ConnectionInfo *ci;

	req->method_name = method;
	req->method = route_method(method);
	snprintf(req->prefix, sizeof(req->prefix), "%s://%s",
		 req->srv->tls ? "https" : "http",
		 host && host_ok(host) ? host : req->srv->address);
	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	req->client[0] = '\0';
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
				  req->client, sizeof(req->client));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *)sa)->sin6_addr,
				  req->client, sizeof(req->client));
	}
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_request *req = calloc(1, sizeof(*req));
	char *q;

	if (!req)
		return NULL;
	req->srv = cls;
	req->conn = conn;
	req->body_fd = -1;
	req->target = strdup(uri ? uri : "/");
	if (!req->target) {
		free(req);
		return NULL;
	}
	req->target_len = strlen(req->target);
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		struct conn_ctx *x = ci ? ci->socket_context : NULL;

		if (x)
			x->requests++;
	}
	req->path = req->target;
	q = strchr(req->target, '?');
	if (q) {
		*q = '\0';
		req->query = q + 1;
	} else {
		req->query = "";
	}
	return req;
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_request *req = *con_cls;

	if (!req)
		return;
	/* Headers or a body still arriving at the idle timeout, nothing
	 * sent yet: 408 (the socket is still open, see reply_raw). */
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED && !req->resp &&
	    req->stage != ST_REPLIED && !s->tls)
		reply_raw(conn, 408);
	if (req->suspended) {
		req->suspended = 0;
		http_list_remove(req, RL_SLEEPING);
	}
	if (req->uncork)
		http_list_remove(req, RL_UNCORK);
	if (s->hd.done)
		s->hd.done(req, s->hd.arg);
	if (req->resp)
		MHD_destroy_response(req->resp);
	for (int i = 0; i < req->nh; i++) {
		free(req->hname[i]);
		free(req->hvalue[i]);
	}
	free(req->body);
	free(req->target);
	free(req);
	*con_cls = NULL;
}

/* Queues the prepared reply. */
static enum MHD_Result send_reply(struct http_request *req)
{
	enum MHD_Result rc;

	rc = MHD_queue_response(req->conn, req->status, req->resp);
	MHD_destroy_response(req->resp);
	req->resp = NULL;
	req->stage = ST_REPLIED;
	if (rc == MHD_YES && req->big_file) {
		req->uncork = 1;
		http_list_add(req, RL_UNCORK);
	}
	return rc;
}

static void take_body(struct http_request *req, const char *data, size_t len)
{
	req->body_seen += len;
	if (req->body_seen > req->srv->max_upload ||
	    (req->keep_body && req->body_seen > req->body_max)) {
		req->too_large = 1;
		return;
	}
	if (req->body_fd >= 0 && !req->body_error) {
		/* Pieces are at most ~16 KiB (MHD's read size): a write to a local
		 * file of that size does not hold the loop up. */
		req->body_error = files_write_all(req->body_fd, data, len);
		return;
	}
	if (req->keep_body) {
		char *b = realloc(req->body, req->body_len + len + 1);

		if (!b) {
			req->too_large = 1;
			return;
		}
		memcpy(b + req->body_len, data, len);
		req->body_len += len;
		b[req->body_len] = '\0';
		req->body = b;
	}
}

/* Sums the request line and headers as they were sent. */
/* 1 when name is an HTTP token (RFC 9110 5.1, 5.6.2): not empty, no
 * blank, no separator. MHD lets ": x" and "Name : x" through. */
static int is_token(const char *name)
{
	if (!*name)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= 32 || *p >= 127 || strchr("\"(),/:;<=>?@[\\]{}", *p))
			return 0;
	return 1;
}

struct header_scan {
	size_t total;  /* bytes of the request line and headers */
	int bad_name;  /* a header name that is not a token */
};

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind,
				       const char *key, const char *value)
{
	struct header_scan *h = cls;

	(void)kind;
	h->total += strlen(key) + (value ? strlen(value) : 0) + 4;
	if (!is_token(key))
		h->bad_name = 1;
	return MHD_YES;
}

/* Checks the limits of docs/API.md, "HTTP conventions", on a request whose headers are in. Returns 0 or
 * the status of the error reply it prepared. */
static unsigned check_limits(struct http_request *req)
{
	/* The whole target, query included (on_uri cut it at the '?'). */
	struct header_scan h = { strlen(req->method_name) + req->target_len + 12, 0 };
	const char *cl;

	if (h.total > MAX_HEADERS_SIZE) {
		http_reply_error(req, 414, "The request URL is longer than %d bytes.",
				 MAX_HEADERS_SIZE);
		return 414;
	}
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, add_header_size, &h);
	if (h.total > MAX_HEADERS_SIZE) {
		http_reply_error(req, 431, "The request headers are larger than %d bytes.",
				 MAX_HEADERS_SIZE);
		return 431;
	}
	if (h.bad_name) {
		http_reply_error(req, 400, "A header name is empty or not a token.");
		return 400;
	}
	cl = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > req->srv->max_upload) {
		http_reply_error(req, 413, "The request body is larger than %llu bytes.",
				 (unsigned long long)req->srv->max_upload);
		return 413;
	}
	return 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_request *req = *con_cls;

	(void)url;
	(void)version;
	if (!req)
		return MHD_NO;
	if (req->stage == ST_NEW) {
		req->conn = conn;
		fill_request(req, method);
		req->stage = ST_BODY;
		/* A reply queued on this first call makes MHD close the
		 * connection after it: right for errors, wrong for others. */
		if (check_limits(req))
			return send_reply(req);
		if (s->hd.begin)
			s->hd.begin(req, s->hd.arg);
		if (req->resp)
			return send_reply(req);
		return MHD_YES;
	}
	if (req->stage == ST_BODY && *upload_data_size) {
		if (!req->too_large)
			take_body(req, upload_data, *upload_data_size);
		else
			req->body_seen += *upload_data_size;
		*upload_data_size = 0;
		if (req->body_seen > s->max_upload + MAX_DRAIN)
			return MHD_NO;
		return MHD_YES;
	}
	if (req->stage == ST_BODY) {
		req->stage = ST_WAITING;
		if (req->too_large)
			http_reply_error(req, 413, "The request body is too large.");
		else if (s->hd.complete)
			s->hd.complete(req, s->hd.arg);
	}
	if (req->resp)
		return send_reply(req);
	if (req->stage == ST_REPLIED)
		return MHD_YES;
	if (!req->suspended && s->closing) {
		/* Woken by http_server_stop while it waited (its password
		 * check, the first read of the jobs). */
		http_reply_error(req, 503, "The host is stopping.");
		return send_reply(req);
	}
	if (!req->suspended) {
		/* The owner neither replied nor suspended: a bug, not a hang. */
		log_error("request %s %s got no reply", req->method_name, req->path);
		http_reply_error(req, 500, "No reply was produced.");
		return send_reply(req);
	}
	return MHD_YES;
}

/* ---- connections ---- */

/* Over --max-connections a new connection is closed without a reply
 * (MHD's own limit would instead leave it waiting in the backlog). */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr,
				 socklen_t len)
{
	struct http_server *s = cls;

	(void)addr;
	(void)len;
	return s->open_conns < s->max_conns ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	struct conn_ctx *x = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		s->open_conns++;
		if ((x = calloc(1, sizeof(*x))))
			x->started = uv_now(s->loop);
		*socket_context = x;
		return;
	}
	if (s->open_conns > 0)
		s->open_conns--;
	/* Bytes came, yet no request line: garbage (closed at once), or a
	 * line still unfinished at the idle timeout. */
	if (x && !x->requests && !s->tls && !s->closing && bytes_received(c) > 0)
		reply_raw(c, uv_now(s->loop) - x->started + 500 >= (uint64_t)s->idle_timeout * 1000
				     ? 408 : 400);
	free(x);
	*socket_context = NULL;
}

/* ---- the loop side ---- */

static void on_timer(uv_timer_t *t)
{
	http_mhd_run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	http_mhd_run(p->data);
}

/* MHD corks the socket at a file's first 128 KiB and leaves it corked
 * to the end (it pushes the tail with TCP_NODELAY). Corked, the data
 * leaves in segments that straddle the chunks' ends, and the receiver
 * copies them at about half speed: 0.55-0.7 x nginx over loopback, and
 * nginx itself as slow with tcp_nopush (docs/DECISIONS.md, "Files go
 * out with sendfile"). Once the cork is seen it is taken off; MHD still
 * believes it is on, so it does not cork that connection again. */
static void uncork_files(struct http_server *s)
{
	struct http_request *req = s->list[RL_UNCORK], *next;

	for (; req; req = next) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		int on = 0, off = 0;
		socklen_t len = sizeof(on);

		next = req->next_in[RL_UNCORK];
		if (ci && getsockopt(ci->connect_fd, IPPROTO_TCP, TCP_CORK, &on, &len) == 0 && !on)
			continue; /* not sending yet */
		if (ci && on)
			(void)setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
		req->uncork = 0;
		http_list_remove(req, RL_UNCORK);
	}
}

void http_mhd_run(struct http_server *s)
{
	MHD_UNSIGNED_LONG_LONG to;

	if (s->closing)
		return;
	MHD_run(s->d);
	if (s->list[RL_UNCORK])
		uncork_files(s);
	if (MHD_get_timeout(s->d, &to) == MHD_YES)
		uv_timer_start(&s->timer, on_timer, to, 0);
	else
		uv_timer_stop(&s->timer);
}

/* MHD hands us its own format strings. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("http: %s", line);
}
#pragma GCC diagnostic pop

/* Parses "ADDR:PORT" / "[V6]:PORT" into ss; 0 or -EINVAL. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *slen)
{
	char host[64], *end;
	const char *colon;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		const char *close_b = strchr(spec, ']');

		if (!close_b || close_b[1] != ':' ||
		    (size_t)(close_b - spec - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, (size_t)(close_b - spec - 1));
		host[close_b - spec - 1] = '\0';
		colon = close_b + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0",
		      &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*slen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*slen = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	return 0;
}

/* Binds a listening socket to spec and notes the address it got. */
static int bind_listen(const char *spec, struct http_server *s, char *err,
		       size_t errsz)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	char host[64];
	int fd, one = 1;

	if (parse_listen(spec, &ss, &slen) < 0) {
		snprintf(err, errsz, "bad listen address '%s' (want ADDR:PORT)", spec);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errsz, "cannot create a socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, slen) < 0 || listen(fd, 1024) < 0) {
		int e = errno;

		snprintf(err, errsz, "cannot listen on %s: %s", spec,
			 e == EADDRINUSE ? "address already in use" : strerror(e));
		close(fd);
		return -e;
	}
	slen = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &slen);
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(s->address, sizeof(s->address), "%s:%u", host, ntohs(sin->sin_port));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(s->address, sizeof(s->address), "[%s]:%u", host, ntohs(sin6->sin6_port));
	}
	s->lfd = fd;
	return 0;
}

static char *read_file(const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f) {
		snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	buf = calloc(1, 1024 * 1024 + 1);
	if (buf)
		len = fread(buf, 1, 1024 * 1024, f);
	fclose(f);
	if (buf && len == 0) {
		snprintf(err, errsz, "%s is empty", path);
		free(buf);
		return NULL;
	}
	return buf;
}

int http_server_start(struct http_server **out, uv_loop_t *loop,
		      const struct http_config *cfg,
		      const struct http_handlers *hd, char *err, size_t errsz)
{
	struct http_server *s = calloc(1, sizeof(*s));
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
	const union MHD_DaemonInfo *info;
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->hd = *hd;
	s->max_upload = cfg->max_upload;
	s->max_conns = cfg->max_connections;
	s->idle_timeout = cfg->idle_timeout;
	s->lfd = -1;
	if ((rc = bind_listen(cfg->listen, s, err, errsz)) < 0)
		goto fail;
	if (cfg->tls_cert || cfg->tls_key) {
		if (!cfg->tls_cert || !cfg->tls_key) {
			snprintf(err, errsz, "--tls-cert and --tls-key go together");
			rc = -EINVAL;
			goto fail;
		}
		if (!(s->cert = read_file(cfg->tls_cert, err, errsz)) ||
		    !(s->key = read_file(cfg->tls_key, err, errsz))) {
			rc = -EINVAL;
			goto fail;
		}
		s->tls = 1;
		flags |= MHD_USE_TLS;
	}
	s->d = MHD_start_daemon(
		flags, 0, on_accept, s, on_access, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
		MHD_OPTION_LISTEN_SOCKET, s->lfd,
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
		/* server.c ignores SIGPIPE before any socket exists: MHD may
		 * then send files with sendfile() (else it copies them through
		 * a 4 KiB buffer: 0.2 x nginx, docs/DECISIONS.md). */
		MHD_OPTION_SIGPIPE_HANDLED_BY_APP, (int)1,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections + 1,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(MAX_HEADERS_SIZE + 8 * 1024),
		MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (size_t)4096,
		s->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert,
		MHD_OPTION_HTTPS_MEM_KEY, s->key,
		MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errsz, "cannot start the HTTP server%s",
			 s->tls ? " (check the TLS certificate and key)" : "");
		rc = -EINVAL;
		goto fail;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
	uv_poll_init(loop, &s->poll, info->epoll_fd);
	uv_timer_init(loop, &s->timer);
	s->poll.data = s->timer.data = s;
	uv_poll_start(&s->poll, UV_READABLE, on_poll);
	http_mhd_run(s);
	*out = s;
	return 0;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	free(s->cert);
	free(s->key);
	free(s);
	return rc;
}

const char *http_server_address(const struct http_server *s)
{
	return s->address;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct http_server *s = h->data;

	if (--s->open_handles == 0) {
		free(s->cert);
		free(s->key);
		free(s);
	}
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	s->closing = 1;
	uv_poll_stop(&s->poll);
	/* MHD aborts when stopped with suspended connections: wake them all
	 * (streams then end) and let MHD take them back first. */
	while (s->list[RL_SLEEPING]) {
		struct http_request *req = s->list[RL_SLEEPING];

		req->suspended = 0;
		http_list_remove(req, RL_SLEEPING);
		MHD_resume_connection(req->conn);
	}
	MHD_run(s->d);
	MHD_stop_daemon(s->d);
	close(s->lfd);
	s->open_handles = 2;
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}
