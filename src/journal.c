/*
 * journal: the append-only record file behind a durable 202 (journal.h).
 *
 * Layout: a header line "webjobs-journal 1 {epoch:016x}\n" padded with
 * spaces to JOURNAL_HEADER bytes, then records, each
 * "{epoch:016x} {hash:016x} {line}\n", packed one after the other. The
 * file is JOURNAL_SIZE bytes of zeros written (and synced) when it is
 * made, so that appending a record only overwrites blocks the file system
 * already allocated: fdatasync then writes those blocks and flushes the
 * device, with no inode or extent update — measured here at a sixth of
 * the cost of creating, syncing and renaming a file (docs/DECISIONS.md).
 *
 * A record counts when it follows the header or another counted record,
 * carries the header's epoch and hashes right: a torn write (a crash in
 * the middle of a record) ends the journal there, and records of older
 * epochs left beyond the end never count again.
 */
#define _GNU_SOURCE
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "siphash.h"

#define MAGIC "webjobs-journal 1 "
#define PREFIX 34 /* "{epoch:016x} {hash:016x} " */

struct journal {
	int fd;
	uint64_t epoch;
	size_t tail;      /* where the next record goes */
	unsigned count;   /* records of this epoch */
	int unsynced;
	/* Records appended since the last sync, written with it: one write
	 * for a tick's records, not one each (docs/DECISIONS.md, "The cost
	 * of a scheduled run"). They end at tail. */
	char *pend;
	size_t npend, cap;
};

/* Fixed: a record must hash the same after a restart. */
static const uint8_t key[16] = "webjobs-journal";

static uint64_t hash(uint64_t epoch, const char *line, size_t len)
{
	return siphash24(key, line, len) ^ epoch;
}

static int write_header(struct journal *j)
{
	char h[JOURNAL_HEADER];

	memset(h, ' ', sizeof(h));
	snprintf(h, sizeof(h), MAGIC "%016" PRIx64, j->epoch);
	h[strlen(h)] = ' ';
	h[sizeof(h) - 1] = '\n';
	return pwrite(j->fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) ? 0 : -EIO;
}

/* A new journal file: zeros, the header, synced, then its name. */
static int create(int dfd, const char *name, struct journal *j)
{
	char tmp[64], *zeros;
	int rc = 0;

	files_temp_name(".tmp-journal-", tmp, sizeof(tmp));
	j->fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->fd < 0)
		return -errno;
	if (!(zeros = calloc(1, 1 << 20)))
		rc = -ENOMEM;
	for (size_t off = 0; rc == 0 && off < JOURNAL_SIZE; off += 1 << 20)
		rc = files_write_all(j->fd, zeros, 1 << 20);
	free(zeros);
	if (rc == 0)
		rc = write_header(j);
	if (rc == 0 && fsync(j->fd) < 0)
		rc = -errno;
	if (rc == 0 && renameat(dfd, tmp, dfd, name) < 0)
		rc = -errno;
	if (rc < 0) {
		close(j->fd);
		unlinkat(dfd, tmp, 0);
		return rc;
	}
	fsync(dfd);
	return 0;
}

int journal_open(int dfd, const char *name, struct journal **out)
{
	struct journal *j = calloc(1, sizeof(*j));
	char h[JOURNAL_HEADER + 1];
	struct stat st;
	int rc;

	if (!j)
		return -ENOMEM;
	j->tail = JOURNAL_HEADER;
	j->fd = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (j->fd < 0 && errno == ENOENT) {
		j->epoch = 1;
		rc = create(dfd, name, j);
	} else if (j->fd < 0) {
		rc = -errno;
	} else if (fstat(j->fd, &st) < 0 || st.st_size < JOURNAL_HEADER ||
		   pread(j->fd, h, JOURNAL_HEADER, 0) != JOURNAL_HEADER ||
		   strncmp(h, MAGIC, strlen(MAGIC)) != 0) {
		close(j->fd);
		rc = -EBADMSG;
	} else {
		h[JOURNAL_HEADER] = '\0';
		j->epoch = strtoull(h + strlen(MAGIC), NULL, 16);
		rc = 0;
		if (st.st_size < JOURNAL_SIZE) { /* made by a build with a smaller size */
			close(j->fd);
			rc = -EBADMSG;
		}
	}
	if (rc < 0) {
		free(j);
		return rc;
	}
	*out = j;
	return 0;
}

/* Writes the records waiting in memory to the file. */
static int flush(struct journal *j)
{
	size_t done = 0;

	while (done < j->npend) {
		ssize_t n = pwrite(j->fd, j->pend + done, j->npend - done,
				   (off_t)(j->tail - j->npend + done));

		if (n <= 0 && !(n < 0 && errno == EINTR))
			return -EIO;
		done += n > 0 ? (size_t)n : 0;
	}
	j->npend = 0;
	return 0;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	(void)flush(j);
	close(j->fd);
	free(j->pend);
	free(j);
}

