/*
 * scheduler: the schedules of triggered jobs.
 *
 * Each scheduled job has an entry with its parsed expression, its zone and
 * its next fire (Unix seconds). Entries with a next fire sit in a binary
 * min-heap; one uv_timer is armed for the top, so nothing runs between
 * fires. The timer counts in monotonic time but fires are wall-clock
 * instants: on each fire the wall clock is read again, and a fire that is
 * not due yet (the clock went back) is re-armed (cronie's cron.c rule).
 */
#define _GNU_SOURCE
#include "scheduler.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "cron.h"
#include "evq.h"
#include "files.h"
#include "joblog.h"
#include "log.h"
#include "metrics.h"
#include "settings.h"
#include "timefmt.h"

#define FIRST_PART 4            /* due jobs accepted before the first spawns go */
#define PART_GROWTH 8           /* each part after: 8 times the one before */
#define PART_BUDGET_NS (4 * 1000 * 1000ull) /* for the events a part's drain runs */
#define MISSED_WINDOW 600       /* seconds: a missed tick this recent fires */
#define MISSED_COUNT_MAX 10000  /* counted one by one: more are "more than" */
/* A second's due jobs are accepted ahead of it: twice what their accepts
 * took at the last tick (per job, times how many are due), within these
 * bounds, in ms. */
#define AHEAD_MIN_MS 3
#define AHEAD_MAX_MS 200
#define ACCEPT_NS_FIRST 100000  /* per job, until a tick was measured */
#define AHEAD_COUNT_MAX 512     /* due jobs counted for the lead, at most */

struct entry {
	char *name;
	char *expr;
	char zone[128];
	int own_zone;        /* the job's timezone, not the host's */
	struct cron cron;
	char *expanded;      /* cron_expand's text */
	int64_t next;        /* Unix seconds; in the heap when > 0 */
	int heap;            /* index in the heap, -1 when out */
};

/* A "WebJob invoked" line held during its tick's burst. */
struct held {
	char *name;
	int64_t at; /* ticks: when the run was invoked */
};

struct scheduler {
	uv_loop_t *loop;
	struct scheduler_config c;
	uv_timer_t timer;
	uv_timer_t lines;    /* writes the held lines */
	int handles;         /* open: freed at 0 */
	struct held *held;
	size_t nheld, capheld;
	struct entry **v;    /* every entry */
	size_t n, cap;
	struct entry **heap;
	size_t hn;
	int closing;
	int64_t accept_ns;   /* per job, at the last tick accepted ahead */
};

/* ---- the heap ---- */

static void heap_swap(struct scheduler *s, size_t a, size_t b)
{
	struct entry *t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->heap[a]->heap = (int)a;
	s->heap[b]->heap = (int)b;
}

static void heap_up(struct scheduler *s, size_t i)
{
	while (i > 0 && s->heap[(i - 1) / 2]->next > s->heap[i]->next) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct scheduler *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->hn && s->heap[l]->next < s->heap[m]->next)
			m = l;
		if (r < s->hn && s->heap[r]->next < s->heap[m]->next)
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static void heap_remove(struct scheduler *s, struct entry *e)
{
	size_t i = (size_t)e->heap;

	if (e->heap < 0)
		return;
	s->hn--;
	if (i != s->hn) {
		s->heap[i] = s->heap[s->hn];
		s->heap[i]->heap = (int)i;
		heap_down(s, i);
		heap_up(s, i);
	}
	e->heap = -1;
}

static void heap_add(struct scheduler *s, struct entry *e)
{
	s->heap[s->hn] = e;
	e->heap = (int)s->hn++;
	heap_up(s, (size_t)e->heap);
}

/* ---- the scheduler log ---- */

static void flush_held(struct scheduler *s);

#define INVOKED "WebJob invoked"

/* A line of job name's scheduler log, written now; at: the time it
 * carries (0: now), that of a held line — whose job folder is not made
 * again when it is gone: the job was deleted since its fire. */
