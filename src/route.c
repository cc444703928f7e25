/*
 * route: matching request paths against the route table. Paths are split
 * into raw segments first and only captured segments are decoded, so an
 * encoded '/' ("%2F") stays inside its segment and never makes a new one.
 */
#define _GNU_SOURCE
#include "route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct seg {
	const char *p;
	size_t len;
};

static const char *const families[2][4] = {
	{ "api/triggeredwebjobs", "api/triggeredjobs", "jobs/triggered",
	  "api/jobs/triggered" },
	{ "api/continuouswebjobs", "api/continuousjobs", "jobs/continuous",
	  "api/jobs/continuous" },
};
static const char *const all_jobs[] = { "api/webjobs", "api/jobs", "jobs" };

unsigned route_method(const char *name)
{
	static const struct {
		const char *name;
		unsigned bit;
	} methods[] = { { "GET", HTTP_GET },	 { "HEAD", HTTP_HEAD },
			{ "POST", HTTP_POST },	 { "PUT", HTTP_PUT },
			{ "DELETE", HTTP_DELETE } };

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(name, methods[i].name) == 0)
			return methods[i].bit;
	return HTTP_OTHER;
}

void route_allow_text(unsigned mask, char *buf, size_t size)
{
	static const char *const names[] = { "GET", "HEAD", "POST", "PUT",
					     "DELETE" };
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < 5; i++) {
		if (!(mask & (1u << i)))
			continue;
		size_t need = strlen(names[i]) + (used ? 2 : 0);
		if (used + need + 1 > size)
			break;
		if (used) {
			memcpy(buf + used, ", ", 2);
			used += 2;
		}
		strcpy(buf + used, names[i]);
		used += strlen(names[i]);
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int route_decode(const char *in, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -EINVAL;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return -EINVAL;
		if (o + 1 >= size)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

/* Splits "a/b/c" into segments; returns the count or -1 when too many. */
static int split(const char *s, struct seg *segs, int max)
{
	int n = 0;

	for (;;) {
		const char *slash = strchr(s, '/');
		size_t len = slash ? (size_t)(slash - s) : strlen(s);

		if (n == max)
			return -1;
		segs[n].p = s;
		segs[n].len = len;
		n++;
		if (!slash)
			return n;
		s = slash + 1;
	}
}

static int seg_eq(const struct seg *a, const char *lit, size_t litlen)
{
	return a->len == litlen && strncasecmp(a->p, lit, litlen) == 0;
}

/* Matches the path segments from index si against a literal multi-segment
 * text ("api/jobs/triggered"); returns the next index, or -1. */
static int match_literal(const struct seg *path, int np, int si,
			 const char *lit)
{
	while (*lit) {
		const char *slash = strchr(lit, '/');
		size_t len = slash ? (size_t)(slash - lit) : strlen(lit);

		if (si >= np || !seg_eq(&path[si], lit, len))
			return -1;
		si++;
		lit += len + (slash ? 1 : 0);
	}
	return si;
}

struct cap {
	int nparams;
	struct seg params[ROUTE_MAX_PARAMS];
	const char *rest;
	enum job_type type;
};

static int match_from(const struct seg *pat, int npat, int pi,
		      const struct seg *path, int np, int si, struct cap *c);

/* Tries each alternative of a family token at pattern index pi. */
static int match_family(const char *const *alts, size_t nalts,
			enum job_type type, const struct seg *pat, int npat,
			int pi, const struct seg *path, int np, int si,
			struct cap *c)
{
	for (size_t a = 0; a < nalts; a++) {
		int next = match_literal(path, np, si, alts[a]);
		struct cap saved = *c;

		if (next < 0)
			continue;
		c->type = type;
		if (match_from(pat, npat, pi + 1, path, np, next, c))
			return 1;
		*c = saved;
	}
	return 0;
}

static int match_from(const struct seg *pat, int npat, int pi,
		      const struct seg *path, int np, int si, struct cap *c)
{
	for (; pi < npat; pi++) {
		const struct seg *ps = &pat[pi];

		if (seg_eq(ps, "{T}", 3) || seg_eq(ps, "{C}", 3)) {
			int t = ps->p[1] == 'T' ? JOB_TRIGGERED : JOB_CONTINUOUS;

			return match_family(families[t], 4, (enum job_type)t,
					    pat, npat, pi, path, np, si, c);
		}
		if (seg_eq(ps, "{J}", 3))
			return match_family(all_jobs, 3, JOB_TYPE_NONE, pat,
					    npat, pi, path, np, si, c);
		if (seg_eq(ps, "{*}", 3)) {
			if (si >= np)
				return 0;
			c->rest = path[si].p;
			return 1;
		}
		if (si >= np)
			return 0;
		if (ps->len > 2 && ps->p[0] == '{') {
			if (path[si].len == 0 || c->nparams == ROUTE_MAX_PARAMS)
				return 0;
			c->params[c->nparams++] = path[si];
		} else if (!seg_eq(&path[si], ps->p, ps->len)) {
			return 0;
		}
		si++;
	}
	return si == np;
}

int route_match(const struct route *table, size_t n, unsigned method,
		const char *path, struct route_match *m, unsigned *allow)
{
	struct seg segs[ROUTE_MAX_SEGMENTS], pat[ROUTE_MAX_SEGMENTS];
	int np, rc = 0;
	unsigned seen = 0;

	memset(m, 0, sizeof(*m));
	m->type = JOB_TYPE_NONE;
	if (path[0] != '/')
		return -ENOENT;
	np = split(path + 1, segs, ROUTE_MAX_SEGMENTS);
	if (np < 0)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		const struct route *r = &table[i];
		int npat = split(r->pattern[0] == '/' ? r->pattern + 1 : r->pattern,
				 pat, ROUTE_MAX_SEGMENTS);
		struct cap c = { .type = JOB_TYPE_NONE };
		int nseg = np;
		int ok = match_from(pat, npat, 0, segs, nseg, 0, &c);

		/* One trailing '/' is allowed on any route but {*} ones. */
		if (!ok && np > 1 && segs[np - 1].len == 0) {
			memset(&c, 0, sizeof(c));
			c.type = JOB_TYPE_NONE;
			ok = match_from(pat, npat, 0, segs, np - 1, 0, &c) &&
			     !c.rest;
		}
		if (!ok)
			continue;
		if (!(r->methods & method)) {
			seen |= r->methods;
			continue;
		}
		m->route = r;
		m->type = c.type;
		for (int k = 0; k < c.nparams; k++) {
			size_t len = c.params[k].len;
			char *out = malloc(len + 1);

			if (!out) {
				rc = -ENOMEM;
				break;
			}
			m->params[m->nparams++] = out;
			if (route_decode(c.params[k].p, len, out, len + 1) < 0) {
				rc = -EINVAL;
				break;
			}
		}
		if (rc == 0 && c.rest && !(m->rest = strdup(c.rest)))
			rc = -ENOMEM;
		if (rc < 0)
			route_match_free(m);
		return rc;
	}
	if (seen) {
		*allow = seen;
		return -EPERM;
	}
	return -ENOENT;
}

void route_match_free(struct route_match *m)
{
	for (int k = 0; k < m->nparams; k++)
		free(m->params[k]);
	free(m->rest);
	m->nparams = 0;
	m->rest = NULL;
	m->route = NULL;
}

char *route_query_get(const char *query, const char *key)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;

		if (nlen == klen && strncasecmp(p, key, klen) == 0) {
			const char *v = eq ? eq + 1 : p + len;
			size_t vlen = (size_t)(p + len - v);
			char *out = malloc(vlen + 1);

			if (!out)
				return NULL;
			if (route_decode(v, vlen, out, vlen + 1) < 0) {
				free(out);
				return NULL;
			}
			return out;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

void route_escape(const char *in, char *out, size_t size, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < size; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) || (keep_slash && *p == '/')) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
}
