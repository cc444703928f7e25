/*
 * vfs_int: what vfs.c and vfs_zip.c share. Not for other modules.
 */
#ifndef WEBJOBS_VFS_INT_H
#define WEBJOBS_VFS_INT_H

#include <limits.h>
#include <uv.h>

#include "home.h"
#include "http.h"
#include "vfs.h"

struct vfs_call {
	struct http_request *req;
	struct home *h;
	uv_loop_t *loop;
	int zip;
	char base[16];      /* "/api/vfs", "/vfs", "/api/zip", "/zip" */
	char rel[PATH_MAX]; /* clean, relative to the home; "" is the home */
	int dir;            /* the request path ended with '/' */
	/* PUT */
	int pfd;            /* the parent folder of a file being written */
	char tmp[64];       /* its temporary name there */
	int existed;
	/* zip PUT */
	uv_work_t work;
	int busy;
	int work_rc;
	unsigned work_status;
	char work_err[512];
};

/* Makes the folders of rel beneath hfd (all of them when whole, else all
 * but the last part). Returns 0 or a negative errno. */
int vfs_make_folders(int hfd, const char *rel, int whole);

/* Replies 404, 507 or 500 for a failed file operation. */
void vfs_fail_errno(struct vfs_call *v, int rc);

/* Streams the request body into a new temporary file (named prefix...,
 * kept in v->tmp) of folder v->pfd; the descriptor waits in v->work_rc. */
void vfs_body_to_temp(struct vfs_call *v, const char *prefix, int flags, mode_t mode);

/* PUT of a zip over a folder: the body to a temporary file, then (on the
 * thread pool) unpacked into a staging folder and merged into place. */
void vfs_begin_zip_put(struct vfs_call *v);
void vfs_complete_zip_put(struct vfs_call *v);

#endif
