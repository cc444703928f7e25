/*
 * jsonw: JSON text written by hand where jansson's dump was the cost
 * (jsonw.h). tests/unit/test_runrec.c checks it against json_dumps.
 */
#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned char c = s[0];
	size_t n;
	unsigned v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		v = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		v = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[k] & 0x3f);
	}
	if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000) ||
	    v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

int utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;
	unsigned cp;

	for (; i < len; i += n)
		if (!(n = utf8_next(u + i, len - i, &cp)))
			return 0;
	return 1;
}

void jsonw_init(struct jsonw *w)
{
	memset(w, 0, sizeof(*w));
}

static int room(struct jsonw *w, size_t n)
{
	char *p;
	size_t cap;

	if (w->failed)
		return 0;
	if (w->len + n + 1 <= w->cap)
		return 1;
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + n + 1)
		cap *= 2;
	if (!(p = realloc(w->p, cap))) {
		w->failed = 1;
		return 0;
	}
	w->p = p;
	w->cap = cap;
	return 1;
}

void jsonw_raw(struct jsonw *w, const char *s, size_t n)
{
	if (room(w, n)) {
		memcpy(w->p + w->len, s, n);
		w->len += n;
	}
}

/* The escape of character c (< 0x20, '"' or '\\'), as jansson writes it. */
static size_t escape(unsigned char c, char out[7])
{
	static const char named[] = { ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n',
				      ['\r'] = 'r', ['\t'] = 't', ['"'] = '"', ['\\'] = '\\' };

	if (c < sizeof(named) && named[c]) {
		out[0] = '\\';
		out[1] = named[c];
		return 2;
	}
	snprintf(out, 7, "\\u%04X", c);
	return 6;
}

/* s, known to be UTF-8, quoted and escaped. */
static void quoted(struct jsonw *w, const char *s)
{
	size_t len = strlen(s), i = 0, run = 0;
	const unsigned char *u = (const unsigned char *)s;

	jsonw_raw(w, "\"", 1);
	for (; i < len; i++) {
		char e[7];

		if (u[i] >= 0x20 && u[i] != '"' && u[i] != '\\')
			continue;
		jsonw_raw(w, s + run, i - run);
		jsonw_raw(w, e, escape(u[i], e));
		run = i + 1;
	}
	jsonw_raw(w, s + run, len - run);
	jsonw_raw(w, "\"", 1);
}

void jsonw_str(struct jsonw *w, const char *s)
{
	if (utf8_valid(s))
		quoted(w, s);
	else
		w->failed = 1;
}

/* "," before all but the first member, then the key (ours: plain ASCII,
 * nothing to escape) and ":". */
static void key(struct jsonw *w, const char *k)
{
	if (w->members++)
		jsonw_raw(w, ",", 1);
	jsonw_raw(w, "\"", 1);
	jsonw_raw(w, k, strlen(k));
	jsonw_raw(w, "\":", 2);
}

void jsonw_member_str(struct jsonw *w, const char *k, const char *value)
{
	if (!utf8_valid(value))
		return;
	key(w, k);
	quoted(w, value);
}

void jsonw_member_int(struct jsonw *w, const char *k, long long value)
{
	char n[24];

	key(w, k);
	jsonw_raw(w, n, (size_t)snprintf(n, sizeof(n), "%lld", value));
}

void jsonw_member_raw(struct jsonw *w, const char *k, const char *value)
{
	key(w, k);
	jsonw_raw(w, value, strlen(value));
}

char *jsonw_end(struct jsonw *w)
{
	if (!room(w, 0)) {
		free(w->p);
		w->p = NULL;
		return NULL;
	}
	w->p[w->len] = '\0';
	return w->p;
}
