/*
 * cron: parsing, expansion and the next occurrence.
 *
 * The search works on "local seconds" (a wall-clock time written as if it
 * were UTC) and walks the calendar field by field — month, day, hour,
 * minute, second — never second by second. Mapping a wall-clock time to an
 * instant uses the zone's offsets just before and after it: one valid
 * instant (normal), two (fall back) or none (spring forward: the instant
 * the gap ends). Days are civil dates from a day count (the proleptic
 * Gregorian calendar).
 */
#define _GNU_SOURCE
#include "cron.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400
#define SEARCH_YEARS 400

static const char *const month_names[] = { "january", "february", "march", "april",
					   "may", "june", "july", "august",
					   "september", "october", "november", "december" };
static const char *const day_names[] = { "sunday", "monday", "tuesday", "wednesday",
					 "thursday", "friday", "saturday" };

struct field {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] is min + i */
	int nnames;
};

static const struct field fields[6] = {
	{ "second", 0, 59, NULL, 0 },
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day of month", 1, 31, NULL, 0 },
	{ "month", 1, 12, month_names, 12 },
	{ "day of week", 0, 7, day_names, 7 },
};

/* ---- parsing ---- */

/* Reads a number or a name at *p; returns 0 or -1. */
static int value(const struct field *f, const char **p, int *out)
{
	const char *s = *p;

	if (isdigit((unsigned char)*s)) {
		long v = 0;

		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (*s++ - '0');
			if (v > 1000)
				return -1;
		}
		*p = s;
		*out = (int)v;
		return 0;
	}
	if (f->names && isalpha((unsigned char)*s)) {
		size_t len = 0;

		while (isalpha((unsigned char)s[len]))
			len++;
		/* Any prefix, any case; the first in calendar order wins. */
		for (int i = 0; i < f->nnames; i++)
			if (len <= strlen(f->names[i]) && strncasecmp(s, f->names[i], len) == 0) {
				*out = f->min + i;
				*p = s + len;
				return 0;
			}
	}
	return -1;
}

static int parse_field(int k, const char *tok, uint64_t *bits, char *err, size_t errsz)
{
	const struct field *f = &fields[k];
	char item[64];
	const char *p = tok;

	*bits = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *q = item;
		int lo, hi, step = 1;

		if (len == 0 || len >= sizeof(item)) {
			snprintf(err, errsz, "field '%s': empty or too long item in '%s'", f->name, tok);
			return -EINVAL;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		p += len + (p[len] == ',');
		if (*q == '*') {
			lo = f->min;
			hi = f->max == 7 ? 6 : f->max;
			q++;
		} else {
			if (value(f, &q, &lo) < 0) {
				snprintf(err, errsz, "field '%s': '%s' is not a number%s", f->name, item,
					 f->names ? " or a name" : "");
				return -EINVAL;
			}
			hi = lo;
			if (*q == '-') {
				q++;
				if (value(f, &q, &hi) < 0) {
					snprintf(err, errsz, "field '%s': '%s' has a bad range end",
						 f->name, item);
					return -EINVAL;
				}
			} else if (*q == '/') {
				hi = f->max == 7 ? 6 : f->max;
			}
			if (lo < f->min || lo > f->max || hi < f->min || hi > f->max) {
				snprintf(err, errsz, "field '%s': '%s' is out of range %d-%d", f->name,
					 item, f->min, f->max);
				return -EINVAL;
			}
			if (hi < lo) {
				int t = lo;

				lo = hi;
				hi = t;
			}
		}
		if (*q == '/') {
			q++;
			if (!isdigit((unsigned char)*q) || value(f, &q, &step) < 0) {
				snprintf(err, errsz, "field '%s': '%s' has a bad step", f->name, item);
				return -EINVAL;
			}
			if (step == 0) {
				snprintf(err, errsz, "field '%s': '%s' has a step of 0", f->name, item);
				return -EINVAL;
			}
		}
		if (*q) {
			snprintf(err, errsz, "field '%s': unexpected '%s' in '%s'", f->name, q, item);
			return -EINVAL;
		}
		for (int v = lo; v <= hi; v += step)
			*bits |= 1ull << (k == 5 && v == 7 ? 0 : v);
	}
	return 0;
}

