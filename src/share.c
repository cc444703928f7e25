/*
 * share: following a home that other machines change.
 *
 * Publishing: the registry hands over every job its inotify saw change
 * (src/registry.c, registry_on_local) — changes made through this
 * machine's mount, by this host, its jobs or a user. They are gathered
 * until the next turn of the loop and appended, one line per job
 * ("B triggered nightly\n": B
 * for the binaries, D for the data folder, "* * *" for everything), to
 * {home}/data/webjobs/changes/{instance}, which only this instance writes.
 * It is emptied when it passes FILE_MAX.
 *
 * Following: every FOLLOW_MS the folder is listed and each other
 * instance's file stat'ed; bytes past the offset read last time are read,
 * and each whole line marks its job dirty (registry_touch), so the
 * registry re-reads it as it would after a local event — and once more
 * AGAIN_MS later: a network file system's client caches names and
 * attributes for a while (GlusterFS's FUSE client 1 s by default), so the
 * first read may still see the old file. A file that
 * shrank was emptied: it is read from its start. Files present at start-up
 * are followed from their end (start-up reads every job anyway), files
 * that appear later from their start. The cost is one folder listing and
 * a stat per instance every FOLLOW_MS, whatever the number of jobs.
 *
 * A machine that dies between a change and its publication (a few
 * milliseconds), or a change made on a machine that runs no instance,
 * is not published: every 5 s the type folders are listed, and a job that
 * appeared or went without a word is re-read all the same.
 */
#define _GNU_SOURCE
#include "share.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "auth.h"
#include "files.h"
#include "log.h"
#include "swap.h"

#define PUBLISH_MS 0      /* the next turn of the loop: one write per burst */
#define FOLLOW_MS 250
#define NAMES_EVERY 20    /* follow ticks between listings of the type folders (5 s) */
#define AGAIN_MS 1100     /* a change is applied again past the client's caches */
#define RECOVER_EVERY 40  /* follow ticks between swap recoveries (10 s) */
#define SWAP_MIN_AGE 10   /* seconds an aside must be still before recovery */
#define FILE_MAX (1 << 20)
#define CHANGES "data/webjobs/changes"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif
#ifndef CIFS_SUPER_MAGIC
#define CIFS_SUPER_MAGIC 0xFF534D42
#endif
#ifndef SMB2_SUPER_MAGIC
#define SMB2_SUPER_MAGIC 0xFE534D42
#endif
#ifndef CEPH_SUPER_MAGIC
#define CEPH_SUPER_MAGIC 0x00C36400
#endif
#ifndef V9FS_MAGIC
#define V9FS_MAGIC 0x01021997
#endif

struct peer {
	char *name;
	off_t offset;
	int seen; /* listed in this round */
};

static struct {
	struct share_config c;
	int active;
	const char *fs;
	uv_timer_t publish, follow;
	int timers;
	int dir_fd, out_fd;
	int lock_fd; /* data/webjobs/swap.lock: one swap recoverer at a time */
	char *pending; /* lines not yet published */
	size_t plen, pcap;
	struct peer *peers;
	size_t npeers;
	unsigned ticks;
	int applying; /* marking what a peer published: not ours to publish */
	struct again {
		char line[300];
		uint64_t due; /* uv_now */
	} *again;     /* lines to apply once more */
	size_t nagain;
} S = { .dir_fd = -1, .out_fd = -1, .lock_fd = -1, .fs = "unknown" };

static const struct {
	unsigned long magic;
	const char *name;
	int shared;
} kinds[] = {
	{ FUSE_SUPER_MAGIC, "fuse", 1 }, { NFS_SUPER_MAGIC, "nfs", 1 },
	{ SMB_SUPER_MAGIC, "smb", 1 },   { SMB2_SUPER_MAGIC, "smb2", 1 },
	{ CIFS_SUPER_MAGIC, "cifs", 1 }, { CEPH_SUPER_MAGIC, "ceph", 1 },
	{ V9FS_MAGIC, "9p", 1 },         { EXT4_SUPER_MAGIC, "ext4", 0 },
	{ XFS_SUPER_MAGIC, "xfs", 0 },   { BTRFS_SUPER_MAGIC, "btrfs", 0 },
	{ TMPFS_MAGIC, "tmpfs", 0 },     { OVERLAYFS_SUPER_MAGIC, "overlay", 0 },
};

