/*
 * timefmt: the time and duration texts of the API (docs/API.md, "JSON shapes" and "Log lines").
 *
 * Times are "ticks": 100-nanosecond units since the Unix epoch, UTC, the
 * resolution of Kudu's .NET times. Every function here is pure.
 */
#ifndef WEBJOBS_TIMEFMT_H
#define WEBJOBS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TICKS_PER_SEC 10000000LL
#define TIME_ISO_MAX 40
#define RUN_ID_LEN 18

/* The wall clock now, in ticks. */
int64_t time_now_ticks(void);

/* "2024-05-01T12:34:56.12345Z": up to 7 fraction digits, trailing zeros
 * dropped, no '.' when the fraction is zero. buf holds TIME_ISO_MAX. */
void time_format_iso(int64_t ticks, char *buf);

/* "[d.]hh:mm:ss[.fffffff]"; negative durations print as zero. */
void time_format_duration(int64_t ticks, char *buf, size_t size);

/* The run id: UTC "yyyyMMddHHmmssffff" (RUN_ID_LEN digits + NUL). */
void time_format_run_id(int64_t ticks, char *buf);

/* "MM/dd/yyyy HH:mm:ss", the time of a log line (20 bytes with NUL). */
void time_format_log(int64_t ticks, char *buf);

/* Parses ISO 8601 "YYYY-MM-DDTHH:MM:SS[.frac][Z|+hh:mm|-hh:mm]"; without a
 * zone the time is UTC. Returns 0, or -EINVAL. */
int time_parse_iso(const char *s, int64_t *ticks);

/* 1 when s is exactly RUN_ID_LEN ASCII digits, else 0. */
int time_is_run_id(const char *s);

/* Parses a run id into ticks. Returns 0, or -EINVAL. */
int time_parse_run_id(const char *s, int64_t *ticks);

#endif