int cron_parse(const char *expr, struct cron *c, char *err, size_t errsz)
{
	char copy[512], *tok[7], *save = NULL;
	uint64_t bits[6];
	int n = 0;

	memset(c, 0, sizeof(*c));
	if (!expr || strlen(expr) >= sizeof(copy)) {
		snprintf(err, errsz, "the expression is missing or too long");
		return -EINVAL;
	}
	strcpy(copy, expr);
	for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 6) {
			n++;
			break;
		}
		tok[n++] = t;
	}
	if (n != 6) {
		snprintf(err, errsz, "expected 6 fields (second minute hour day month weekday), got %s%d",
			 n > 6 ? "more than " : "", n > 6 ? 6 : n);
		return -EINVAL;
	}
	for (int k = 0; k < 6; k++)
		if (parse_field(k, tok[k], &bits[k], err, errsz) < 0)
			return -EINVAL;
	c->sec = bits[0];
	c->min = bits[1];
	c->hour = (uint32_t)bits[2];
	c->dom = (uint32_t)bits[3];
	c->mon = (uint16_t)bits[4];
	c->dow = (uint8_t)bits[5];
	return 0;
}

/* ---- expansion ---- */

static void expand_field(FILE *f, uint64_t bits, int lo, int hi)
{
	uint64_t all = 0;
	int first = 1;

	for (int v = lo; v <= hi; v++)
		all |= 1ull << v;
	if ((bits & all) == all) {
		fputc('*', f);
		return;
	}
	for (int v = lo; v <= hi; v++) {
		int end = v;

		if (!(bits & (1ull << v)))
			continue;
		while (end + 1 <= hi && (bits & (1ull << (end + 1))))
			end++;
		fprintf(f, "%s%d", first ? "" : ",", v);
		if (end > v)
			fprintf(f, "-%d", end);
		first = 0;
		v = end;
	}
}

