/*
 * wdmap: watch descriptor -> owner (wdmap.h).
 */
#include "wdmap.h"

#include <errno.h>
#include <stdlib.h>

struct wdmap_slot *wdmap_slot(struct wdmap *m, int wd)
{
	size_t i = (size_t)wd * 2654435761u & (m->cap - 1);

	while (m->v[i].wd != 0) {
		if (m->v[i].wd == wd)
			return &m->v[i];
		i = (i + 1) & (m->cap - 1);
	}
	return &m->v[i];
}

int wdmap_reserve(struct wdmap *m)
{
	struct wdmap_slot *old = m->v;
	size_t oldcap = m->cap;

	if ((m->used + 1) * 2 <= m->cap)
		return 0;
	m->cap = oldcap ? oldcap * 2 : 1024;
	m->v = calloc(m->cap, sizeof(*m->v));
	if (!m->v) {
		m->v = old;
		m->cap = oldcap;
		return -ENOMEM;
	}
	m->used = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].wd > 0) {
			*wdmap_slot(m, old[i].wd) = old[i];
			m->used++;
		}
	free(old);
	return 0;
}

void wdmap_set(struct wdmap *m, struct wdmap_slot *s, int wd, int role, int type, void *owner)
{
	if (s->wd != wd)
		m->used++;
	s->wd = wd;
	s->role = role;
	s->type = type;
	s->owner = owner;
}

void wdmap_free(struct wdmap *m)
{
	free(m->v);
	m->v = NULL;
	m->cap = m->used = 0;
}
