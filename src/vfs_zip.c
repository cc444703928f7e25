/*
 * vfs_zip: PUT /api/zip/{path}/ — a zip unpacked over a folder. The body
 * goes to a temporary file; on the thread pool it is unpacked into a
 * staging folder with the deploy's entry checks (src/unpack.c) and only
 * then merged into place, so a bad zip changes nothing (docs/VFS.md).
 */
#define _GNU_SOURCE
#include "vfs_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "unpack.h"

/* ---- zip PUT: unpack into a staging folder, then move into place ---- */

/* Moves the tree src (beneath sfd) over dst (beneath dfd), merging
 * folders and replacing files. */
static int merge(int sfd, const char *src, int dfd, const char *dst)
{
	struct stat st, dt;
	int in, out, rc = 0;
	DIR *d;
	struct dirent *de;

	if (fstatat(sfd, src, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		if (fstatat(dfd, dst, &dt, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(dt.st_mode))
			return -EISDIR;
		return renameat(sfd, src, dfd, dst) < 0 ? -errno : 0;
	}
	if (mkdirat(dfd, dst, st.st_mode & 07777) < 0 && errno != EEXIST)
		return -errno;
	in = openat(sfd, src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	out = openat(dfd, dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = in >= 0 ? fdopendir(in) : NULL;
	if (!d || out < 0) {
		rc = -(errno ? errno : EIO);
		if (!d && in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		if (d)
			closedir(d);
		return rc;
	}
	while ((de = readdir(d)) && rc == 0)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = merge(dirfd(d), de->d_name, out, de->d_name);
	closedir(d);
	close(out);
	return rc;
}

static void work_zip_put(uv_work_t *w)
{
	struct vfs_call *v = w->data;
	struct unpack_limits lim = UNPACK_LIMITS_DEFAULT;
	char staging[64], path[64];
	int sfd, tfd, rc;

	files_temp_name(".zip-staging-", staging, sizeof(staging));
	if (mkdirat(v->h->fd, staging, 0700) < 0 ||
	    (sfd = openat(v->h->fd, staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		v->work_status = 500;
		snprintf(v->work_err, sizeof(v->work_err), "Cannot stage the zip: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", v->work_rc);
	rc = unpack_zip(path, sfd, &lim, v->work_err, sizeof(v->work_err));
	if (rc < 0) {
		v->work_status = rc == -EINVAL || rc == -EFBIG ? 400 : rc == -ENOSPC ? 507 : 500;
		goto out;
	}
	/* Everything unpacked: only now is the target touched. */
	tfd = vfs_open(v->h->fd, v->rel, O_RDONLY | O_DIRECTORY, 0);
	rc = tfd < 0 ? tfd : 0;
	if (rc == 0) {
		DIR *d = fdopendir(dup(sfd));
		struct dirent *de;

		while (d && (de = readdir(d)) && rc == 0)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				rc = merge(sfd, de->d_name, tfd, de->d_name);
		if (d)
			closedir(d);
		close(tfd);
	}
	if (rc < 0) {
		v->work_status = rc == -EISDIR ? 409 : 500;
		snprintf(v->work_err, sizeof(v->work_err), "Cannot move the zip's files into place: %s",
			 strerror(-rc));
	} else {
		v->work_status = 0;
	}
out:
	close(sfd);
	files_remove_tree(v->h->fd, staging);
}

static void after_zip_put(uv_work_t *w, int status)
{
	struct vfs_call *v = w->data;

	v->busy = 0;
	if (!v->req) {
		vfs_done(v);
		return;
	}
	if (status < 0 && !v->work_status)
		v->work_status = 500;
	if (v->work_status)
		http_reply_error(v->req, v->work_status, "%s", v->work_err);
	else
		http_reply_empty(v->req, 200);
	http_resume(v->req);
}

void vfs_begin_zip_put(struct vfs_call *v)
{
	int rc = vfs_make_folders(v->h->fd, v->rel, 1);
	struct stat st;
	int fd;

	if (rc == 0) {
		fd = vfs_open(v->h->fd, v->rel, O_RDONLY, 0);
		if (fd < 0)
			rc = fd;
		else if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
			rc = -ENOTDIR;
		if (fd >= 0)
			close(fd);
	}
	if (rc < 0) {
		vfs_fail_errno(v, rc);
		return;
	}
	v->pfd = dup(v->h->fd);
	vfs_body_to_temp(v, ".zip-upload-", O_RDWR, 0600);
}

void vfs_complete_zip_put(struct vfs_call *v)
{
	int rc = http_body_error(v->req);

	if (rc < 0) {
		vfs_fail_errno(v, rc);
		return;
	}
	v->busy = 1;
	v->work.data = v;
	http_suspend(v->req);
	if (uv_queue_work(v->loop, &v->work, work_zip_put, after_zip_put) < 0) {
		v->busy = 0;
		http_reply_error(v->req, 500, "Cannot start unpacking.");
		http_resume(v->req);
	}
}

