/*
 * deploy: putting a job's binaries in place (docs/API.md, "Deploying jobs") — the body (a zip or
 * one file) streamed to a temporary file, unpacked into a staging folder,
 * checked for a runnable script, and swapped with the job's folder in one
 * rename (RENAME_EXCHANGE), so a failed upload changes nothing and a reader
 * never sees half a job. Also deleting a job's folders.
 */
#ifndef WEBJOBS_DEPLOY_H
#define WEBJOBS_DEPLOY_H

#include <stddef.h>
#include <uv.h>

#include "home.h"
#include "route.h"
#include "unpack.h"

/* The file name of a Content-Disposition value: filename*= (RFC 5987,
 * UTF-8 or ISO-8859-1) wins over filename= (quoted or not); folder parts
 * are dropped. Returns 0, or -EINVAL when there is none or it is not a
 * usable file name. Pure. */
int deploy_filename(const char *header, char *out, size_t size);

struct deploy;

/* Starts a deploy of job name: a temporary file for the body is made in
 * the type folder. Returns NULL with a reason in err. */
struct deploy *deploy_begin(struct home *h, enum job_type t, const char *name,
			    const char *filename, int is_zip,
			    const struct unpack_limits *lim, char *err, size_t errsz);

/* The fd the body is written to. */
int deploy_body_fd(const struct deploy *d);

/* Called when a deploy ended: status 0, or an HTTP status (400, 500, 507)
 * with a reason in err. */
typedef void (*deploy_cb)(void *arg, unsigned status, const char *err);

/* Unpacks and swaps on the thread pool, then calls cb on the loop. The
 * deploy frees itself after cb. */
void deploy_finish(struct deploy *d, uv_loop_t *loop, deploy_cb cb, void *arg);

/* Drops a deploy that will not finish (its body is removed). */
void deploy_abort(struct deploy *d);

/* Removes a job's binaries and data: the data folder is marked
 * (HOME_DELETED_MARK), both are renamed away (the job vanishes) and
 * deleted on the thread pool, the mark last. On a shared home (shared
 * != 0) the marked data folder goes aside on the thread pool too, once no
 * run of the job holds a lock in it (put_aside, home_wait_locks). Returns
 * 0 or -errno. */
int deploy_remove(struct home *h, uv_loop_t *loop, enum job_type t,
		  const char *name, int shared);
/* Removes, on the thread pool, the folders deletes left aside untouched
 * for a minute or more: removals a crash cut short; and data folders
 * marked a minute ago or more that a crash kept from going aside. */
void deploy_sweep(const struct home *h, uv_loop_t *loop);

#endif
