/*
 * cron: 6-field cron expressions with seconds (docs/API.md, "Schedules"), their expanded
 * text (9.4), and the next occurrence in a time zone with the daylight-
 * saving policy of classic cron (9.3). The parser and the calendar search
 * are pure; only the zone look-ups use the C library's tz database.
 */
#ifndef WEBJOBS_CRON_H
#define WEBJOBS_CRON_H

#include <stddef.h>
#include <stdint.h>

struct cron {
	uint64_t sec, min; /* bits 0-59 */
	uint32_t hour;     /* bits 0-23 */
	uint32_t dom;      /* bits 1-31 */
	uint16_t mon;      /* bits 1-12 */
	uint8_t dow;       /* bits 0-6, 0 = Sunday */
};

/* Parses expr. Returns 0, or -EINVAL with a reason naming the field and
 * the token in err. */
int cron_parse(const char *expr, struct cron *c, char *err, size_t errsz);

/* The expanded form, "0,10,20,30,40,50 * * * * *", as a new string (NULL
 * when out of memory); never cut short. */
char *cron_expand(const struct cron *c);

/* 1 when the hour field covers all 24 hours (the DST rules differ). */
int cron_hour_is_star(const struct cron *c);

/* 1 when some date can match (0 0 0 30 2 * never does). */
int cron_can_fire(const struct cron *c);

/* 1 when zone names a time zone the system knows ("" and "UTC" too). */
int cron_zone_valid(const char *zone);

/* The first occurrence strictly after `after` (Unix seconds) in zone.
 * Returns 0 with *next, or -ENOENT when there is none within 400 years. */
int cron_next(const struct cron *c, const char *zone, int64_t after, int64_t *next);

/* The UTC offset (seconds east) of zone at instant t. */
int32_t cron_offset(const char *zone, int64_t t);

/* Local wall time (seconds since the epoch as if UTC) to an instant in
 * zone: a time in a spring-forward gap moves forward by the gap (02:30 in
 * a one-hour gap is 03:30); an ambiguous one is the first of its two
 * instants. */
int64_t cron_local_to_instant(const char *zone, int64_t local);

/* Formats instant t as local ISO 8601 in zone with a numeric offset:
 * "2026-03-08T03:00:00-04:00" ("+00:00" for UTC). buf holds 32. */
void cron_format_local(const char *zone, int64_t t, char *buf, size_t size);

/* Parses "YYYY-MM-DDTHH:MM:SS" with an optional "Z" or "+hh:mm"; without
 * one the time is local in zone. Returns 0 or -EINVAL. */
int cron_parse_time(const char *zone, const char *text, int64_t *t);

#endif
