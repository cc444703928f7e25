/*
 * nametab: a table of named objects, found by name — chains in buckets
 * by the name's keyed hash, grown to about one object a chain. Intrusive:
 * the object embeds a struct nametab_node that points at its own name
 * (which must not change while it is in the table). The supervisor finds
 * a continuous job's machine by its name with it (a walk of its list made
 * a start of N jobs quadratic).
 */
#ifndef WEBJOBS_NAMETAB_H
#define WEBJOBS_NAMETAB_H

#include <stddef.h>

struct nametab_node {
	struct nametab_node *next; /* in its chain */
	const char *name;
};

struct nametab {
	struct nametab_node **bucket;
	size_t nbuckets, n;
};

/* Puts n (its name set, not in the table) in t: 0, or -ENOMEM. */
int nametab_add(struct nametab *t, struct nametab_node *n);
/* The node of name, or NULL. */
struct nametab_node *nametab_find(const struct nametab *t, const char *name);
/* Takes n out of t (nothing when it is not in it). */
void nametab_remove(struct nametab *t, struct nametab_node *n);
/* Frees the buckets (the nodes are their owners'). */
void nametab_free(struct nametab *t);

#endif
