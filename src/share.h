/*
 * share: a home that several machines share (docs/SCALE-OUT.md). inotify
 * reports only the changes made through this machine's own mount; on a
 * network file system each instance therefore publishes the changes its
 * inotify saw, and follows those the other instances published.
 */
#ifndef WEBJOBS_SHARE_H
#define WEBJOBS_SHARE_H

#include <uv.h>

#include "home.h"
#include "registry.h"

struct share_config {
	uv_loop_t *loop;
	struct home *home;
	struct registry *registry;
	const char *instance; /* the whole instance id */
	const char *mode;     /* --shared-home: "auto", "yes" or "no" */
};

/* Decides whether the home is shared (mode "yes", or "auto" and the home
 * is on a network or FUSE file system) and, if so, starts publishing and
 * following changes. Every home also gets its interrupted deploy swaps
 * recovered (src/swap.c), now and every 10 s (5 s on a shared home, off
 * the loop). Returns 0, or -1 with a reason in err for a bad mode. */
int share_start(const struct share_config *c, char *err, size_t errsz);

/* 1 when changes are published and followed. */
int share_active(void);

/* The file system type of the home as statfs names it ("ext4", "fuse",
 * "nfs", ...), for the start-up log line. */
const char *share_fs_name(void);

/* Stops the timers (at shutdown). */
void share_stop(void);

#endif
