/*
 * server: start-up, the loop, and shutdown of `webjobs serve`.
 *
 * Start-up order: flags, home, credentials, registry (first read of every
 * job and the watches), HTTP listener; then the "listening" line and
 * READY=1. Signals become loop events through uv_signal (no work in a
 * handler). On SIGTERM/SIGINT the listener closes first, then the registry,
 * and the loop runs until every handle is closed.
 */
#define _GNU_SOURCE
#include "server.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "api.h"
#include "auth.h"
#include "home.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "options.h"
#include "process.h"
#include "registry.h"
#include "run.h"
#include "scheduler.h"
#include "supervisor.h"

struct server {
	uv_loop_t *loop;
	struct options opt;
	struct home home;
	struct auth *auth;
	struct registry *registry;
	struct hostcfg_watch *cfg;
	struct runner *runner;
	struct supervisor *supervisor;
	struct scheduler *scheduler;
	int pending_stops;
	struct http_server *http;
	struct api api;
	uv_signal_t sigterm, sigint, sighup;
	int stopping;
};

/* The last step of a shutdown: every run and every continuous job has
 * ended. */
static void on_runs_stopped(void *arg)
{
	struct server *s = arg;

	if (--s->pending_stops > 0)
		return;
	registry_close(s->registry);
	s->registry = NULL;
	hostcfg_watch_close(s->cfg);
	s->cfg = NULL;
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sighup, NULL);
}

/* Graceful shutdown (SPEC 5.5): no new requests, runs asked to stop and
 * killed after their stopping_wait_time, then the loop winds down. */
static void stop(struct server *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	notify_systemd("STOPPING=1");
	log_info("shutting down");
	http_server_stop(s->http);
	s->http = NULL;
	/* Stop scheduling first (SPEC 5.5), then the runs and the jobs. */
	scheduler_close(s->scheduler);
	s->scheduler = NULL;
	s->pending_stops = 2;
	runner_shutdown(s->runner, on_runs_stopped, s);
	supervisor_shutdown(s->supervisor, on_runs_stopped, s);
}

static void on_settings_changed(void *arg, const struct hostcfg *old)
{
	struct server *s = arg;

	(void)old;
	if (s->supervisor && !s->stopping)
		supervisor_host_changed(s->supervisor);
	if (s->scheduler && !s->stopping)
		scheduler_host_changed(s->scheduler);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *s = h->data;

	if (signum == SIGHUP) {
		int rc = log_open(NULL);

		if (rc < 0)
			log_error("cannot reopen the log file: %s", strerror(-rc));
		return;
	}
	stop(s);
}

/* Every connection, job pipe and watch costs a descriptor: take the hard
 * limit, not the 1024 of a login shell. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Jobs never run as root unless asked: a host running as root runs them
 * as --run-as, by default "nobody". A host that is not root runs them as
 * itself; --run-as can then only name that same user. */
static int set_run_as(const char *user, char *err, size_t errsz)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (user && (!(pw = getpwnam(user)) || pw->pw_uid != geteuid())) {
			snprintf(err, errsz, "--run-as %s needs the host to run as root", user);
			return -1;
		}
		return 0;
	}
	if (!user)
		user = "nobody";
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errsz, "--run-as: no user '%s'", user);
		return -1;
	}
	if (pw->pw_uid != 0 && access("/usr/bin/setpriv", X_OK) < 0) {
		snprintf(err, errsz, "--run-as %s needs /usr/bin/setpriv (util-linux)", user);
		return -1;
	}
	process_set_user((int)pw->pw_uid, (int)pw->pw_gid);
	return 0;
}

static int set_level(const char *name)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0) {
			log_level = i;
			return 0;
		}
	return -1;
}