char *cron_expand(const struct cron *c)
{
	const uint64_t bits[6] = { c->sec, c->min, c->hour, c->dom, c->mon, c->dow };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	for (int k = 0; k < 6; k++) {
		if (k)
			fputc(' ', f);
		expand_field(f, bits[k], fields[k].min, fields[k].max == 7 ? 6 : fields[k].max);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

int cron_hour_is_star(const struct cron *c)
{
	return (c->hour & 0xffffffu) == 0xffffffu;
}

/* ---- the calendar ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : dm[m - 1];
}

int cron_can_fire(const struct cron *c)
{
	for (int m = 1; m <= 12; m++)
		if (c->mon & (1u << m))
			for (int d = 1; d <= (m == 2 ? 29 : days_in_month(2001, m)); d++)
				if (c->dom & (1u << d))
					return c->dow != 0 && c->sec && c->min && c->hour;
	return 0;
}

/* The lowest set bit >= from in bits (up to max), or -1. */
static int next_bit(uint64_t bits, int from, int max)
{
	for (int v = from; v <= max; v++)
		if (bits & (1ull << v))
			return v;
	return -1;
}

/* The first matching time of day >= secs on a matching day (seconds into
 * the day), or -1 when none is left that day. */
static int64_t next_in_day(const struct cron *c, int64_t secs)
{
	int h = (int)(secs / 3600), mi = (int)(secs / 60 % 60), s = (int)(secs % 60);

	for (;;) {
		int nh = next_bit(c->hour, h, 23), nmi, ns;

		if (nh < 0)
			return -1;
		if (nh != h) {
			h = nh;
			mi = s = 0;
		}
		nmi = next_bit(c->min, mi, 59);
		if (nmi < 0) {
			h++;
			mi = s = 0;
			continue;
		}
		if (nmi != mi) {
			mi = nmi;
			s = 0;
		}
		ns = next_bit(c->sec, s, 59);
		if (ns >= 0)
			return h * 3600 + mi * 60 + ns;
		if (++mi > 59) {
			h++;
			mi = 0;
		}
		s = 0;
	}
}

/* The smallest matching wall-clock time >= from (local seconds), or -1
 * when none within SEARCH_YEARS. */
static int64_t next_local(const struct cron *c, int64_t from)
{
	int64_t day = from >= 0 ? from / DAY : (from - DAY + 1) / DAY;
	int64_t secs = from - day * DAY, y, limit, t;
	int m, d;

	civil_from_days(day, &y, &m, &d);
	limit = y + SEARCH_YEARS;
	while (y <= limit) {
		int wd;

		if (!(c->mon & (1u << m))) {
			int nm = next_bit(c->mon, m + 1, 12);

			if (nm < 0) {
				y++;
				nm = next_bit(c->mon, 1, 12);
			}
			m = nm;
			d = 1;
			secs = 0;
			continue;
		}
		if (d > days_in_month(y, m)) {
			if (++m > 12) {
				m = 1;
				y++;
			}
			d = 1;
			secs = 0;
			continue;
		}
		day = days_from_civil(y, m, d);
		wd = (int)(((day % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
		if ((c->dom & (1u << d)) && (c->dow & (1u << wd)) &&
		    (t = next_in_day(c, secs)) >= 0)
			return day * DAY + t;
		d++;
		secs = 0;
	}
	return -1;
}

/* ---- zones ---- */

static char saved_tz[256];
static int saved_tz_set = -1;
/* The zone in use is UTC: every offset is 0, and TZ is not touched (each
 * switch of TZ made glibc open the zone file again: 4 % of the host's CPU
 * with 100 jobs on a one-second schedule). */
static int utc;

/* Makes zone the C library's zone; zone_done puts the host's back (jobs
 * inherit the environment, so TZ must not be left changed). */
static void zone_use(const char *zone)
{
	if ((utc = !zone || !*zone || strcmp(zone, "UTC") == 0))
		return;
	if (saved_tz_set < 0) {
		const char *tz = getenv("TZ");

		saved_tz_set = tz != NULL;
		snprintf(saved_tz, sizeof(saved_tz), "%s", tz ? tz : "");
	}
	setenv("TZ", zone && *zone && strcmp(zone, "UTC") != 0 ? zone : "UTC0", 1);
	tzset();
}

static void zone_done(void)
{
	if (utc) {
		utc = 0;
		return;
	}
	if (saved_tz_set)
		setenv("TZ", saved_tz, 1);
	else
		unsetenv("TZ");
	tzset();
}

static int32_t offset_at(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (utc)
		return 0;
	if (!localtime_r(&tt, &tm))
		return 0;
	return (int32_t)tm.tm_gmtoff;
}

int cron_zone_valid(const char *zone)
{
	char path[512], magic[4];
	int fd;
	ssize_t n;

	if (!zone || !*zone || strcmp(zone, "UTC") == 0)
		return 1;
	if (zone[0] == '/' || strstr(zone, "..") || strlen(zone) > 200)
		return 0;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", zone);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, magic, 4);
	close(fd);
	return n == 4 && memcmp(magic, "TZif", 4) == 0;
}

int32_t cron_offset(const char *zone, int64_t t)
{
	int32_t o;

	zone_use(zone);
	o = offset_at(t);
	zone_done();
	return o;
}

/* The first instant in (lo, hi] whose offset is not offset_at(lo). */
static int64_t transition(int64_t lo, int64_t hi)
{
	int32_t o = offset_at(lo);

	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (offset_at(mid) == o)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* Instants of wall time L: returns their count (0: in a gap, then *a is
 * the instant the gap ends), the first in *a, the second in *b. */
static int instants(int64_t L, int64_t *a, int64_t *b)
{
	int32_t o1 = offset_at(L - DAY), o2 = offset_at(L + DAY);
	int64_t t1 = L - o1, t2 = L - o2;
	int v1 = offset_at(t1) == o1, v2 = offset_at(t2) == o2;

	if (o1 == o2 || (v1 && !v2) || (v2 && !v1)) {
		*a = v1 || o1 == o2 ? t1 : t2;
		return 1;
	}
	if (v1 && v2) {
		*a = t1 < t2 ? t1 : t2;
		*b = t1 < t2 ? t2 : t1;
		return 2;
	}
	*a = transition(L - DAY - 2 * DAY, L + DAY);
	return 0;
}

int64_t cron_local_to_instant(const char *zone, int64_t local)
{
	int64_t a, b;

	zone_use(zone);
	if (instants(local, &a, &b) == 0)
		a = local - offset_at(local - DAY); /* moved forward by the gap */
	zone_done();
	return a;
}

/* The first offset change in (t, limit], or -1. Zones change their
 * offset at most every few weeks, so probing weekly finds every change. */
static int64_t next_transition(int64_t t, int64_t limit)
{
	int32_t o = offset_at(t);

	for (int64_t w = t; w < limit;) {
		int64_t w2 = w + 7 * DAY < limit ? w + 7 * DAY : limit;

		if (offset_at(w2) != o)
			return transition(w, w2);
		w = w2;
	}
	return -1;
}

/* Hour field "*": the schedule keeps real time — every instant whose wall
 * time matches, in both passes of a fall-back hour, none in a gap. Within
 * one stretch of constant offset wall time and real time run together; at
 * each change of offset the search starts again from the new wall time. */
static int next_star(const struct cron *c, int64_t t, int64_t *out)
{
	for (int guard = 0; guard < 100000; guard++) {
		int32_t o = offset_at(t);
		int64_t L = next_local(c, t + o), T;

		if (L < 0)
			return -ENOENT;
		T = next_transition(t, L - o);
		if (T < 0) {
			*out = L - o;
			return 0;
		}
		t = T;
	}
	return -ENOENT;
}

/* Fixed hours: each matching wall time fires once — at its first instant
 * when it happens twice, at the end of the gap when it does not happen. */
static int next_fixed(const struct cron *c, int64_t after, int64_t *out)
{
	int64_t L = after + 1 + offset_at(after + 1) - 3 * 3600;

	for (int guard = 0; guard < 200000; guard++) {
		int64_t a, b;

		L = next_local(c, L);
		if (L < 0)
			return -ENOENT;
		instants(L, &a, &b);
		if (a > after) {
			*out = a;
			return 0;
		}
		L++;
	}
	return -ENOENT;
}

int cron_next(const struct cron *c, const char *zone, int64_t after, int64_t *next)
{
	int rc;

	if (!cron_can_fire(c))
		return -ENOENT;
	zone_use(zone);
	rc = cron_hour_is_star(c) ? next_star(c, after + 1, next) : next_fixed(c, after, next);
	zone_done();
	return rc;
}

void cron_format_local(const char *zone, int64_t t, char *buf, size_t size)
{
	int32_t o = cron_offset(zone, t);
	int64_t L = t + o, day = L >= 0 ? L / DAY : (L - DAY + 1) / DAY, secs = L - day * DAY, y;
	int m, d;
	int32_t ao = o < 0 ? -o : o;

	civil_from_days(day, &y, &m, &d);
	snprintf(buf, size, "%04lld-%02d-%02dT%02lld:%02lld:%02lld%c%02d:%02d", (long long)y, m, d,
		 (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60),
		 o < 0 ? '-' : '+', (int)(ao / 3600), (int)(ao / 60 % 60));
}

int cron_parse_time(const char *zone, const char *text, int64_t *t)
{
	int y, mo, d, h, mi, sec, n = 0;
	char rest[16] = "";

	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    strlen(text + n) >= sizeof(rest))
		return -EINVAL;
	strcpy(rest, text + n);
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return -EINVAL;
	{
		int64_t L = days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + sec;
		int oh, om;

		if (!rest[0]) {
			*t = cron_local_to_instant(zone, L);
			return 0;
		}
		if (strcmp(rest, "Z") == 0) {
			*t = L;
			return 0;
		}
		if ((rest[0] == '+' || rest[0] == '-') && strlen(rest) == 6 &&
		    sscanf(rest + 1, "%2d:%2d", &oh, &om) == 2 && oh <= 23 && om <= 59) {
			*t = L - (rest[0] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
			return 0;
		}
	}
	return -EINVAL;
}
