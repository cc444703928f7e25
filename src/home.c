/*
 * home: opening the home folder and the four folders every other module
 * works beneath. All later file access is relative to these descriptors.
 */
#define _GNU_SOURCE
#include "home.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "jsonw.h"

static const char *const type_names[2] = { "triggered", "continuous" };
static const char *const jobs_rel[2] = {
	"site/wwwroot/App_Data/jobs/triggered",
	"site/wwwroot/App_Data/jobs/continuous"
};
static const char *const data_rel[2] = { "data/jobs/triggered",
					 "data/jobs/continuous" };

const char *home_type_name(enum job_type t)
{
	return t == JOB_CONTINUOUS ? type_names[1] : type_names[0];
}

int home_mkdirs(int dfd, const char *rel)
{
	char path[PATH_MAX];
	size_t len = strlen(rel);

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	/* Mostly there already: one call, not one per component. */
	if (mkdirat(dfd, rel, 0755) == 0 || errno == EEXIST)
		return 0;
	memcpy(path, rel, len + 1);
	for (char *p = path;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (path[0] && mkdirat(dfd, path, 0755) < 0 &&
			    errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int home_open_dir(int dfd, const char *rel)
{
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, fd = openat(dfd, rel, flags), rc;

	/* Mostly there already: made only when the open says it is not. */
	if (fd < 0 && errno == ENOENT) {
		if ((rc = home_mkdirs(dfd, rel)) < 0)
			return rc;
		/* Made (or found) by its name and still not there to open: a
		 * name this machine's file system keeps for a folder gone
		 * elsewhere. */
		if ((fd = openat(dfd, rel, flags)) < 0 && errno == ENOENT)
			return -ESTALE;
	}
	return fd < 0 ? -errno : fd;
}

int home_marked_deleted(int dfd)
{
	struct stat st;

	/* Or removed since, mark and all (ESTALE through a network client). */
	return fstatat(dfd, HOME_DELETED_MARK, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno == ESTALE;
}

/* Makes HOME_DELETED_MARK in folder dfd: 0 or -errno. */
static int make_mark(int dfd)
{
	int fd = openat(dfd, HOME_DELETED_MARK, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int home_being_removed(int dfd)
{
	struct stat st;

	if (home_marked_deleted(dfd))
		return 1;
	if (fstat(dfd, &st) < 0)
		return errno == ESTALE || errno == ENOENT;
	return st.st_nlink == 0;
}

static int open_removal_lock(int data_fd)
{
	return openat(data_fd, HOME_REMOVAL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
}

/* Takes (F_WRLCK: waiting, F_RDLCK: not) or releases job name's byte of
 * the removal lock on fd: 0, or -EBUSY when it is held the other way. */
static int removal_byte(int fd, const char *name, short type)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_len = 1 };
	int rc;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	fl.l_start = (off_t)(h & 0x7fffffff);
	if (fd < 0)
		return 0;
	while ((rc = fcntl(fd, type == F_WRLCK ? F_OFD_SETLKW : F_OFD_SETLK, &fl)) < 0 &&
	       errno == EINTR)
		;
	return rc == 0 ? 0 : errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
}

int home_removal_lock(const struct home *h, enum job_type t, const char *name, short type)
{
	return removal_byte(h->removal_fd[t], name, type);
}

/* Write-locks every regular file at the top of folder fd, waiting up to
 * wait_ms (in LOCK_POLL_MS steps) while another process holds a lock on
 * one: a job's run and slot locks, its singleton lock, its instances'
 * status locks. The descriptors are returned (*held, n of them) to be
 * closed once the folder is gone: no lock is taken there meanwhile. */
#define LOCK_POLL_MS 50
static int hold_locks(int fd, int wait_ms, int **held)
{
	char **names;
	int n = files_list(fd, NULL, SIZE_MAX, &names), k = 0;

	*held = n > 0 ? malloc((size_t)n * sizeof(**held)) : NULL;
	for (int i = 0; *held && i < n; i++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int f = openat(fd, names[i], O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat st;

		if (f < 0 || fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (f >= 0)
				close(f);
			continue;
		}
		while (fcntl(f, F_OFD_SETLK, &fl) < 0 && (errno == EAGAIN || errno == EACCES) &&
		       wait_ms > 0) {
			usleep(LOCK_POLL_MS * 1000);
			wait_ms -= LOCK_POLL_MS;
		}
		(*held)[k++] = f;
	}
	files_free_names(names, n < 0 ? 0 : n);
	return k;
}

void home_wait_locks(int fd, int wait_ms)
{
	int *held = NULL, n = hold_locks(fd, wait_ms, &held);

	while (n > 0)
		close(held[--n]);
	free(held);
}

/* Removes folder name of dfd, marked first; with lock_wait_ms > 0 (a
 * delete's data folder) the locks in it are held first (hold_locks) and
 * job's byte of the removal lock is held from the mark's removal until
 * the folder is gone. */
static void remove_marked(int dfd, const char *name, int lock_wait_ms, const char *job)
{
	struct files_dir *d = malloc(sizeof(*d));
	const struct dirent *de;
	int *held = NULL, n = 0, lock = -1;

	if (d) {
		files_dir_init(d, openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
		if (d->fd >= 0)
			make_mark(d->fd);
		if (d->fd >= 0 && lock_wait_ms > 0)
			n = hold_locks(d->fd, lock_wait_ms, &held);
		while (d->fd >= 0 && (de = files_dir_next(d)))
			if (strcmp(de->d_name, HOME_DELETED_MARK) != 0)
				files_remove_tree(d->fd, de->d_name);
		if (d->fd >= 0)
			close(d->fd);
		free(d);
	}
	/* Its own descriptor: a byte this host's runs hold shared on
	 * home.removal_fd is waited for. */
	if (job && (lock = open_removal_lock(dfd)) >= 0)
		removal_byte(lock, job, F_WRLCK);
	files_remove_tree(dfd, name);
	if (lock >= 0)
		close(lock);
	while (n > 0)
		close(held[--n]);
	free(held);
}

void home_remove_marked(int dfd, const char *name)
{
	remove_marked(dfd, name, 0, NULL);
}

void home_remove_data(int dfd, const char *name, const char *job)
{
	remove_marked(dfd, name, HOME_LOCK_WAIT_MS, job);
}

int home_open_job_data(const struct home *h, enum job_type t, const char *name)
{
	int fd = home_open_dir(h->data_fd[t], name);

	if (fd >= 0 && home_marked_deleted(fd)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

int home_mark_deleted(const struct home *h, enum job_type t, const char *name, int on)
{
	int dfd = openat(h->data_fd[t], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (dfd < 0)
		return -errno;
	rc = !on ? (unlinkat(dfd, HOME_DELETED_MARK, 0) < 0 ? -errno : 0) : make_mark(dfd);
	close(dfd);
	return rc;
}

int home_open(struct home *h, const char *path, char *err, size_t errsz)
{
	char *abs = NULL;
	int rc;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	for (int t = 0; t < 2; t++)
		h->jobs_fd[t] = h->data_fd[t] = h->removal_fd[t] = -1;
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errsz, "cannot create home %s: %s", path,
			 strerror(errno));
		return rc;
	}
	abs = realpath(path, NULL);
	if (!abs) {
		rc = -errno;
		snprintf(err, errsz, "cannot resolve home %s: %s", path,
			 strerror(errno));
		return rc;
	}
	h->root = abs;
	h->fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->fd < 0 || faccessat(h->fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
		rc = -errno;
		snprintf(err, errsz, "home %s is not a writable folder: %s", abs,
			 strerror(errno));
		goto fail;
	}
	for (int t = 0; t < 2; t++) {
		h->jobs_rel[t] = jobs_rel[t];
		h->data_rel[t] = data_rel[t];
		if ((rc = home_mkdirs(h->fd, jobs_rel[t])) < 0 ||
		    (rc = home_mkdirs(h->fd, data_rel[t])) < 0) {
			snprintf(err, errsz, "cannot create folders in home %s: %s",
				 abs, strerror(-rc));
			goto fail;
		}
		h->jobs_fd[t] = openat(h->fd, jobs_rel[t],
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		h->data_fd[t] = openat(h->fd, data_rel[t],
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (h->jobs_fd[t] < 0 || h->data_fd[t] < 0) {
			rc = -errno;
			snprintf(err, errsz, "cannot open folders in home %s: %s",
				 abs, strerror(errno));
			goto fail;
		}
		h->removal_fd[t] = open_removal_lock(h->data_fd[t]);
	}
	return 0;
fail:
	home_close(h);
	return rc;
}

int home_reopen(struct home *h, enum job_type t, int data)
{
	const char *rel = data ? data_rel[t] : jobs_rel[t];
	int *fdp = data ? &h->data_fd[t] : &h->jobs_fd[t];
	int fd = openat(h->fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 ? -errno : 0;

	if (*fdp >= 0)
		close(*fdp);
	*fdp = fd;
	if (data) {
		if (h->removal_fd[t] >= 0)
			close(h->removal_fd[t]);
		h->removal_fd[t] = fd >= 0 ? open_removal_lock(fd) : -1;
	}
	return rc;
}

void home_close(struct home *h)
{
	for (int t = 0; t < 2; t++) {
		if (h->jobs_fd[t] >= 0)
			close(h->jobs_fd[t]);
		if (h->data_fd[t] >= 0)
			close(h->data_fd[t]);
		if (h->removal_fd[t] >= 0)
			close(h->removal_fd[t]);
		h->jobs_fd[t] = h->data_fd[t] = h->removal_fd[t] = -1;
	}
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	free(h->root);
	h->root = NULL;
}

/* 1 when s[0..len) is well-formed UTF-8 without control characters. */
static int clean_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, n;
	unsigned cp;

	for (; i < len; i += n)
		if (!(n = utf8_next(s + i, len - i, &cp)) || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0))
			return 0;
	return 1;
}

int home_valid_job_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 128 || name[0] == '.')
		return 0;
	if (strchr(name, '/') || strchr(name, '\\'))
		return 0;
	return clean_utf8((const unsigned char *)name, len);
}