int server_main(int argc, char **argv)
{
	struct server s = { 0 };
	char err[512];
	struct auth_source src = { 0 };
	struct http_config hc;
	struct http_handlers hd;
	int rc = 2;

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (options_parse(&s.opt, argc, argv, err, sizeof(err)) < 0)
		goto fail;
	if (set_level(s.opt.log_level) < 0) {
		snprintf(err, sizeof(err), "bad log level '%s' (error, warning, info, debug)",
			 s.opt.log_level);
		goto fail;
	}
	if (s.opt.log_file && log_open(s.opt.log_file) < 0) {
		snprintf(err, sizeof(err), "cannot open log file %s: %s",
			 s.opt.log_file, strerror(errno));
		goto fail;
	}
	if (set_run_as(s.opt.run_as, err, sizeof(err)) < 0)
		goto fail;
	if (home_open(&s.home, s.opt.home, err, sizeof(err)) < 0)
		goto fail;
	s.loop = uv_default_loop();
	src.auth_file = s.opt.auth_file;
	src.env_user = getenv("WEBJOBS_USERNAME");
	src.env_pass = getenv("WEBJOBS_PASSWORD");
	src.home = s.home.root;
	s.auth = auth_new(s.loop, &src, stdout, err, sizeof(err));
	if (!s.auth)
		goto fail_home;
	s.registry = registry_new(s.loop, &s.home);
	if (!s.registry) {
		snprintf(err, sizeof(err), "cannot watch the home's folders");
		goto fail_auth;
	}
	/* The listener first: a port in use must fail before any job starts.
	 * No request is handled before uv_run, when everything is in place. */
	s.api.loop = s.loop;
	s.api.home = &s.home;
	s.api.registry = s.registry;
	s.api.auth = s.auth;
	hd = api_handlers(&s.api);
	hc.listen = s.opt.listen;
	hc.max_connections = (unsigned)s.opt.max_connections;
	hc.idle_timeout = (unsigned)s.opt.idle_timeout;
	hc.max_upload = s.opt.max_upload_size;
	hc.tls_cert = s.opt.tls_cert;
	hc.tls_key = s.opt.tls_key;
	if (http_server_start(&s.http, s.loop, &hc, &hd, err, sizeof(err)) < 0) {
		registry_close(s.registry);
		uv_run(s.loop, UV_RUN_DEFAULT);
		goto fail_auth;
	}
	s.cfg = hostcfg_watch_start(s.loop, s.home.root, on_settings_changed, &s);
	{
		struct runner_config rcfg = { &s.home, s.registry, s.cfg,
					      s.opt.instance_id, s.opt.temp };
		struct supervisor_config scfg = { &s.home, s.registry, s.cfg,
						  s.opt.instance_id, s.opt.temp };

		s.runner = s.cfg ? runner_new(s.loop, &rcfg) : NULL;
		if (s.runner)
			runner_recover(s.runner);
		s.supervisor = s.runner ? supervisor_new(s.loop, &scfg) : NULL;
	}
	if (s.supervisor) {
		struct scheduler_config kcfg = { &s.home, s.registry, s.cfg, s.runner,
						 s.opt.instance_id };

		s.scheduler = scheduler_new(s.loop, &kcfg);
		if (!s.scheduler)
			s.supervisor = NULL;
	}
	if (!s.supervisor) {
		/* Out of memory at start-up: nothing can run; give up. */
		fprintf(stderr, "webjobs: out of memory\n");
		exit(2);
	}
	s.api.runner = s.runner;
	s.api.supervisor = s.supervisor;
	s.api.http = s.http;
	s.api.cfg = s.cfg;
	uv_signal_init(s.loop, &s.sigterm);
	uv_signal_init(s.loop, &s.sigint);
	uv_signal_init(s.loop, &s.sighup);
	s.sigterm.data = s.sigint.data = s.sighup.data = &s;
	uv_signal_start(&s.sigterm, on_signal, SIGTERM);
	uv_signal_start(&s.sigint, on_signal, SIGINT);
	uv_signal_start(&s.sighup, on_signal, SIGHUP);

	log_info("home %s, instance %s", s.home.root, s.opt.instance_id);
	printf("webjobs: listening on %s://%s\n", s.opt.tls_cert ? "https" : "http",
	       http_server_address(s.http));
	fflush(stdout);
	notify_systemd("READY=1");

	uv_run(s.loop, UV_RUN_DEFAULT);
	rc = 0;
	runner_free(s.runner);
	supervisor_free(s.supervisor);
	uv_loop_close(s.loop);
	auth_free(s.auth);
	home_close(&s.home);
	options_free(&s.opt);
	return rc;
fail_auth:
	auth_free(s.auth);
fail_home:
	home_close(&s.home);
fail:
	fprintf(stderr, "webjobs: %s\n", err);
	options_free(&s.opt);
	return rc;
}
