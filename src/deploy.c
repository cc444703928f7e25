/*
 * deploy: uploads of jobs and their removal.
 */
#define _GNU_SOURCE
#include "deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "job.h"
#include "log.h"
#include "swap.h"

/* ---- Content-Disposition ---- */

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies the value of a parameter at p (quoted or token) into out;
 * returns the position after it. */
static const char *param_value(const char *p, char *out, size_t size)
{
	size_t o = 0;

	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (o + 1 < size)
				out[o++] = *p;
		}
		if (*p == '"')
			p++;
	} else {
		for (; *p && *p != ';'; p++)
			if (o + 1 < size)
				out[o++] = *p;
		while (o && (out[o - 1] == ' ' || out[o - 1] == '\t'))
			o--;
	}
	out[o] = '\0';
	return p;
}

/* Decodes an RFC 5987 ext-value "charset'lang'pct-encoded" from v into
 * out (bounded: ISO-8859-1 bytes grow to two in UTF-8). */
static int ext_value(const char *v, char *out, size_t size)
{
	const char *q1 = strchr(v, '\''), *q2;
	size_t o = 0;
	int latin1;

	if (!q1 || !(q2 = strchr(q1 + 1, '\'')))
		return -EINVAL;
	if ((size_t)(q1 - v) == 5 && strncasecmp(v, "UTF-8", 5) == 0)
		latin1 = 0;
	else if ((size_t)(q1 - v) == 10 && strncasecmp(v, "ISO-8859-1", 10) == 0)
		latin1 = 1;
	else
		return -EINVAL;
	for (const char *p = q2 + 1; *p; p++) {
		unsigned c = (unsigned char)*p;

		if (c == '%') {
			int hi = hexv(p[1]), lo = hi >= 0 ? hexv(p[2]) : -1;

			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (unsigned)(hi * 16 + lo);
			p += 2;
			if (c == 0)
				return -EINVAL;
		}
		if (o + 3 > size)
			return -EINVAL;
		if (latin1 && c >= 0x80) {
			out[o++] = (char)(0xc0 | (c >> 6));
			out[o++] = (char)(0x80 | (c & 0x3f));
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return 0;
}

int deploy_filename(const char *header, char *out, size_t size)
{
	char plain[1024] = "", ext[1024] = "", value[1024];
	const char *p = header, *base;
	int have_ext = 0;

	if (!header)
		return -EINVAL;
	while (*p) {
		const char *name;
		size_t nlen;

		while (*p && *p != ';')
			p++;
		if (!*p)
			break;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		name = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		nlen = (size_t)(p - name);
		while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
			nlen--;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		p = param_value(p, value, sizeof(value));
		if (nlen == 9 && strncasecmp(name, "filename*", 9) == 0) {
			if (ext_value(value, ext, sizeof(ext)) == 0)
				have_ext = 1;
		} else if (nlen == 8 && strncasecmp(name, "filename", 8) == 0) {
			snprintf(plain, sizeof(plain), "%s", value);
		}
	}
	base = have_ext ? ext : plain;
	/* Folder parts of the name are dropped (either separator). */
	for (const char *q = base; *q; q++)
		if (*q == '/' || *q == '\\')
			base = q + 1;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    strlen(base) >= size || strlen(base) > NAME_MAX)
		return -EINVAL;
	for (const char *q = base; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return -EINVAL;
	strcpy(out, base);
	return 0;
}

/* ---- uploads ---- */

struct deploy {
	struct home *h;
	enum job_type type;
	char *name;
	char *filename;
	int is_zip;
	struct unpack_limits lim;
	char upload[64];  /* the body, in the type folder */
	char staging[64];
	int fd;
	uv_work_t work;
	deploy_cb cb;
	void *arg;
	unsigned status;
	char err[512];
};

struct deploy *deploy_begin(struct home *h, enum job_type t, const char *name,
			    const char *filename, int is_zip,
			    const struct unpack_limits *lim, char *err, size_t errsz)
{
	struct deploy *d = calloc(1, sizeof(*d));

	if (!d || !(d->name = strdup(name)) || !(d->filename = strdup(filename))) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	d->h = h;
	d->type = t;
	d->is_zip = is_zip;
	d->lim = *lim;
	files_temp_name(".upload-", d->upload, sizeof(d->upload));
	d->fd = openat(h->jobs_fd[t], d->upload,
		       O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->fd < 0) {
		snprintf(err, errsz, "cannot store the upload: %s", strerror(errno));
		goto fail;
	}
	return d;
fail:
	if (d) {
		free(d->name);
		free(d->filename);
		free(d);
	}
	return NULL;
}

int deploy_body_fd(const struct deploy *d)
{
	return d->fd;
}

static void deploy_free(struct deploy *d)
{
	if (d->fd >= 0)
		close(d->fd);
	unlinkat(d->h->jobs_fd[d->type], d->upload, 0);
	free(d->name);
	free(d->filename);
	free(d);
}

void deploy_abort(struct deploy *d)
{
	if (d)
		deploy_free(d);
}

static void fail_with(struct deploy *d, unsigned status, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records the failure: disk full is 507 whatever the step. */
static void fail_with(struct deploy *d, unsigned status, int rc, const char *fmt, ...)
{
	va_list ap;

	d->status = rc == -ENOSPC || rc == -EDQUOT ? 507 : status;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
}

/* The thread-pool part: staging, unpacking, checking, swapping. */
static void work_deploy(uv_work_t *w)
{
	struct deploy *d = w->data;
	int tfd = d->h->jobs_fd[d->type], sfd = -1, rc;
	char why[400], run_command[PATH_MAX];

	files_temp_name(".staging-", d->staging, sizeof(d->staging));
	if (fsync(d->fd) < 0 || mkdirat(tfd, d->staging, 0755) < 0 ||
	    (sfd = openat(tfd, d->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		fail_with(d, 500, rc, "Cannot stage the upload: %s", strerror(-rc));
		goto out;
	}
	if (d->is_zip) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", d->fd);
		rc = unpack_zip(path, sfd, &d->lim, why, sizeof(why));
		if (rc < 0) {
			fail_with(d, rc == -EINVAL || rc == -EFBIG ? 400 : 500, rc,
				  "The zip file was refused: %s", why);
			goto out;
		}
	} else {
		if (renameat(tfd, d->upload, sfd, d->filename) < 0) {
			rc = -errno;
			fail_with(d, 500, rc, "Cannot store the file: %s", strerror(-rc));
			goto out;
		}
		(void)!fchmod(d->fd, 0755);
	}
	if (faccessat(sfd, HOME_DELETED_MARK, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		fail_with(d, 400, 0, "The name %s is reserved at the top of a job's folder.",
			  HOME_DELETED_MARK);
		goto out;
	}
	rc = job_probe(sfd, run_command, sizeof(run_command));
	if (rc <= 0) {
		fail_with(d, 400, 0, "%s", "No runnable script file was found.");
		goto out;
	}
	fsync(sfd);
	/* The swap: old and new change places in one step, or in three
	 * recoverable ones where the file system cannot exchange names. */
	if ((rc = swap_in(tfd, d->staging, d->name)) < 0) {
		fail_with(d, rc == -ENOTEMPTY ? 409 : 500, rc, "Cannot put the job in place: %s",
			  rc == -ENOTEMPTY ? "another deploy of the job came first"
					   : strerror(-rc));
		goto out;
	}
	fsync(tfd);
	d->status = 0;
out:
	if (sfd >= 0)
		close(sfd);
	/* After a swap the staging name holds the old binaries, which
	 * another machine may still read by the job's name: marked first
	 * (docs/SCALE-OUT.md, "A job deployed again on one machine"). */
	home_remove_marked(tfd, d->staging);
}

static void after_deploy(uv_work_t *w, int status)
{
	struct deploy *d = w->data;

	if (status < 0 && d->status == 0) {
		d->status = 500;
		snprintf(d->err, sizeof(d->err), "The deploy was canceled.");
	}
	d->cb(d->arg, d->status, d->err);
	deploy_free(d);
}

void deploy_finish(struct deploy *d, uv_loop_t *loop, deploy_cb cb, void *arg)
{
	d->cb = cb;
	d->arg = arg;
	d->work.data = d;
	d->status = 500;
	if (uv_queue_work(loop, &d->work, work_deploy, after_deploy) < 0) {
		cb(arg, 500, "Cannot start the deploy.");
		deploy_free(d);
	}
}

/* ---- removal ---- */

/* How long a folder a delete left aside may stay untouched before a
 * sweep removes it: a removal a crash cut short. */
#define LEFT_ASIDE_S 60

struct removal {
	uv_work_t work;
	int fd[2];         /* the type's binaries and data folders (dups) */
	char name[2][64];  /* the job's folders moved aside in them, or "" */
	char *job;         /* the job's name (a delete's), or NULL */
	int defer;         /* the data folder goes aside on the pool (put_aside) */
	int marked_ones;   /* the sweep looks for marked data folders too */
};

static int is_deleted(const char *name)
{
	return strncmp(name, ".deleted-", 9) == 0;
}

/* Removes the folders deletes left aside untouched for LEFT_ASIDE_S:
 * removals a crash cut short. */
static void sweep(int dfd)
{
	char **names;
	int n = files_list(dfd, is_deleted, SIZE_MAX, &names);
	time_t now = time(NULL);

	for (int i = 0; i < n; i++) {
		struct stat st;

		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime >= LEFT_ASIDE_S)
			files_remove_tree(dfd, names[i]);
	}
	files_free_names(names, n < 0 ? 0 : n);
}

/* A data folder under a job's name, marked (HOME_DELETED_MARK) a minute
 * ago or more: a delete a crash cut short before it went aside. */
static int marked_long_ago(int dfd, const char *name)
{
	char path[NAME_MAX + sizeof(HOME_DELETED_MARK) + 2];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", name, HOME_DELETED_MARK);
	return fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       time(NULL) - st.st_mtime >= LEFT_ASIDE_S;
}

static void sweep_marked(int dfd)
{
	char **names, aside[64];
	int n = files_list(dfd, home_valid_job_name, SIZE_MAX, &names);

	for (int i = 0; i < n; i++) {
		if (!marked_long_ago(dfd, names[i]))
			continue;
		files_temp_name(".deleted-", aside, sizeof(aside));
		if (renameat(dfd, names[i], dfd, aside) == 0)
			home_remove_data(dfd, aside, names[i]);
	}
	files_free_names(names, n < 0 ? 0 : n);
}

/* A shared home's data folder goes aside only once no run (or instance)
 * of the job, here or on another machine, is writing in it: renaming a
 * folder on GlusterFS while another client writes two levels below it
 * can fail that write on one brick of a replica and leave the bricks
 * disagreeing (docs/SCALE-OUT.md, "A job deleted on one machine"). It
 * is marked already: no run starts there meanwhile. */
static void put_aside(struct removal *rm)
{
	int fd = openat(rm->fd[1], rm->job, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat a, b;

	if (fd >= 0)
		home_wait_locks(fd, HOME_LOCK_WAIT_MS);
	/* Still the folder marked, under the name: another delete of the job
	 * may have taken it, and a deploy and a run made a new one since. */
	if (fd < 0 || fstat(fd, &a) < 0 || fstatat(rm->fd[1], rm->job, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev || !home_marked_deleted(fd))
		rm->name[1][0] = '\0';
	else if (renameat(rm->fd[1], rm->job, rm->fd[1], rm->name[1]) < 0) {
		/* It stays the job's, unmarked (as in deploy_remove). */
		if (errno != ENOENT && errno != ESTALE)
			unlinkat(fd, HOME_DELETED_MARK, 0);
		rm->name[1][0] = '\0';
	}
	if (fd >= 0)
		close(fd);
}

static void work_remove(uv_work_t *w)
{
	struct removal *rm = w->data;

	/* The mark last: while anything of a folder is left, a machine
	 * still led there by the name finds it (docs/SCALE-OUT.md, "A job
	 * deleted on one machine"). The binaries first: until they are
	 * marked another machine may read the job there, keep it and its
	 * locks in the data folder, which put_aside would wait for. */
	if (rm->name[0][0])
		home_remove_marked(rm->fd[0], rm->name[0]);
	if (rm->defer)
		put_aside(rm);
	if (rm->name[1][0])
		home_remove_data(rm->fd[1], rm->name[1], rm->job);
	for (int k = 0; k < 2; k++)
		if (rm->fd[k] >= 0)
			sweep(rm->fd[k]);
	if (rm->marked_ones && rm->fd[1] >= 0)
		sweep_marked(rm->fd[1]);
}

static void after_remove(uv_work_t *w, int status)
{
	struct removal *rm = w->data;

	(void)status;
	for (int k = 0; k < 2; k++)
		if (rm->fd[k] >= 0)
			close(rm->fd[k]);
	free(rm->job);
	free(rm);
}

/* A removal of the folders of type t (with no names yet), or NULL. */
static struct removal *removal_new(const struct home *h, enum job_type t)
{
	struct removal *rm = calloc(1, sizeof(*rm));
	int dirs[2] = { h->jobs_fd[t], h->data_fd[t] };

	for (int k = 0; rm && k < 2; k++)
		rm->fd[k] = dirs[k] < 0 ? -1 : dup(dirs[k]);
	return rm;
}

static void removal_queue(struct removal *rm, uv_loop_t *loop)
{
	rm->work.data = rm;
	if (uv_queue_work(loop, &rm->work, work_remove, after_remove) < 0) {
		work_remove(&rm->work);
		after_remove(&rm->work, 0);
	}
}

int deploy_remove(struct home *h, uv_loop_t *loop, enum job_type t,
		  const char *name, int shared)
{
	struct removal *rm = removal_new(h, t);
	int marked, gone = 0;

	if (!rm || !(rm->job = strdup(name))) {
		if (rm)
			after_remove(&rm->work, 0);
		return -ENOMEM;
	}
	/* Before it goes aside: a machine whose file system still leads the
	 * name to it for a moment must not make a run there. */
	marked = home_mark_deleted(h, t, name, 1) == 0;
	rm->defer = marked && shared;
	for (int k = 0; k < 2; k++) {
		files_temp_name(".deleted-", rm->name[k], sizeof(rm->name[k]));
		if (k == 1 && rm->defer)
			break;
		if (rm->fd[k] < 0 || renameat(rm->fd[k], name, rm->fd[k], rm->name[k]) < 0) {
			rm->name[k][0] = '\0';
			gone = k == 1 && rm->fd[k] >= 0 && (errno == ENOENT || errno == ESTALE);
		}
	}
	/* A data folder that would not go aside stays the job's, unmarked:
	 * a job deployed again by the name would find no run taken there.
	 * (One gone meanwhile is another delete's, marked for it.) */
	if (marked && !rm->defer && !rm->name[1][0] && !gone)
		home_mark_deleted(h, t, name, 0);
	removal_queue(rm, loop);
	return 0;
}

void deploy_sweep(const struct home *h, uv_loop_t *loop)
{
	for (int t = 0; t < 2; t++) {
		struct removal *rm = removal_new(h, (enum job_type)t);

		if (rm) {
			rm->marked_ones = 1;
			removal_queue(rm, loop);
		}
	}
}