static void write_line(struct scheduler *s, const char *name, int64_t at, int is_error,
		       const char *text)
{
	const struct home *h = s->c.home;
	int data = h->data_fd[JOB_TRIGGERED], dfd, fd;
	char main[300], prev[300];
	struct joblog *l;

	snprintf(main, sizeof(main), "%s/job_scheduler.log", name);
	/* One call beneath the data folder (no symbolic link on the way, as
	 * home_open_dir's O_NOFOLLOW): not the job's folder opened first, and
	 * closed after. Its folder is made when it is missing. */
	fd = files_open_beneath(data, main, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);
	if (fd >= 0) {
		l = joblog_borrow(data, fd, main, NULL, s->c.instance);
		snprintf(prev, sizeof(prev), "%s/job_scheduler_prev.log", name);
	} else if (!at && (dfd = home_open_dir(data, name)) >= 0) {
		l = joblog_adopt(dfd, "job_scheduler.log", NULL, s->c.instance);
		snprintf(prev, sizeof(prev), "job_scheduler_prev.log");
	} else {
		return;
	}
	joblog_set_rollover(l, prev, hostcfg_get(s->c.cfg)->log_max_size);
	joblog_set_time(l, at);
	joblog_sys(l, is_error, "%s", text);
	joblog_close(l);
	registry_touch_runs(s->c.registry, JOB_TRIGGERED, name);
}

/* A line written now: after the held ones, which it follows. */
static void slog(struct scheduler *s, const char *name, int is_error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void slog(struct scheduler *s, const char *name, int is_error, const char *fmt, ...)
{
	char *text;
	va_list ap;
	int n;

	flush_held(s);
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	write_line(s, name, 0, is_error, text);
	free(text);
}

/* The "WebJob invoked" lines of a tick wait until the helper has answered
 * the tick's spawns: four calls a run (open, fstat, write, close) and the
 * inotify event of the close, taken out of the ~100 ms in which the
 * helper clones the tick's jobs on a machine their start keeps busy
 * (docs/DECISIONS.md, "Schedule fire latency: a tick's runs are one
 * batch"). Each carries the time of its invocation. LINES_MAX_MS bounds
 * the wait should the helper never answer. */
#define LINES_MAX_MS 1000

static void flush_held(struct scheduler *s)
{
	struct held *v = s->held;
	size_t n = s->nheld;

	if (!n)
		return;
	/* The lines are taken first: a line's write may come back here. */
	s->held = NULL;
	s->nheld = s->capheld = 0;
	if (!s->closing)
		uv_timer_stop(&s->lines);
	for (size_t i = 0; i < n; i++) {
		write_line(s, v[i].name, v[i].at, 0, INVOKED);
		free(v[i].name);
	}
	free(v);
}

static void on_lines(uv_timer_t *t)
{
	struct scheduler *s = t->data;

	flush_held(s);
	runner_place_all(s->c.runner);
}

/* The last answer was read (child_on_answered), or a drain ended (its
 * spawns are owed, or it sent none): the held lines are written, and
 * the tick's runs placed (run.h), at the loop's next turn once nothing
 * is owed. */
static void on_answers(void *arg)
{
	struct scheduler *s = arg;

	if ((s->nheld || runner_pending(s->c.runner)) && !s->closing && !child_answers_owed())
		uv_timer_start(&s->lines, on_lines, 0, 0);
}

static void hold_invoked(struct scheduler *s, const char *name, int64_t at)
{
	char *copy = strdup(name);

	if (copy && s->nheld == s->capheld) {
		size_t cap = s->capheld ? s->capheld * 2 : 64;
		struct held *v = realloc(s->held, cap * sizeof(*v));

		if (v) {
			s->held = v;
			s->capheld = cap;
		}
	}
	if (!copy || s->nheld == s->capheld) {
		free(copy);
		slog(s, name, 0, INVOKED);
		return;
	}
	s->held[s->nheld].name = copy;
	s->held[s->nheld].at = at;
	s->nheld++;
}

/* ---- time ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm(struct scheduler *s);

static void publish_next(struct scheduler *s, struct entry *e)
{
	struct job *j = registry_find(s->c.registry, JOB_TRIGGERED, e->name);

	if (j)
		job_set_next_run(j, e->next > 0 ? e->next * TICKS_PER_SEC : 0);
}

/* The first fire strictly after t, or 0 when it never fires. */
static int64_t after(struct entry *e, int64_t t)
{
	int64_t n;

	return cron_next(&e->cron, e->zone, t, &n) == 0 ? n : 0;
}

/* The most recent fire at or before now, from fire lo (<= now): a search
 * by halves, ~40 steps where counting up to it would take one a fire
 * (a per-second schedule of a host stopped for a day: 86,400). */
static int64_t latest(struct entry *e, int64_t lo, int64_t now)
{
	int64_t hi = now + 1, mid, n;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		n = after(e, mid - 1); /* the first fire at or after mid */
		if (n && n <= now)
			lo = n;
		else
			hi = mid;
	}
	return lo;
}

