/*
 * joblog: the lines a job's logs are made of (docs/API.md, "Log lines"). Output of a job is
 * cut into lines (\n, \r\n and \r end a line; a line over 64 KiB is cut),
 * each written with the time, the short instance id and the level. A
 * triggered run writes output_log.txt and, for stderr lines only,
 * error_log.txt (created with the first such line).
 */
#ifndef WEBJOBS_JOBLOG_H
#define WEBJOBS_JOBLOG_H

#include <stddef.h>
#include <stdint.h>

#define JOBLOG_MAX_LINE (64 * 1024)

enum joblog_stream { JOBLOG_OUT = 0, JOBLOG_ERR = 1 };

struct joblog;

/* A log writing into folder dfd (which it dups): main_name always, and
 * err_name (may be NULL) for stderr lines. inst is the instance id (its
 * first 6 characters are used). */
struct joblog *joblog_open(int dfd, const char *main_name,
			   const char *err_name, const char *inst);
/* joblog_open taking dfd itself (closed with the log, or at once when
 * the log cannot be opened): no dup for a folder opened for the log. */
struct joblog *joblog_adopt(int dfd, const char *main_name,
			    const char *err_name, const char *inst);
/* joblog_open on a folder the caller keeps open for longer than the log
 * (not dup'ed, not closed with it), and with its main file already open
 * when main_fd >= 0, its offset at the file's end (append mode, or the
 * host as the file's one writer); closed with the log, or at once when
 * the log cannot be made: a run's log, whose folder the run holds. */
struct joblog *joblog_borrow(int dfd, int main_fd, const char *main_name,
			     const char *err_name, const char *inst);
/* A log whose folder is not there yet: its lines wait in memory until
 * joblog_place gives it the folder dfd (borrowed) and its main file
 * main_fd (-1: opened there), and are then written after what main_fd
 * holds, as they came. Closed before, the lines are dropped. A
 * scheduled tick's runs log this way until the tick's spawns are
 * answered (docs/DECISIONS.md, "Schedule fire latency: a tick's runs are one batch"). */
struct joblog *joblog_pending(const char *main_name, const char *err_name, const char *inst);
void joblog_place(struct joblog *l, int dfd, int main_fd);
/* Bytes waiting for joblog_place (0 once placed). */
size_t joblog_waiting(const struct joblog *l);
void joblog_close(struct joblog *l);

/* Rolls the main file over to prev_name (replacing it) whenever it passes
 * max bytes (job_log.txt to job_prev_log.txt); 0 turns it off.
 * No line is dropped: a roll-over happens between lines. */
void joblog_set_rollover(struct joblog *l, const char *prev_name, int64_t max);

/* The time (ticks) the lines written after carry, in place of now: a
 * line written later than what it tells (0: now again). */
void joblog_set_time(struct joblog *l, int64_t ticks);

/* The writers below accept a NULL log and do nothing. */

/* A system line: "SYS INFO" or, with is_error, "SYS ERR ". */
void joblog_sys(struct joblog *l, int is_error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A "SYS INFO" line held back: written with the next line (or at the
 * close), in one write with it — for a line a flushed one always
 * follows soon (the spawn's, before its answer's). */
void joblog_sys_held(struct joblog *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Output bytes of one stream; whole lines are written at once. */
void joblog_output(struct joblog *l, enum joblog_stream s, const char *data,
		   size_t len);

/* The stream reached its end: an unfinished last line is written. */
void joblog_end(struct joblog *l, enum joblog_stream s);

/* The first write error seen (negative errno), or 0. */
int joblog_error(const struct joblog *l);
/* 1 once the stderr lines' file is open (created with the first line). */
int joblog_has_err(const struct joblog *l);

/* Formats one line into buf: "[MM/dd/yyyy HH:mm:ss > inst: LEVEL] text\n".
 * Returns its length. Pure (ticks given). */
size_t joblog_format(char *buf, size_t size, int64_t ticks, const char *inst6,
		     const char *level, const char *text, size_t len);
/* The line joblog_sys(l, 0, "%s", text) would write now into a log of
 * instance inst, formatted into buf; its length (0: it did not fit). */
size_t joblog_sys_line(char *buf, size_t size, const char *inst, const char *text);

#endif