/* The record at buf[off..len) (buf[len] is '\0'): its line's length; -1
 * when there is none; -2 when one may go on past len and more of the file
 * follows (more). */
static long parse(const struct journal *j, char *buf, size_t off, size_t len, int more)
{
	char *nl, *end;
	uint64_t epoch, h;
	size_t n;

	if (len - off < PREFIX + 1)
		return more ? -2 : -1;
	if (buf[off] == '\0')
		return -1;
	epoch = strtoull(buf + off, &end, 16);
	if (end != buf + off + 16 || *end != ' ' || epoch != j->epoch)
		return -1;
	h = strtoull(end + 1, &end, 16);
	if (end != buf + off + 33 || *end != ' ')
		return -1;
	if (!(nl = memchr(buf + off, '\n', len - off)))
		return more ? -2 : -1;
	n = (size_t)(nl - (buf + off + PREFIX));
	if (hash(epoch, buf + off + PREFIX, n) != h)
		return -1;
	*nl = '\0';
	return (long)n;
}

/* The journal is read a piece at a time, up to its last record: its
 * zeros (most of it) are never read — reading all 4 MiB of both halves
 * was 3 % of a start of 1,000 continuous jobs. */
#define REPLAY_PIECE (64u << 10)

int journal_replay(struct journal *j, void (*fn)(void *arg, const char *line), void *arg)
{
	size_t cap = REPLAY_PIECE, base = 0, at = JOURNAL_HEADER; /* base: buf[0]'s offset */
	char *buf = malloc(cap + 1), *bigger;
	ssize_t got;
	long n;

	if (!buf)
		return -ENOMEM;
	j->count = 0;
	for (;;) {
		int more;

		if ((got = pread(j->fd, buf, cap, (off_t)base)) < 0) {
			free(buf);
			return -errno;
		}
		buf[got] = '\0';
		more = (size_t)got == cap && base + cap < JOURNAL_SIZE;
		while ((n = parse(j, buf, at - base, (size_t)got, more)) >= 0) {
			fn(arg, buf + (at - base) + PREFIX);
			at += PREFIX + (size_t)n + 1;
			j->count++;
		}
		if (n != -2)
			break;
		/* A record cut by the piece's end: read again from it, in a
		 * piece twice as big when it began the piece. */
		if (at == base) {
			if (!(bigger = realloc(buf, 2 * cap + 1))) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		base = at;
	}
	j->tail = at;
	free(buf);
	return (int)j->count;
}

int journal_append(struct journal *j, const char *line, size_t len)
{
	size_t need = PREFIX + len + 1;
	char *p;

	if (memchr(line, '\n', len) || need > JOURNAL_SIZE - JOURNAL_HEADER)
		return -EINVAL;
	if (j->tail + need > JOURNAL_SIZE)
		return -ENOSPC;
	if (j->npend + need > j->cap) {
		size_t cap = j->cap ? j->cap : 16384;

		while (cap < j->npend + need)
			cap *= 2;
		if (!(p = realloc(j->pend, cap)))
			return -ENOMEM;
		j->pend = p;
		j->cap = cap;
	}
	p = j->pend + j->npend;
	snprintf(p, PREFIX + 1, "%016" PRIx64 " %016" PRIx64 " ", j->epoch,
		 hash(j->epoch, line, len));
	memcpy(p + PREFIX, line, len);
	p[PREFIX + len] = '\n';
	j->npend += need;
	j->tail += need;
	j->count++;
	j->unsynced = 1;
	return 0;
}

int journal_sync(struct journal *j)
{
	if (!j->unsynced)
		return 0;
	if (flush(j) < 0)
		return -EIO;
	if (fdatasync(j->fd) < 0)
		return -errno;
	j->unsynced = 0;
	return 0;
}

int journal_unsynced(const struct journal *j)
{
	return j->unsynced;
}

unsigned journal_count(const struct journal *j)
{
	return j->count;
}

size_t journal_room(const struct journal *j)
{
	return JOURNAL_SIZE - j->tail;
}

uint64_t journal_epoch(const struct journal *j)
{
	return j->epoch;
}

int journal_reset(struct journal *j, uint64_t epoch)
{
	uint64_t was = j->epoch;
	int rc;

	j->epoch = epoch;
	if ((rc = write_header(j)) < 0 || fdatasync(j->fd) < 0) {
		j->epoch = was;
		return rc < 0 ? rc : -errno;
	}
	j->tail = JOURNAL_HEADER;
	j->count = 0;
	j->unsynced = 0;
	j->npend = 0;
	return 0;
}