/* Sets the entry's next fire by the rule of docs/API.md, "Schedules", from base (the newest
 * run's start, or now): a missed tick at most 10 minutes old fires now;
 * older ones are logged and skipped. */
static void plan(struct scheduler *s, struct entry *e, int64_t base, int log_schedule)
{
	int64_t now = now_ms() / 1000, first = after(e, base), t, last = 0;
	long missed = 0;
	int more;
	char when[48], interval[48];

	heap_remove(s, e);
	e->next = 0;
	if (!first) {
		slog(s, e->name, 1, "The schedule '%s' never fires", e->expanded);
		publish_next(s, e);
		return;
	}
	if (first <= now) {
		if (now - first <= MISSED_WINDOW) {
			/* Fire once, at once, for the most recent missed tick. */
			for (t = first; t && t <= now && missed < MISSED_COUNT_MAX; t = after(e, t))
				last = t, missed++;
			e->next = last;
		} else {
			for (t = first; t && t <= now && missed < MISSED_COUNT_MAX; t = after(e, t))
				last = t, missed++;
			more = t && t <= now; /* counted no further */
			if (more)
				last = latest(e, t, now);
			cron_format_local(e->zone, last, when, sizeof(when));
			slog(s, e->name, 0, "Missed %s%ld schedules, most recent at %s",
			     more ? "more than " : "", missed, when);
			e->next = after(e, now);
		}
	} else {
		e->next = first;
	}
	if (log_schedule && e->next) {
		int64_t wait = e->next * 1000 - now_ms();

		time_format_duration((wait > 0 ? wait : 0) * 10000, interval, sizeof(interval));
		slog(s, e->name, 0, "Scheduling WebJob with %s next schedule expected in %s",
		     e->expanded, interval);
	}
	if (e->next)
		heap_add(s, e);
	publish_next(s, e);
}

/* ---- firing ---- */

/* ahead: the tick was accepted ahead of its second (on_timer). */
static void fire(struct scheduler *s, struct entry *e, int ahead)
{
	struct job *j;
	char *trigger = NULL, id[RUN_ID_LEN + 1], err[512], when[48];
	int64_t occurrence = e->next;
	int rc;

	if (hostcfg_get(s->c.cfg)->disable_schedule) {
		cron_format_local(e->zone, occurrence, when, sizeof(when));
		slog(s, e->name, 0, "Skipped the schedule at %s: schedules are disabled (WEBJOBS_DISABLE_SCHEDULE)",
		     when);
		return;
	}
	/* A run of another instance may have been written since the last
	 * event: read the job's runs again. */
	registry_touch_runs(s->c.registry, JOB_TRIGGERED, e->name);
	j = registry_find(s->c.registry, JOB_TRIGGERED, e->name);
	if (!j)
		return;
	if (asprintf(&trigger, "Schedule - %s", e->expanded) < 0)
		trigger = NULL;
	/* Accepted ahead of its second: observed as its process starts. */
	if (!ahead)
		metrics_fire_delay((double)(now_ms() - occurrence * 1000) / 1000.0);
	rc = trigger ? runner_start(s->c.runner, j, trigger, NULL, occurrence * TICKS_PER_SEC, id,
				    err, sizeof(err))
		     : -ENOMEM;
	free(trigger);
	if (rc == -ENOMEM)
		snprintf(err, sizeof(err), "out of memory");
	cron_format_local(e->zone, occurrence, when, sizeof(when));
	if (rc == 0)
		hold_invoked(s, e->name, ahead ? occurrence * TICKS_PER_SEC : time_now_ticks());
	else if (rc == -EBUSY)
		slog(s, e->name, 0, "Skipped the schedule at %s: the job is already running", when);
	else if (rc == -EALREADY)
		log_debug("schedule of %s at %s: already run by another instance", e->name, when);
	else if (rc == -ESHUTDOWN)
		slog(s, e->name, 0, "Skipped the schedule at %s: WebJobs are stopped", when);
	else if (rc == -EXFULL)
		slog(s, e->name, 0, "Skipped the schedule at %s: the run queue is full", when);
	else
		slog(s, e->name, 1, "Failed to start the scheduled run at %s: %s", when, err);
}

/* How many entries fire at the heap's first time (from index i down),
 * counted up to *left: arm runs at every change of an entry (10,000 jobs
 * due together, added one by one at start-up, would otherwise cost a
 * walk of all those due for each). A tick with more due than counted
 * may run past its second: it goes on in parts. */
