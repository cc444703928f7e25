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
#include "deploy.h"
#include "child.h"
#include "evq.h"
#include "home.h"
#include "http.h"
#include "launch.h"
#include "log.h"
#include "notify.h"
#include "options.h"
#include "process.h"
#include "registry.h"
#include "run.h"
#include "scheduler.h"
#include "supervisor.h"
#include "fence.h"
#include "share.h"
#include "spawner.h"
#include "tree.h"
#include "webhook.h"

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
	int home_open;
};

/* The last step of a shutdown: every run and every continuous job has
 * ended. */
static void on_runs_stopped(void *arg)
{
	struct server *s = arg;

	if (--s->pending_stops > 0)
		return;
	/* Not a sweep planned by the last exits, which tree_close would
	 * drop: what the jobs left behind ends before the host does. */
	tree_sweep_final();
	share_stop();
	fence_stop();
	registry_close(s->registry);
	s->registry = NULL;
	/* The final events of the runs just ended get a moment to go out;
	 * the rest stays in the spool for the next start. */
	webhook_stop();
	evq_close();
	tree_close();
	child_close();
	hostcfg_watch_close(s->cfg);
	s->cfg = NULL;
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sighup, NULL);
}

/* Graceful shutdown (docs/API.md, "The job's process"): no new requests, runs asked to stop and
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
	/* Stop scheduling first (docs/API.md, "The job's process"), then the runs and the jobs. */
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

/* A root host runs jobs as another user: that user must be able to enter
 * the working copies, or every run would fail with "Permission denied" and
 * nothing to say why; that is an error. The home matters only to jobs that
 * run in place (and to jobs that use WEBJOBS_DATA_PATH): a warning here,
 * and such a run fails with a line that says why (src/launch.c). */
static int check_reach(const struct server *s, char *err, size_t errsz)
{
	const char *user = s->opt.run_as ? s->opt.run_as : "nobody";
	char bad[4096];

	if (!process_user_can_reach(s->opt.temp, bad, sizeof(bad))) {
		snprintf(err, errsz,
			 "jobs run as %.64s, who cannot enter %.700s (the way to the working "
			 "copies, --temp): allow it (chmod o+x), choose another --temp, or set --run-as",
			 user, bad);
		return -1;
	}
	return 0;
}

/* Said once the host is up (a start that fails says one line only). */
static void warn_reach(const struct server *s)
{
	char bad[4096];

	if (!process_user_can_reach(s->home.root, bad, sizeof(bad)))
		log_warn("jobs run as %s, who cannot enter %s: jobs that run in place "
			 "(is_in_place) will fail to start, and WEBJOBS_DATA_PATH is out of their "
			 "reach; allow it (chmod o+x) or set --run-as",
			 s->opt.run_as ? s->opt.run_as : "nobody", bad);
}

/* Flags, log, the jobs' user, the home, process tracking. */
static int open_host(struct server *s, int argc, char **argv, char *err, size_t errsz)
{
	int rc;

	if (options_parse(&s->opt, argc, argv, err, errsz) < 0)
		return -1;
	if (set_level(s->opt.log_level) < 0) {
		snprintf(err, errsz, "bad log level '%s' (error, warning, info, debug)",
			 s->opt.log_level);
		return -1;
	}
	if (s->opt.log_file && log_open(s->opt.log_file) < 0) {
		snprintf(err, errsz, "cannot open log file %s: %s", s->opt.log_file,
			 strerror(errno));
		return -1;
	}
	if (set_run_as(s->opt.run_as, err, errsz) < 0)
		return -1;
	if (home_open(&s->home, s->opt.home, err, errsz) < 0)
		return -1;
	s->home_open = 1;
	if (check_reach(s, err, errsz) < 0)
		return -1;
	s->loop = uv_default_loop();
	evq_start(s->loop);
	if (tree_init(s->loop, s->opt.cgroup, s->opt.instance_id, err, errsz) < 0)
		return -1;
	/* Before any thread: the helper is a fork of this process. In the
	 * host's cgroup leaf, as tree_init left it. */
	if ((rc = spawner_start()) < 0)
		log_warn("cannot start the spawn helper (%s): job processes are started by the "
			 "host itself", strerror(-rc));
	return 0;
}

/* The listener first: a port in use must fail before any job starts. No
 * request is handled before uv_run, when everything is in place. */
static int listen_http(struct server *s, char *err, size_t errsz)
{
	struct http_config hc;
	struct http_handlers hd;

	s->api.loop = s->loop;
	s->api.home = &s->home;
	s->api.registry = s->registry;
	s->api.auth = s->auth;
	hd = api_handlers(&s->api);
	hc.listen = s->opt.listen;
	hc.max_connections = (unsigned)s->opt.max_connections;
	hc.idle_timeout = (unsigned)s->opt.idle_timeout;
	hc.max_upload = s->opt.max_upload_size;
	hc.tls_cert = s->opt.tls_cert;
	hc.tls_key = s->opt.tls_key;
	return http_server_start(&s->http, s->loop, &hc, &hd, err, errsz);
}

