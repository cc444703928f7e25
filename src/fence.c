/*
 * fence: two threads, so that neither a hung file system nor a busy loop
 * can keep them from acting.
 *
 * The prober writes and fdatasyncs 8 bytes to data/webjobs/alive/{instance}
 * every second and notes the time of each success. On a network file
 * system that lost its server the write blocks (GlusterFS: until
 * network.ping-timeout, 42 s by default, then ENOTCONN). The watchdog
 * looks every 250 ms: past after_s seconds without a success it kills
 * every job process group it was told of — kill(2) needs no file system —
 * and fence_ok() turns 0, which the loop reads before it starts anything
 * (src/supervisor.c, src/run_disk.c). The first success after that turns
 * it back to 1, and the loop takes its locks again from scratch. after_s
 * must be below the time the storage keeps the locks of a vanished client
 * (measured in docs/SCALE-OUT.md), so that the jobs are gone before
 * another instance can start them.
 */
#define _GNU_SOURCE
#include "fence.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "home.h"
#include "log.h"

#define PROBE_MS 1000
#define WATCH_MS 250

static struct {
	int started;
	atomic_int ok, stop;
	atomic_uint epoch;
	atomic_llong last_ok; /* ms, CLOCK_MONOTONIC */
	long long after_ms;
	int home_fd;
	char path[300];
	uv_thread_t prober, watchdog;
	uv_mutex_t mu;
	pid_t *groups;
	size_t n, cap;
} F = { .ok = 1 };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(long long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void prober(void *arg)
{
	int fd = -1;

	(void)arg;
	while (!atomic_load(&F.stop)) {
		long long t = now_ms();

		if (fd < 0)
			fd = openat(F.home_fd, F.path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0 && pwrite(fd, &t, sizeof(t), 0) == sizeof(t) && fdatasync(fd) == 0) {
			atomic_store(&F.last_ok, now_ms());
		} else if (fd >= 0) {
			/* A client that reconnected may not take the old fd back. */
			close(fd);
			fd = -1;
		}
		nap(PROBE_MS);
	}
	if (fd >= 0)
		close(fd);
}

static void kill_all(void)
{
	uv_mutex_lock(&F.mu);
	for (size_t i = 0; i < F.n; i++)
		kill(-F.groups[i], SIGKILL);
	uv_mutex_unlock(&F.mu);
}

static void watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&F.stop)) {
		long long quiet = now_ms() - atomic_load(&F.last_ok);

		if (atomic_load(&F.ok) && quiet > F.after_ms) {
			atomic_store(&F.ok, 0);
			kill_all();
			log_error("the home has not answered for %lld s: every job process is killed "
				  "and nothing starts until it answers again", quiet / 1000);
		} else if (!atomic_load(&F.ok) && quiet < PROBE_MS * 2) {
			atomic_fetch_add(&F.epoch, 1);
			atomic_store(&F.ok, 1);
			log_warn("the home answers again: jobs start again");
		} else if (!atomic_load(&F.ok)) {
			kill_all(); /* anything started meanwhile goes too */
		}
		nap(WATCH_MS);
	}
}

int fence_start(int home_fd, const char *instance, int after_s)
{
	int rc;

	if (after_s <= 0)
		return 0;
	if ((rc = home_mkdirs(home_fd, "data/webjobs/alive")) < 0)
		return rc;
	snprintf(F.path, sizeof(F.path), "data/webjobs/alive/%s", instance);
	F.home_fd = home_fd;
	F.after_ms = (long long)after_s * 1000;
	atomic_store(&F.last_ok, now_ms());
	atomic_store(&F.ok, 1);
	atomic_store(&F.stop, 0);
	uv_mutex_init(&F.mu);
	if (uv_thread_create(&F.prober, prober, NULL) != 0)
		return -EAGAIN;
	if (uv_thread_create(&F.watchdog, watchdog, NULL) != 0) {
		atomic_store(&F.stop, 1);
		uv_thread_join(&F.prober);
		return -EAGAIN;
	}
	F.started = 1;
	return 0;
}

int fence_ok(void)
{
	return atomic_load(&F.ok);
}

unsigned fence_epoch(void)
{
	return atomic_load(&F.epoch);
}

void fence_track(pid_t leader)
{
	if (!F.started)
		return;
	uv_mutex_lock(&F.mu);
	if (F.n == F.cap) {
		size_t cap = F.cap ? F.cap * 2 : 64;
		pid_t *v = realloc(F.groups, cap * sizeof(*v));

		if (v) {
			F.groups = v;
			F.cap = cap;
		}
	}
	if (F.n < F.cap)
		F.groups[F.n++] = leader;
	uv_mutex_unlock(&F.mu);
	/* Started while fenced (a race with the watchdog): it goes at once. */
	if (!fence_ok())
		kill(-leader, SIGKILL);
}

void fence_untrack(pid_t leader)
{
	if (!F.started)
		return;
	uv_mutex_lock(&F.mu);
	for (size_t i = 0; i < F.n; i++)
		if (F.groups[i] == leader) {
			F.groups[i] = F.groups[--F.n];
			break;
		}
	uv_mutex_unlock(&F.mu);
}

void fence_stop(void)
{
	if (!F.started)
		return;
	atomic_store(&F.stop, 1);
	/* The prober may be stuck in a write to a lost server: it is not
	 * waited for (the process is about to exit). */
	uv_thread_join(&F.watchdog);
	F.started = 0;
	uv_mutex_lock(&F.mu);
	free(F.groups);
	F.groups = NULL;
	F.n = F.cap = 0;
	uv_mutex_unlock(&F.mu);
}
