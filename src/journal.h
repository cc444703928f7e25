/*
 * journal: an append-only file of records, made durable by one
 * fdatasync of blocks written once at creation (no inode, no extent and
 * no size change per record), with group commit: records appended in a
 * burst share one sync. A record is one line of text (no newline inside)
 * behind the journal's epoch and a keyed hash of the line; a new epoch
 * (journal_reset) forgets every record at once. See docs/DECISIONS.md,
 * "The run journal".
 */
#ifndef WEBJOBS_JOURNAL_H
#define WEBJOBS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_SIZE (4u << 20)   /* bytes, zero-filled at creation */
#define JOURNAL_HEADER 64         /* the header line; records follow */

struct journal;

/* Opens (creating and zero-filling it, durably, when missing) the
 * journal file name in folder dfd. 0 or a negative errno. */
int journal_open(int dfd, const char *name, struct journal **out);
void journal_close(struct journal *j);

/* Calls fn with each record of the current epoch, oldest first (a line,
 * NUL-terminated, without its newline); stops at the first torn or
 * foreign line. Returns how many records there were. */
int journal_replay(struct journal *j, void (*fn)(void *arg, const char *line), void *arg);

/* Appends a record, not yet durable: kept in memory, and written to the
 * file with the next sync (or the close). -ENOSPC when it does not fit
 * in what is left of the file (reset first), -EINVAL for a line with a
 * newline or too long for the file. */
int journal_append(struct journal *j, const char *line, size_t len);
/* Makes every appended record durable: one write and one fdatasync,
 * none when nothing was appended since the last. */
int journal_sync(struct journal *j);
/* 1 when records were appended and not yet synced. */
int journal_unsynced(const struct journal *j);
/* Records appended since the epoch began (0: empty). */
unsigned journal_count(const struct journal *j);
/* The epoch of the records (a journal of a higher epoch is newer). */
uint64_t journal_epoch(const struct journal *j);
/* A new epoch (not the current one): every record is forgotten,
 * durably. The caller has made what they describe durable elsewhere. */
int journal_reset(struct journal *j, uint64_t epoch);
/* Bytes still free for records. */
size_t journal_room(const struct journal *j);

#endif
