/*
 * nametab: named objects by name (nametab.h).
 */
#include "nametab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

static struct nametab_node **chain(const struct nametab *t, const char *name)
{
	return &t->bucket[job_hash_bytes(name, strlen(name)) & (t->nbuckets - 1)];
}

/* Twice the buckets, every node moved to its new chain. */
static int grow(struct nametab *t)
{
	size_t nb = t->nbuckets ? t->nbuckets * 2 : 64;
	struct nametab_node **old = t->bucket;
	size_t oldn = t->nbuckets;

	if (!(t->bucket = calloc(nb, sizeof(*t->bucket)))) {
		t->bucket = old;
		return -ENOMEM;
	}
	t->nbuckets = nb;
	for (size_t i = 0; i < oldn; i++)
		for (struct nametab_node *n = old[i], *next; n; n = next) {
			struct nametab_node **c = chain(t, n->name);

			next = n->next;
			n->next = *c;
			*c = n;
		}
	free(old);
	return 0;
}

int nametab_add(struct nametab *t, struct nametab_node *n)
{
	struct nametab_node **c;

	if (t->n >= t->nbuckets && grow(t) < 0)
		return -ENOMEM;
	c = chain(t, n->name);
	n->next = *c;
	*c = n;
	t->n++;
	return 0;
}

struct nametab_node *nametab_find(const struct nametab *t, const char *name)
{
	for (struct nametab_node *n = t->nbuckets ? *chain(t, name) : NULL; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

void nametab_remove(struct nametab *t, struct nametab_node *n)
{
	for (struct nametab_node **p = t->nbuckets ? chain(t, n->name) : NULL; p && *p;
	     p = &(*p)->next)
		if (*p == n) {
			*p = n->next;
			n->next = NULL;
			t->n--;
			return;
		}
}

void nametab_free(struct nametab *t)
{
	free(t->bucket);
	t->bucket = NULL;
	t->nbuckets = t->n = 0;
}
