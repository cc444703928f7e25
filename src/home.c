/*
 * home: opening the home folder and the four folders every other module
 * works beneath. All later file access is relative to these descriptors.
 */
#define _GNU_SOURCE
#include "home.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

void home_remove_marked(int dfd, const char *name)
{
	struct files_dir *d = malloc(sizeof(*d));
	const struct dirent *de;

	if (d) {
		files_dir_init(d, openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
		if (d->fd >= 0)
			make_mark(d->fd);
		while (d->fd >= 0 && (de = files_dir_next(d)))
			if (strcmp(de->d_name, HOME_DELETED_MARK) != 0)
				files_remove_tree(d->fd, de->d_name);
		if (d->fd >= 0)
			close(d->fd);
		free(d);
	}
	files_remove_tree(dfd, name);
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
		h->jobs_fd[t] = h->data_fd[t] = -1;
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
	return rc;
}

void home_close(struct home *h)
{
	for (int t = 0; t < 2; t++) {
		if (h->jobs_fd[t] >= 0)
			close(h->jobs_fd[t]);
		if (h->data_fd[t] >= 0)
			close(h->data_fd[t]);
		h->jobs_fd[t] = h->data_fd[t] = -1;
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
