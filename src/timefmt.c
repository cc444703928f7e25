/*
 * timefmt: formatting and parsing of the times, durations and run ids that
 * appear in JSON bodies, status records and log lines.
 */
#define _GNU_SOURCE
#include "timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t time_now_ticks(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * TICKS_PER_SEC + ts.tv_nsec / 100;
}

/* The UTC calendar time of ticks and the non-negative ticks past its
 * second. */
static void utc_of(int64_t ticks, struct tm *tm, int64_t *frac)
{
	int64_t s = ticks / TICKS_PER_SEC;
	int64_t f = ticks % TICKS_PER_SEC;
	time_t sec;

	if (f < 0) {
		f += TICKS_PER_SEC;
		s -= 1;
	}
	sec = (time_t)s;
	*frac = f;
	gmtime_r(&sec, tm);
}

void time_format_iso(int64_t ticks, char *buf)
{
	int64_t frac;
	struct tm tm;
	int n;

	utc_of(ticks, &tm, &frac);
	n = snprintf(buf, TIME_ISO_MAX, "%04d-%02d-%02dT%02d:%02d:%02d",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec);
	if (frac) {
		char f[8];
		int len = 7;

		snprintf(f, sizeof(f), "%07lld", (long long)frac);
		while (len > 0 && f[len - 1] == '0')
			len--;
		f[len] = '\0';
		n += snprintf(buf + n, (size_t)(TIME_ISO_MAX - n), ".%s", f);
	}
	snprintf(buf + n, (size_t)(TIME_ISO_MAX - n), "Z");
}

void time_format_duration(int64_t ticks, char *buf, size_t size)
{
	int64_t secs, frac, days;
	int n;

	if (ticks < 0)
		ticks = 0;
	secs = ticks / TICKS_PER_SEC;
	frac = ticks % TICKS_PER_SEC;
	days = secs / 86400;
	secs %= 86400;
	if (days)
		n = snprintf(buf, size, "%lld.", (long long)days);
	else
		n = 0;
	if (n < 0 || (size_t)n >= size)
		return;
	n += snprintf(buf + n, size - (size_t)n, "%02lld:%02lld:%02lld",
		      (long long)(secs / 3600), (long long)(secs / 60 % 60),
		      (long long)(secs % 60));
	if (frac && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, ".%07lld", (long long)frac);
}

void time_format_run_id(int64_t ticks, char *buf)
{
	int64_t frac;
	struct tm tm;
	char tmp[64];

	utc_of(ticks, &tm, &frac);
	snprintf(tmp, sizeof(tmp), "%04d%02d%02d%02d%02d%02d%04lld",
		 (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)(frac / 1000));
	memcpy(buf, tmp, RUN_ID_LEN);
	buf[RUN_ID_LEN] = '\0';
}

void time_format_log(int64_t ticks, char *buf)
{
	int64_t frac;
	struct tm tm;
	char tmp[64];

	utc_of(ticks, &tm, &frac);
	snprintf(tmp, sizeof(tmp), "%02d/%02d/%04d %02d:%02d:%02d",
		 tm.tm_mon + 1, tm.tm_mday, (tm.tm_year + 1900) % 10000,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(buf, tmp, 19);
	buf[19] = '\0';
}

/* Reads exactly n digits into *out; returns the position after them. */
static const char *digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return NULL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return s + n;
}

static int days_in_month(int year, int month)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 ? 28 + leap : dm[month - 1];
}

/* Builds ticks from calendar fields, UTC. */
static int64_t ticks_from_fields(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm) * TICKS_PER_SEC;
}

int time_parse_iso(const char *s, int64_t *ticks)
{
	int y, mo, d, h, mi, sec, oh, om;
	int64_t frac = 0, off = 0;
	const char *p = s;

	if (!(p = digits(p, 4, &y)) || *p++ != '-' || !(p = digits(p, 2, &mo)) ||
	    *p++ != '-' || !(p = digits(p, 2, &d)) || (*p != 'T' && *p != ' '))
		return -EINVAL;
	p++;
	if (!(p = digits(p, 2, &h)) || *p++ != ':' || !(p = digits(p, 2, &mi)) ||
	    *p++ != ':' || !(p = digits(p, 2, &sec)))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -EINVAL;
	if (*p == '.') {
		int n = 0;
		int64_t scale = TICKS_PER_SEC / 10;

		for (p++; *p >= '0' && *p <= '9'; p++, n++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
		if (n == 0)
			return -EINVAL;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		const char *q = digits(p + 1, 2, &oh);

		if (!q || *q++ != ':' || !(q = digits(q, 2, &om)) || oh > 23 ||
		    om > 59)
			return -EINVAL;
		off = sign * ((int64_t)oh * 3600 + om * 60) * TICKS_PER_SEC;
		p = q;
	}
	if (*p)
		return -EINVAL;
	*ticks = ticks_from_fields(y, mo, d, h, mi, sec) + frac - off;
	return 0;
}

int time_is_run_id(const char *s)
{
	for (int i = 0; i < RUN_ID_LEN; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[RUN_ID_LEN] == '\0';
}

int time_parse_run_id(const char *s, int64_t *ticks)
{
	int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, f = 0;
	const char *p = s;

	if (!time_is_run_id(s))
		return -EINVAL;
	p = digits(p, 4, &y);
	p = digits(p, 2, &mo);
	p = digits(p, 2, &d);
	p = digits(p, 2, &h);
	p = digits(p, 2, &mi);
	p = digits(p, 2, &sec);
	digits(p, 4, &f);
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -EINVAL;
	*ticks = ticks_from_fields(y, mo, d, h, mi, sec) + (int64_t)f * 1000;
	return 0;
}