/* 1 when the home's file system is one other machines may write to. */
static int detect(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((unsigned long)sf.f_type == kinds[i].magic) {
			S.fs = kinds[i].name;
			return kinds[i].shared;
		}
	return 0;
}

/* ---- publishing ---- */

static void on_publish(uv_timer_t *t)
{
	struct stat st;

	(void)t;
	if (!S.plen || S.out_fd < 0)
		return;
	if (fstat(S.out_fd, &st) == 0 && st.st_size > FILE_MAX)
		(void)!ftruncate(S.out_fd, 0);
	if (files_write_all(S.out_fd, S.pending, S.plen) < 0)
		log_warn("cannot publish changes to %s: %s", CHANGES, strerror(errno));
	S.plen = 0;
}

static void on_local(void *arg, enum job_type t, const char *name, int bin)
{
	char line[300];
	int n;

	(void)arg;
	if (S.applying)
		return;
	if (t == JOB_TYPE_NONE)
		n = snprintf(line, sizeof(line), "* * *\n");
	else
		n = snprintf(line, sizeof(line), "%c %s %s\n", bin ? 'B' : 'D', home_type_name(t),
			     name);
	if (n <= 0 || (size_t)n >= sizeof(line))
		return;
	/* A job already waiting with the same line is not written twice. */
	for (const char *p = S.pending; p && p < S.pending + S.plen; p = strchr(p, '\n') + 1)
		if (strncmp(p, line, (size_t)n) == 0)
			return;
	if (S.plen + (size_t)n + 1 > S.pcap) {
		size_t cap = (S.plen + (size_t)n + 1) * 2;
		char *p = realloc(S.pending, cap);

		if (!p)
			return;
		S.pending = p;
		S.pcap = cap;
	}
	memcpy(S.pending + S.plen, line, (size_t)n + 1);
	S.plen += (size_t)n;
	if (!uv_is_active((uv_handle_t *)&S.publish))
		uv_timer_start(&S.publish, on_publish, PUBLISH_MS, 0);
}

/* ---- following ---- */

static void apply_line(char *line)
{
	char *type = strchr(line, ' '), *name, shown[320];
	enum job_type t;

	/* As the file has it, not yet checked: escaped. */
	log_debug("change published by another machine: %s",
		  log_escape(line, shown, sizeof(shown)));
	if (!type)
		return;
	name = strchr(type + 1, ' ');
	if (!name)
		return;
	*name++ = '\0';
	type++;
	if (line[0] == '*') {
		for (int k = 0; k < 2; k++) {
			struct job **jobs;
			size_t n = registry_list(S.c.registry, (enum job_type)k, &jobs);
			char **names = calloc(n + 1, sizeof(*names));

			for (size_t i = 0; names && i < n; i++)
				names[i] = strdup(job_name(jobs[i]));
			for (size_t i = 0; names && i < n; i++) {
				if (names[i])
					registry_touch(S.c.registry, (enum job_type)k, names[i]);
				free(names[i]);
			}
			free(names);
		}
		return;
	}
	if (strcmp(type, "triggered") == 0)
		t = JOB_TRIGGERED;
	else if (strcmp(type, "continuous") == 0)
		t = JOB_CONTINUOUS;
	else
		return;
	if (!home_valid_job_name(name))
		return;
	if (line[0] == 'B')
		registry_touch(S.c.registry, t, name);
	else if (line[0] == 'D')
		registry_touch_data(S.c.registry, t, name);
}

/* Keeps line to apply again AGAIN_MS from now (a line kept already is
 * put off: its newest change is what the second read must see). */
static void keep_again(const char *line)
{
	uint64_t due = uv_now(S.c.loop) + AGAIN_MS;
	struct again *v;

	for (size_t i = 0; i < S.nagain; i++)
		if (strcmp(S.again[i].line, line) == 0) {
			S.again[i].due = due;
			return;
		}
	if (!(v = realloc(S.again, (S.nagain + 1) * sizeof(*v))))
		return;
	S.again = v;
	snprintf(v[S.nagain].line, sizeof(v[S.nagain].line), "%s", line);
	v[S.nagain++].due = due;
}

/* Applies the kept lines whose time has come; 1 when any was. */
static int apply_again(void)
{
	uint64_t now = uv_now(S.c.loop);
	int any = 0;

	S.applying = 1;
	for (size_t i = 0; i < S.nagain;) {
		if (S.again[i].due > now) {
			i++;
			continue;
		}
		apply_line(S.again[i].line);
		S.again[i] = S.again[--S.nagain];
		any = 1;
	}
	S.applying = 0;
	return any;
}

