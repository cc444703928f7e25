/* libFuzzer target: the cron parser, its expansion and the next
 * occurrence. Checks: an accepted expression expands to text that parses
 * to the same fields; a next occurrence is strictly later than its start
 * and its wall time (in the zone) matches every field. Input: 1 byte zone
 * choice, 4 bytes start time, then the expression. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

static const char *const zones[] = { "", "America/New_York", "Europe/Berlin",
				     "Australia/Lord_Howe", "Asia/Kathmandu" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cron c, c2;
	char expr[256], err[256], *buf;
	const char *zone;
	int64_t after, next;

	if (size < 5 || size - 5 >= sizeof(expr))
		return 0;
	zone = zones[data[0] % 5];
	/* 2000-01-01 plus up to ~136 years of seconds. */
	after = 946684800 + (int64_t)((uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
				      (uint32_t)data[3] << 8 | data[4]);
	memcpy(expr, data + 5, size - 5);
	expr[size - 5] = '\0';
	if (cron_parse(expr, &c, err, sizeof(err)) != 0) {
		if (!memchr(err, '\0', sizeof(err)))
			abort();
		return 0;
	}
	buf = cron_expand(&c);
	if (!buf || cron_parse(buf, &c2, err, sizeof(err)) != 0 || memcmp(&c, &c2, sizeof(c)) != 0)
		abort();
	free(buf);
	if (cron_next(&c, zone, after, &next) == 0) {
		int32_t off = cron_offset(zone, next);
		time_t local = (time_t)(next + off);
		struct tm tm;

		int matches;

		if (next <= after)
			abort();
		gmtime_r(&local, &tm);
		matches = (c.sec & (1ull << tm.tm_sec)) && (c.min & (1ull << tm.tm_min)) &&
			  (c.hour & (1u << tm.tm_hour)) && (c.dom & (1u << tm.tm_mday)) &&
			  (c.mon & (1u << (tm.tm_mon + 1))) && (c.dow & (1u << tm.tm_wday));
		/* The one exception: a fixed-hour time inside a spring-forward
		 * gap fires at the end of the gap, whose wall time differs. */
		if (!matches && (cron_hour_is_star(&c) ||
				 cron_offset(zone, next - 1) == cron_offset(zone, next)))
			abort();
	} else if (cron_can_fire(&c)) {
		abort();
	}
	return 0;
}