static size_t due_with_first(const struct scheduler *s, size_t i, size_t *left)
{
	if (i >= s->hn || s->heap[i]->next != s->heap[0]->next || *left == 0)
		return 0;
	--*left;
	return 1 + due_with_first(s, 2 * i + 1, left) + due_with_first(s, 2 * i + 2, left);
}

/* How long ahead of its second the next tick is accepted, in ms. */
static int64_t ahead_ms(const struct scheduler *s)
{
	size_t left = AHEAD_COUNT_MAX;
	int64_t ms = (int64_t)due_with_first(s, 0, &left) * s->accept_ns * 2 / 1000000 +
		     AHEAD_MIN_MS;

	return ms < AHEAD_MAX_MS ? ms : AHEAD_MAX_MS;
}

static void on_timer(uv_timer_t *t)
{
	struct scheduler *s = t->data;
	int64_t now = now_ms(), upto = now / 1000, ahead = 0, begun = time_now_ticks();
	size_t part = FIRST_PART, fired = 0, all = 0;

	/* Woken ahead of the second (arm): its due jobs only, in one part;
	 * they take the second as their start, and their processes are held
	 * by the spawn helper until it — the accepts' work is done before
	 * it, where it delayed every process of the tick. An accept that
	 * runs past the second goes on in parts, as a tick woken late. */
	if (s->hn && s->heap[0]->next * 1000 > now) {
		ahead = upto = s->heap[0]->next;
		part = SIZE_MAX;
	}

	/* The second's due jobs are one batch (one start time); woken late,
	 * they are accepted in parts growing 8 times, each part synced and its
	 * processes sent to the spawn helper before the next is accepted:
	 * the helper clones the first ones (~1 ms each) while the host
	 * accepts the rest (~0.1 ms each), where it waited for them all
	 * (docs/DECISIONS.md, "Schedule fire latency: a tick's runs are
	 * one batch"). Its answers are read after the tick
	 * (child_hold_answers). */
	runner_batch(s->c.runner, 1);
	if (ahead)
		runner_batch_ahead(s->c.runner, ahead * TICKS_PER_SEC);
	child_hold_answers(1);
	while (s->hn && s->heap[0]->next <= upto) {
		struct entry *e;
		int64_t n;

		if (ahead && part == SIZE_MAX && fired % 8 == 7 && now_ms() >= ahead * 1000)
			part = fired; /* the second came: what was accepted goes */
		if (fired == part) {
			runner_batch_sync(s->c.runner);
			/* The registry's events may change the entries: the
			 * heap is looked at again after. */
			evq_drain_for(SIZE_MAX, uv_hrtime() + PART_BUDGET_NS);
			fired = 0;
			part *= PART_GROWTH;
			continue;
		}
		e = s->heap[0];
		fired++;
		all++;
		fire(s, e, ahead != 0);
		/* The entry may be gone (the job was deleted meanwhile). */
		if (s->hn == 0 || s->heap[0] != e)
			continue;
		heap_remove(s, e);
		n = after(e, e->next);
		/* Ticks missed while the host was busy are not made up. */
		while (n && n * 1000 <= now - 1000)
			n = after(e, n);
		e->next = n;
		if (n)
			heap_add(s, e);
		publish_next(s, e);
	}
	runner_batch(s->c.runner, 0);
	child_hold_answers(0);
	if (ahead && all)
		s->accept_ns = (time_now_ticks() - begun) * (1000000000 / TICKS_PER_SEC) / (int64_t)all;
	/* The held lines: once the last part's spawns, sent by the next
	 * drain, are answered, or that drain sent none (on_answers);
	 * LINES_MAX_MS at the latest. */
	if (s->nheld && !uv_is_active((uv_handle_t *)&s->lines))
		uv_timer_start(&s->lines, on_lines, LINES_MAX_MS, 0);
	arm(s);
}

static void arm(struct scheduler *s)
{
	int64_t wait;

	if (s->closing)
		return;
	if (!s->hn) {
		uv_timer_stop(&s->timer);
		return;
	}
	wait = s->heap[0]->next * 1000 - ahead_ms(s) - now_ms();
	uv_timer_start(&s->timer, on_timer, (uint64_t)(wait > 0 ? wait : 0), 0);
}

/* ---- entries follow the jobs ---- */

static struct entry *find(struct scheduler *s, const char *name, size_t *idx)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i]->name, name) == 0) {
			if (idx)
				*idx = i;
			return s->v[i];
		}
	return NULL;
}

static void drop(struct scheduler *s, size_t i)
{
	struct entry *e = s->v[i];

	heap_remove(s, e);
	s->v[i] = s->v[--s->n];
	free(e->name);
	free(e->expr);
	free(e->expanded);
	free(e);
}