/* Reads what peer p's file holds past its offset; 1 when a job was
 * marked. */
static int read_peer(struct peer *p)
{
	struct stat st;
	int fd = openat(S.dir_fd, p->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), marked = 0;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || st.st_size == p->offset) {
		close(fd);
		return 0;
	}
	if (st.st_size < p->offset)
		p->offset = 0; /* emptied by its writer */
	if (st.st_size - p->offset > FILE_MAX * 2)
		p->offset = st.st_size - FILE_MAX * 2;
	buf = malloc((size_t)(st.st_size - p->offset) + 1);
	n = buf ? pread(fd, buf, (size_t)(st.st_size - p->offset), p->offset) : -1;
	close(fd);
	if (n > 0) {
		char *end = memrchr(buf, '\n', (size_t)n);

		if (end) {
			*end = '\0';
			p->offset += end - buf + 1;
			for (char *line = buf, *next; line && *line; line = next) {
				next = strchr(line, '\n');
				if (next)
					*next++ = '\0';
				keep_again(line);
				S.applying = 1;
				apply_line(line);
				S.applying = 0;
				marked = 1;
			}
		}
	}
	free(buf);
	return marked;
}

static struct peer *peer_get(const char *name, int at_start)
{
	struct peer *v;
	struct stat st;

