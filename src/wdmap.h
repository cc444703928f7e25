/*
 * wdmap: the registry's map from an inotify watch descriptor to what the
 * watch is for — open addressing, grown when half full. A slot's wd is 0
 * when empty and -1 once its watch is gone (a tombstone, skipped by
 * lookups and dropped when the map grows).
 */
#ifndef WEBJOBS_WDMAP_H
#define WEBJOBS_WDMAP_H

#include <stddef.h>

struct wdmap_slot {
	int wd;
	int role, type; /* the owner's meanings */
	void *owner;    /* NULL: a watch kept with no owner */
};

struct wdmap {
	struct wdmap_slot *v;
	size_t cap, used;
};

/* The slot of wd: its own, or the empty one it would take. The map must
 * have room (wdmap_reserve) — a map never reserved has none. */
struct wdmap_slot *wdmap_slot(struct wdmap *m, int wd);
/* Room for one more watch: 0, or -ENOMEM. */
int wdmap_reserve(struct wdmap *m);
/* Fills slot s (from wdmap_slot) with watch wd. */
void wdmap_set(struct wdmap *m, struct wdmap_slot *s, int wd, int role, int type, void *owner);
void wdmap_free(struct wdmap *m);

#endif