/* Newest run's start of a job (Unix seconds), or now when it has none. */
static int64_t base_time(struct job *j)
{
	const char *newest = job_newest_run(j);
	int64_t t;

	if (newest && time_parse_run_id(newest, &t) == 0)
		return t / TICKS_PER_SEC;
	return now_ms() / 1000;
}

static void update(struct scheduler *s, const char *name, struct job *j)
{
	const char *expr = j ? settings_string(job_settings(j), "schedule") : NULL;
	const char *own = j ? settings_string(job_settings(j), "timezone") : NULL;
	const char *zone = own ? own : hostcfg_get(s->c.cfg)->time_zone;
	size_t i;
	struct entry *e = find(s, name, &i);
	struct cron c;
	char err[256];

	if (e && expr && strcmp(e->expr, expr) == 0 && strcmp(e->zone, zone) == 0)
		return; /* unchanged */
	if (e) {
		if (j && !expr)
			slog(s, name, 0, "WebJob schedule removed");
		drop(s, i);
		if (j)
			job_set_next_run(j, 0);
	}
	if (!j || !expr)
		goto out;
	if (cron_parse(expr, &c, err, sizeof(err)) < 0) {
		slog(s, name, 1, "Failed to parse the schedule '%s': %s; the job has no schedule",
		     expr, err);
		goto out;
	}
	if (!cron_zone_valid(zone) || strlen(zone) >= sizeof(e->zone)) {
		slog(s, name, 1, "Unknown time zone '%s'; the job has no schedule", zone);
		goto out;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct entry **v = realloc(s->v, cap * sizeof(*v));
		struct entry **hp = realloc(s->heap, cap * sizeof(*hp));

		if (v)
			s->v = v;
		if (hp)
			s->heap = hp;
		if (!v || !hp)
			goto out;
		s->cap = cap;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->name = strdup(name)) || !(e->expr = strdup(expr))) {
		if (e)
			free(e->name);
		free(e);
		goto out;
	}
	e->heap = -1;
	e->cron = c;
	e->own_zone = own != NULL;
	snprintf(e->zone, sizeof(e->zone), "%s", zone);
	if (!(e->expanded = cron_expand(&c))) {
		free(e->name);
		free(e->expr);
		free(e);
		goto out;
	}
	s->v[s->n++] = e;
	plan(s, e, base_time(j), 1);
out:
	arm(s);
}

static void on_registry(void *arg, enum job_type t, const char *name, struct job *j)
{
	if (t == JOB_TRIGGERED)
		update(arg, name, j);
}

struct scheduler *scheduler_new(uv_loop_t *loop, const struct scheduler_config *c)
{
	struct scheduler *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->loop = loop;
	s->c = *c;
	s->accept_ns = ACCEPT_NS_FIRST;
	uv_timer_init(loop, &s->timer);
	uv_timer_init(loop, &s->lines);
	s->timer.data = s->lines.data = s;
	s->handles = 2;
	child_on_answered(on_answers, s);
	evq_on_drained(on_answers, s);
	registry_listen(c->registry, on_registry, s);
	registry_replay(c->registry, JOB_TRIGGERED, on_registry, s);
	return s;
}

void scheduler_host_changed(struct scheduler *s)
{
	const char *zone = hostcfg_get(s->c.cfg)->time_zone;

	for (size_t i = 0; i < s->n; i++) {
		struct entry *e = s->v[i];

		if (!e->own_zone && strcmp(e->zone, zone) != 0) {
			struct job *j = registry_find(s->c.registry, JOB_TRIGGERED, e->name);

			snprintf(e->zone, sizeof(e->zone), "%s", zone);
			if (j)
				plan(s, e, base_time(j), 1);
		}
	}
	arm(s);
}

static void on_closed(uv_handle_t *h)
{
	struct scheduler *s = h->data;

	if (--s->handles > 0)
		return;
	while (s->n)
		drop(s, s->n - 1);
	free(s->v);
	free(s->heap);
	free(s->held);
	free(s);
}

void scheduler_close(struct scheduler *s)
{
	if (!s)
		return;
	flush_held(s);
	s->closing = 1;
	child_on_answered(NULL, NULL);
	evq_off_drained(on_answers);
	registry_listen(s->c.registry, NULL, s);
	uv_close((uv_handle_t *)&s->timer, on_closed);
	uv_close((uv_handle_t *)&s->lines, on_closed);
}