	for (size_t i = 0; i < S.npeers; i++)
		if (strcmp(S.peers[i].name, name) == 0)
			return &S.peers[i];
	if (!(v = realloc(S.peers, (S.npeers + 1) * sizeof(*v))))
		return NULL;
	S.peers = v;
	v = &S.peers[S.npeers];
	if (!(v->name = strdup(name)))
		return NULL;
	S.npeers++;
	v->offset = 0;
	if (at_start && fstatat(S.dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		v->offset = st.st_size;
	return v;
}

static void follow_all(int at_start)
{
	char **names;
	int n = files_list(S.dir_fd, NULL, SIZE_MAX, &names), marked = 0;

	for (size_t i = 0; i < S.npeers; i++)
		S.peers[i].seen = 0;
	for (int i = 0; i < n; i++) {
		struct peer *p;

		if (names[i][0] == '.' || strcmp(names[i], S.c.instance) == 0 ||
		    !(p = peer_get(names[i], at_start)))
			continue;
		p->seen = 1;
		if (!at_start)
			marked |= read_peer(p);
	}
	files_free_names(names, n < 0 ? 0 : n);
	marked |= apply_again();
	if (marked)
		registry_refresh(S.c.registry);
}

/* The listing of the two type folders, read on the thread pool (10,000
 * names over FUSE take a third of a second) with the recovery of swaps cut
 * short, then compared on the loop. */
static struct {
	uv_work_t work;
	int busy;
	char **names[2];
	int n[2];
} L;

static void list_work(uv_work_t *w)
{
	(void)w;
	for (int k = 0; k < 2; k++) {
		if (S.c.home->jobs_fd[k] >= 0)
			swap_recover(S.c.home->jobs_fd[k], SWAP_MIN_AGE, S.lock_fd);
		L.n[k] = S.c.home->jobs_fd[k] >= 0
				 ? files_list(S.c.home->jobs_fd[k], home_valid_job_name, SIZE_MAX,
					      &L.names[k])
				 : -1;
	}
}

/* Jobs whose folder appeared or went unannounced are re-read. */
static void compare(enum job_type t, char **names, int m)
{
	struct job **jobs;
	size_t n = registry_list(S.c.registry, t, &jobs), j = 0;
	char **known = calloc(n + 1, sizeof(*known));
	int i;

	for (size_t q = 0; known && q < n; q++)
		known[q] = strdup(job_name(jobs[q]));
	/* Both lists are in byte order: one merge. */
	for (i = 0; known && (i < m || j < n);) {
		int c = i >= m ? 1 : j >= n ? -1 : strcmp(names[i], known[j] ? known[j] : "");

		if (c < 0) {
			log_debug("job %s: found in the listing unannounced", names[i]);
			registry_touch(S.c.registry, t, names[i++]);
		} else if (c > 0) {
			log_debug("job %s: gone from the listing unannounced", known[j] ? known[j] : "");
			registry_touch(S.c.registry, t, known[j++] ? known[j - 1] : "");
		} else
			i++, j++;
	}
	for (size_t q = 0; known && q < n; q++)
		free(known[q]);
	free(known);
}

static void list_done(uv_work_t *w, int status)
{
	(void)w;
	L.busy = 0;
	S.applying = 1; /* seen, not made here: not published */
	for (int k = 0; k < 2; k++) {
		if (status == 0 && L.n[k] >= 0 && S.active)
			compare((enum job_type)k, L.names[k], L.n[k]);
		files_free_names(L.names[k], L.n[k] < 0 ? 0 : L.n[k]);
		L.names[k] = NULL;
	}
	S.applying = 0;
	if (S.active)
		registry_refresh(S.c.registry);
}

static void check_names(void)
{
	if (L.busy)
		return;
	L.busy = 1;
	if (uv_queue_work(S.c.loop, &L.work, list_work, list_done) < 0)
		L.busy = 0;
}

static void on_follow(uv_timer_t *t)
{
	(void)t;
	if (S.active)
		follow_all(0);
	if (S.active && S.ticks % NAMES_EVERY == NAMES_EVERY - 1)
		check_names();
	/* (On a shared home the listing's work does it.) */
	if (++S.ticks % RECOVER_EVERY == 0 && !S.active)
		for (int k = 0; k < 2; k++)
			if (S.c.home->jobs_fd[k] >= 0)
				swap_recover(S.c.home->jobs_fd[k], SWAP_MIN_AGE, S.lock_fd);
}

/* ---- public ---- */

int share_start(const struct share_config *c, char *err, size_t errsz)
{
	int shared;

	S.c = *c;
	if (strcmp(c->mode, "auto") != 0 && strcmp(c->mode, "yes") != 0 &&
	    strcmp(c->mode, "no") != 0) {
		snprintf(err, errsz, "--shared-home must be auto, yes or no, not '%s'", c->mode);
		return -1;
	}
	shared = detect(c->home->fd);
	S.active = strcmp(c->mode, "yes") == 0 || (shared && strcmp(c->mode, "auto") == 0);
	if (auth_make_folder(c->home->root) == 0)
		S.lock_fd = openat(c->home->fd, "data/webjobs/swap.lock",
				   O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	for (int k = 0; k < 2; k++)
		if (c->home->jobs_fd[k] >= 0)
			swap_recover(c->home->jobs_fd[k], 0, S.lock_fd);
	uv_timer_init(c->loop, &S.publish);
	uv_timer_init(c->loop, &S.follow);
	S.timers = 2;
	uv_timer_start(&S.follow, on_follow, FOLLOW_MS, FOLLOW_MS);
	if (!S.active)
		return 0;
	if (home_mkdirs(c->home->fd, CHANGES) < 0 ||
	    (S.dir_fd = openat(c->home->fd, CHANGES, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (S.out_fd = openat(S.dir_fd, c->instance,
			       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0) {
		log_error("the home is shared but %s cannot be used: %s; changes made through "
			  "other machines are seen only after a restart", CHANGES, strerror(errno));
		S.active = 0;
		return 0;
	}
	registry_on_local(c->registry, on_local, NULL);
	follow_all(1);
	return 0;
}

int share_active(void)
{
	return S.active;
}

const char *share_fs_name(void)
{
	return S.fs;
}

void share_stop(void)
{
	if (S.timers) {
		on_publish(&S.publish);
		uv_close((uv_handle_t *)&S.publish, NULL);
		uv_close((uv_handle_t *)&S.follow, NULL);
		S.timers = 0;
	}
	if (S.c.registry && S.active)
		registry_on_local(S.c.registry, NULL, NULL);
	if (S.out_fd >= 0)
		close(S.out_fd);
	if (S.dir_fd >= 0)
		close(S.dir_fd);
	if (S.lock_fd >= 0)
		close(S.lock_fd);
	S.out_fd = S.dir_fd = S.lock_fd = -1;
	for (size_t i = 0; i < S.npeers; i++)
		free(S.peers[i].name);
	free(S.peers);
	free(S.pending);
	free(S.again);
	S.again = NULL;
	S.nagain = 0;
	S.peers = NULL;
	S.pending = NULL;
	S.npeers = S.plen = S.pcap = 0;
	S.active = 0;
}
