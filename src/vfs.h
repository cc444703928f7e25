/*
 * vfs: the file API of docs/VFS.md — GET, HEAD, PUT and DELETE of files and
 * folders of the home under /api/vfs and /vfs, and zips of folders under
 * /api/zip and /zip — with every path resolved beneath the home's folder
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and the credentials
 * folder {home}/data/webjobs never reachable. See docs/VFS.md.
 */
#ifndef WEBJOBS_VFS_H
#define WEBJOBS_VFS_H

#include <stddef.h>
#include <uv.h>

#include "home.h"
#include "http.h"

/* Decodes and checks a raw request path (percent-encoded, after the
 * /api/vfs/ prefix) into a clean relative path in out ("" for the home
 * itself): no "..", no NUL, "." and empty components dropped. *dir is set
 * when the raw path ends with '/'. Returns 0, -EINVAL (bad path) or
 * -EACCES (the credentials folder). Pure. */
int vfs_clean_path(const char *raw, char *out, size_t size, int *dir);

/* Opens rel beneath the home folder hfd without following any link.
 * Returns an fd or a negative errno. */
int vfs_open(int hfd, const char *rel, int flags, unsigned mode);

struct vfs_call; /* the state of one VFS request */

/* Headers of a request are in: prepares a PUT's body file (after
 * checking its preconditions). base is "/api/vfs" or "/vfs" (or the zip
 * forms), rest the raw path. Returns a call, or NULL after a reply. */
struct vfs_call *vfs_begin(struct http_request *req, struct home *h, uv_loop_t *loop,
			   int zip, const char *base, const char *rest);
/* The request is complete: answers it (now, or later after a suspend). */
void vfs_complete(struct vfs_call *v);
/* MHD forgets the request. */
void vfs_done(struct vfs_call *v);

#endif