/* A home other machines change too (docs/SCALE-OUT.md). */
static int start_sharing(struct server *s, char *err, size_t errsz)
{
	struct share_config c = { s->loop, &s->home, s->registry, s->opt.instance_id,
				  s->opt.shared_home };

	int rc;

	if (share_start(&c, err, errsz) < 0)
		return -1;
	if (!share_active())
		return 0;
	log_info("the home (%s) is shared: following changes other machines publish in "
		 "data/webjobs/changes", share_fs_name());
	if ((rc = fence_start(s->home.fd, s->opt.instance_id, (int)s->opt.fence_after)) < 0)
		log_error("cannot watch the home for its loss (%s): jobs will not be stopped if it "
			  "goes away", strerror(-rc));
	else if (s->opt.fence_after)
		log_info("job processes are killed if the home does not answer for %d s "
			 "(--fence-after)", (int)s->opt.fence_after);
	return 0;
}

/* Runs, continuous jobs and schedules: recovery first, then every job
 * that should run is started (from the loop's queue, once it runs). */
static void start_jobs(struct server *s)
{
	struct runner_config rcfg = { &s->home, s->registry, s->cfg, s->opt.instance_id,
				      s->opt.temp };
	struct supervisor_config scfg = { &s->home, s->registry, s->cfg, s->opt.instance_id,
					  s->opt.temp };
	struct scheduler_config kcfg = { &s->home, s->registry, s->cfg, NULL,
					 s->opt.instance_id };

	char *base = NULL;
	struct webhook_config wcfg = { s->loop, &s->home, s->cfg, s->opt.instance_id, NULL };

	/* Before recovery: a run found Aborted is told of too. */
	if (asprintf(&base, "%s://%s", s->opt.tls_cert ? "https" : "http",
		     http_server_address(s->http)) >= 0) {
		wcfg.base_url = base;
		webhook_start(&wcfg);
		free(base);
	}
	launch_kill_leftovers(s->opt.temp);
	deploy_sweep(&s->home, s->loop);
	s->runner = s->cfg ? runner_new(s->loop, &rcfg) : NULL;
	if (s->runner)
		runner_recover(s->runner);
	s->supervisor = s->runner ? supervisor_new(s->loop, &scfg) : NULL;
	kcfg.runner = s->runner;
	s->scheduler = s->supervisor ? scheduler_new(s->loop, &kcfg) : NULL;
	if (!s->scheduler) {
		/* Out of memory at start-up: nothing can run; give up. */
		fprintf(stderr, "webjobs: out of memory\n");
		exit(2);
	}
	s->api.runner = s->runner;
	s->api.supervisor = s->supervisor;
	s->api.http = s->http;
	s->api.cfg = s->cfg;
}

static void catch_signals(struct server *s)
{
	uv_signal_init(s->loop, &s->sigterm);
	uv_signal_init(s->loop, &s->sigint);
	uv_signal_init(s->loop, &s->sighup);
	s->sigterm.data = s->sigint.data = s->sighup.data = s;
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	uv_signal_start(&s->sighup, on_signal, SIGHUP);
}

int server_main(int argc, char **argv)
{
	struct server s = { 0 };
	char err[1024];
	struct auth_source src = { 0 };

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (open_host(&s, argc, argv, err, sizeof(err)) < 0)
		goto fail;
	src.auth_file = s.opt.auth_file;
	src.env_user = getenv("WEBJOBS_USERNAME");
	src.env_pass = getenv("WEBJOBS_PASSWORD");
	src.home = s.home.root;
	if (!(s.auth = auth_new(s.loop, &src, stdout, err, sizeof(err))))
		goto fail;
	if (!(s.registry = registry_new(s.loop, &s.home))) {
		snprintf(err, sizeof(err), "cannot watch the home's folders");
		goto fail;
	}
	if (listen_http(&s, err, sizeof(err)) < 0) {
		registry_close(s.registry);
		goto fail;
	}
	if (start_sharing(&s, err, sizeof(err)) < 0) {
		registry_close(s.registry);
		goto fail;
	}
	warn_reach(&s);
	s.cfg = hostcfg_watch_start(s.loop, s.home.root, on_settings_changed, &s);
	start_jobs(&s);
	catch_signals(&s);
	log_info("home %s, instance %s, job processes tracked by %s", s.home.root,
		 s.opt.instance_id, tree_mode());
	printf("webjobs: listening on %s://%s\n", s.opt.tls_cert ? "https" : "http",
	       http_server_address(s.http));
	printf("webjobs: dashboard at %s://%s/azurejobs/\n", s.opt.tls_cert ? "https" : "http",
	       http_server_address(s.http));
	fflush(stdout);
	notify_systemd("READY=1");
	uv_run(s.loop, UV_RUN_DEFAULT);
	spawner_stop();
	runner_free(s.runner);
	supervisor_free(s.supervisor);
	evq_free();
	uv_loop_close(s.loop);
	auth_free(s.auth);
	home_close(&s.home);
	options_free(&s.opt);
	return 0;
fail:
	if (s.loop) {
		/* Close what was opened on the loop, then let it wind down. */
		evq_close();
		tree_close();
		spawner_stop();
		uv_run(s.loop, UV_RUN_DEFAULT);
		evq_free();
	}
	auth_free(s.auth);
	if (s.home_open)
		home_close(&s.home);
	fprintf(stderr, "webjobs: %s\n", err);
	options_free(&s.opt);
	return 2;
}
