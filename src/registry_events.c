/*
 * registry_events: the registry's inotify watches, and what each event
 * calls for — a job marked dirty (its binaries, its data folder or only
 * its newest record), or a triggered job's run folder put into or taken
 * out of its run list by the event's name (docs/DECISIONS.md, "The run
 * list kept from inotify's names").
 */
#define _GNU_SOURCE
#include "registry_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "timefmt.h"

/* ---- the watches ---- */

int registry_watch_add(struct registry *r, int dfd, const char *path,
		     uint32_t mask, enum role role, enum job_type type,
		     struct entry *e)
{
	char full[PATH_MAX];
	int wd;

	if (wdmap_reserve(&r->w) < 0)
		return -1;
	snprintf(full, sizeof(full), "/proc/self/fd/%d/%s", dfd, path);
	wd = inotify_add_watch(r->ifd, full, mask | IN_EXCL_UNLINK);
	if (wd < 0) {
		if (errno == ENOSPC)
			log_warn("out of inotify watches: raise fs.inotify.max_user_watches");
		return -1;
	}
	wdmap_set(&r->w, wdmap_slot(&r->w, wd), wd, role, type, e);
	return wd;
}

void registry_watch_rm(struct registry *r, int *wd)
{
	struct wdmap_slot *s;

	if (*wd <= 0)
		return;
	inotify_rm_watch(r->ifd, *wd);
	s = wdmap_slot(&r->w, *wd);
	if (s->wd == *wd)
		s->owner = NULL; /* kept with no owner until its IN_IGNORED */
	*wd = -1;
}

/* ---- inotify events ---- */

static void on_name(struct registry *r, enum job_type type, const char *name,
		    int bin)
{
	struct entry *e = registry_entry(r, type, name, bin);

	if (e && !bin)
		e->data_moved = 1;
	if (e)
		registry_enqueue(r, e, bin, bin ? DATA_NONE : DATA_ALL);
	if (r->local)
		r->local(r->local_arg, type, name, bin);
}

/* What a data event of entry e calls for. A triggered job's run folders
 * that come and go are kept in its run list by the event's name, so a
 * run's start costs no listing (docs/DECISIONS.md, "The run list kept
 * from inotify's names"); its lock, its scheduler log written to and a
 * run's logs written to change nothing the job shows. */
static int data_event(struct entry *e, enum role role, const struct inotify_event *ev)
{
	const uint32_t named = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;
	const char *name = ev->len ? ev->name : "";

	if (e->type != JOB_TRIGGERED || !*name)
		return DATA_ALL;
	if (role == ROLE_RUN) {
		if (strcmp(name, ".status-prev") == 0)
			return DATA_NONE; /* exchanged with status, whose event says so */
		if (!(ev->mask & named) && (strcmp(name, "output_log.txt") == 0 ||
					    strcmp(name, "error_log.txt") == 0))
			return DATA_NONE;
		return DATA_LATEST;
	}
	if (time_is_run_id(name)) {
		if (!(ev->mask & IN_ISDIR))
			return DATA_NONE; /* a file is not a run */
		return job_note_run(e->job, name, (ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0) == 0
			       ? DATA_LATEST
			       : DATA_ALL;
	}
	if (strcmp(name, "webjobssdk.marker") == 0 || strcmp(name, "job_scheduler.log") == 0)
		return ev->mask & named ? DATA_ALL : DATA_NONE;
	return DATA_NONE;
}

static void on_event(struct registry *r, const struct inotify_event *ev)
{
	struct wdmap_slot *s;
	struct entry *e;
	int data;

	if (ev->mask & IN_Q_OVERFLOW) {
		log_warn("inotify queue overflow: re-reading every job");
		r->rescan_all = 1;
		if (r->local)
			r->local(r->local_arg, JOB_TYPE_NONE, NULL, 1);
		return;
	}
	for (int k = 0; k < 2; k++) {
		if (ev->wd == r->parent_wd[k] && ev->len) {
			/* A type folder was removed, replaced or created. */
			for (int t = 0; t < 2; t++)
				if (strcmp(ev->name, home_type_name((enum job_type)t)) == 0)
					r->type_gone[k][t] = 1;
			return;
		}
		for (int t = 0; t < 2; t++)
			if (ev->wd == r->type_wd[k][t] && ev->wd > 0) {
				if (ev->len && ev->name[0] != '.')
					on_name(r, (enum job_type)t, ev->name, k == 0);
				return;
			}
	}
	if (!r->w.cap)
		return;
	s = wdmap_slot(&r->w, ev->wd);
	if (s->wd != ev->wd)
		return;
	if (ev->mask & IN_IGNORED) {
		s->wd = -1; /* tombstone; the owner re-adds when it re-reads */
		if ((e = s->owner)) {
			for (int k = 0; k < e->nbin; k++)
				if (e->bin_wd[k] == ev->wd)
					e->bin_wd[k] = -1;
			if (e->data_wd == ev->wd)
				e->data_wd = -1;
			if (e->run_wd == ev->wd)
				e->run_wd = -1;
		}
		return;
	}
	if (!(e = s->owner))
		return;
	if (s->role == ROLE_BIN)
		registry_enqueue(r, e, 1, DATA_NONE);
	else if ((data = data_event(e, s->role, ev)) != DATA_NONE)
		registry_enqueue(r, e, 0, data);
	if (r->local)
		r->local(r->local_arg, e->type, job_name(e->job), s->role == ROLE_BIN);
}

void registry_read_events(struct registry *r)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while (r->ifd >= 0 && (n = read(r->ifd, buf, sizeof(buf))) > 0) {
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const void *)q;

			on_event(r, ev);
			q += sizeof(*ev) + ev->len;
		}
		/* A read gives every event that fits: room left for the
		 * largest one means none was left. No read more to hear
		 * EAGAIN — a call a run accepted (its own events since the
		 * last one). One that comes later is as one after that. */
		if ((size_t)n + sizeof(struct inotify_event) + NAME_MAX + 1 <= sizeof(buf))
			break;
	}
}

void registry_on_inotify(uv_poll_t *p, int status, int events)
{
	struct registry *r = p->data;

	(void)events;
	if (status < 0)
		return;
	registry_read_events(r);
	if (r->nqueue || r->rescan_all || r->type_gone[0][0] || r->type_gone[0][1] ||
	    r->type_gone[1][0] || r->type_gone[1][1])
		uv_timer_start(&r->settle, registry_on_settle, SETTLE_MS, 0);
}
