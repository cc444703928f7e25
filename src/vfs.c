/*
 * vfs: files and zips of the home over HTTP.
 *
 * Every path is decoded and checked (vfs_clean_path), then opened with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 * relative to the home's folder fd: no "..", no link, no magic /proc link
 * can lead out, and a component that is a link is refused rather than
 * followed. Files are sent by MHD from the fd (never read into memory);
 * uploads go to a temporary name beside the target and are renamed into
 * place; zips are written by libarchive as the folder is walked, chunk by
 * chunk, straight into the response.
 */
#define _GNU_SOURCE
#include "vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "log.h"
#include "route.h"
#include "timefmt.h"
#include "vfs_int.h"
#include "zipout.h"

#define CREDENTIALS "data/webjobs"

/* ---- paths ---- */

int vfs_clean_path(const char *raw, char *out, size_t size, int *dir)
{
	size_t len = strlen(raw), o = 0;
	char *dec = malloc(len + 1);
	const char *p;
	int rc = 0;

	*dir = len > 0 && raw[len - 1] == '/';
	if (!dec)
		return -ENOMEM;
	if (route_decode(raw, len, dec, len + 1) < 0) {
		rc = -EINVAL;
		goto out;
	}
	if (dec[0] && dec[strlen(dec) - 1] == '/')
		*dir = 1;
	for (p = dec; *p;) {
		const char *start = p;
		size_t n;

		while (*p && *p != '/') {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				rc = -EINVAL;
				goto out;
			}
			p++;
		}
		n = (size_t)(p - start);
		if (*p)
			p++;
		if (n == 0 || (n == 1 && start[0] == '.'))
			continue;
		if (n == 2 && start[0] == '.' && start[1] == '.') {
			rc = -EINVAL;
			goto out;
		}
		if (o + n + 2 > size || n > NAME_MAX) {
			rc = -EINVAL;
			goto out;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, start, n);
		o += n;
	}
	out[o] = '\0';
	if (strcmp(out, CREDENTIALS) == 0 ||
	    strncmp(out, CREDENTIALS "/", sizeof(CREDENTIALS)) == 0)
		rc = -EACCES;
out:
	free(dec);
	return rc;
}

int vfs_open(int hfd, const char *rel, int flags, unsigned mode)
{
	return files_open_beneath(hfd, *rel ? rel : ".", flags, mode);
}

/* Creates the folders of rel (all of it when whole, else all but the last
 * component) beneath hfd. Returns 0 or a negative errno. */
int vfs_make_folders(int hfd, const char *rel, int whole)
{
	char path[PATH_MAX];
	size_t len = strlen(rel);

	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, rel, len + 1);
	if (!whole) {
		char *slash = strrchr(path, '/');

		if (!slash)
			return 0;
		*slash = '\0';
	}
	for (char *p = path;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p, *slash;
			int dfd, rc;

			*p = '\0';
			slash = strrchr(path, '/');
			/* mkdir the last component inside its (safely opened) parent */
			if (slash) {
				*slash = '\0';
				dfd = vfs_open(hfd, path, O_RDONLY | O_DIRECTORY, 0);
				*slash = '/';
			} else {
				dfd = vfs_open(hfd, "", O_RDONLY | O_DIRECTORY, 0);
			}
			if (dfd < 0)
				return dfd;
			rc = mkdirat(dfd, slash ? slash + 1 : path, 0755) < 0 && errno != EEXIST ? -errno : 0;
			close(dfd);
			*p = c;
			if (rc < 0)
				return rc;
			if (!c)
				break;
		}
	}
	return 0;
}

/* ---- headers ---- */

static const char *mime_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot && (strcasecmp(dot, ".txt") == 0 || strcasecmp(dot, ".log") == 0))
		return "text/plain";
	if (dot && strcasecmp(dot, ".json") == 0)
		return "application/json";
	return "application/octet-stream";
}

static void etag_of(const struct stat *st, char *buf, size_t size)
{
	snprintf(buf, size, "\"%llx-%llx-%llx\"", (unsigned long long)st->st_ino,
		 (unsigned long long)st->st_mtim.tv_sec * 1000000000ull + (unsigned long long)st->st_mtim.tv_nsec,
		 (unsigned long long)st->st_size);
}

/* 1 when an If-Match / If-None-Match list holds tag or "*". */
static int tag_in(const char *list, const char *tag)
{
	size_t tlen = strlen(tag);

	if (!list)
		return 0;
	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p == '*' || (strncmp(p, tag, tlen) == 0 &&
				  (p[tlen] == '\0' || p[tlen] == ',' || p[tlen] == ' ')))
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

static void http_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void redirect(struct vfs_call *v, int with_slash)
{
	char esc[PATH_MAX * 3], loc[PATH_MAX * 3 + 400];

	route_escape(v->rel, esc, sizeof(esc), 1);
	snprintf(loc, sizeof(loc), "%s%s/%s%s", http_prefix(v->req), v->base, esc,
		 with_slash && *v->rel ? "/" : "");
	http_add_header(v->req, "Location", loc);
	http_reply_empty(v->req, 307);
}

void vfs_fail_errno(struct vfs_call *v, int rc)
{
	if (rc == -ENOENT || rc == -ENOTDIR || rc == -ELOOP || rc == -EXDEV)
		http_reply_error(v->req, 404, "'/%s' was not found.", v->rel);
	else if (rc == -ENOSPC || rc == -EDQUOT)
		http_reply_error(v->req, 507, "Not enough disk space: %s", strerror(-rc));
	else
		http_reply_error(v->req, 500, "'/%s': %s", v->rel, strerror(-rc));
}

/* ---- GET ---- */

static void time_plus(int64_t sec, long nsec, char *buf)
{
	char t[TIME_ISO_MAX];
	size_t n;

	time_format_iso(sec * TICKS_PER_SEC + nsec / 100, t);
	n = strlen(t);
	t[n - 1] = '\0'; /* drop the Z */
	snprintf(buf, TIME_ISO_MAX + 8, "%s+00:00", t);
}

static void list_folder(struct vfs_call *v, int fd)
{
	json_t *arr = json_array();
	char **names = NULL;
	int n = files_list(fd, NULL, 100000, &names);

	for (int i = 0; i < n; i++) {
		struct statx sx;
		char rel[PATH_MAX + NAME_MAX + 2], esc[(PATH_MAX + NAME_MAX) * 3], mt[64], ct[64];
		int isdir;

		if (statx(fd, names[i], AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
			continue;
		if (!S_ISREG(sx.stx_mode) && !S_ISDIR(sx.stx_mode))
			continue;
		snprintf(rel, sizeof(rel), "%s%s%s", v->rel, *v->rel ? "/" : "", names[i]);
		if (strcmp(rel, CREDENTIALS) == 0)
			continue;
		isdir = S_ISDIR(sx.stx_mode);
		route_escape(rel, esc, sizeof(esc), 1);
		time_plus(sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec, mt);
		if (sx.stx_mask & STATX_BTIME)
			time_plus(sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec, ct);
		else
			strcpy(ct, mt);
		json_array_append_new(
			arr, json_pack("{s:s,s:I,s:s,s:s,s:s,s:o,s:o}", "name", names[i], "size",
				       (json_int_t)(isdir ? 0 : sx.stx_size), "mtime", mt, "crtime", ct,
				       "mime", isdir ? "inode/directory" : mime_of(names[i]), "href",
				       json_sprintf("%s%s/%s%s", http_prefix(v->req), v->base, esc,
						    isdir ? "/" : ""),
				       "path", json_sprintf("/%s%s", rel, isdir ? "/" : "")));
	}
	files_free_names(names, n < 0 ? 0 : n);
	http_reply_json(v->req, 200, arr);
}

/* Parses "bytes=a-b" / "bytes=a-" / "bytes=-n" against size. Returns 1
 * with [*from, *to], 0 when there is no usable single range (send all),
 * -1 when it cannot be met (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
	char *end;
	unsigned long long a, b;

	if (!h || strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &end, 10);
		if (end == h + 1 || *end)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*from = b >= size ? 0 : size - b;
		*to = size - 1;
		return 1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-')
		return 0;
	h = end + 1;
	if (*h) {
		b = strtoull(h, &end, 10);
		if (*end || b < a)
			return 0;
	} else {
		b = size ? size - 1 : 0;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b >= size ? size - 1 : b;
	return 1;
}

static void get_file(struct vfs_call *v, int fd, const struct stat *st)
{
	char tag[80], date[64], cr[128];
	const char *ifr = http_header(v->req, "If-Range");
	uint64_t from = 0, to = 0;
	int r;

	etag_of(st, tag, sizeof(tag));
	http_date(st->st_mtim.tv_sec, date, sizeof(date));
	http_add_header(v->req, "ETag", tag);
	http_add_header(v->req, "Last-Modified", date);
	http_add_header(v->req, "Accept-Ranges", "bytes");
	if (tag_in(http_header(v->req, "If-None-Match"), tag)) {
		close(fd);
		http_reply_empty(v->req, 304);
		return;
	}
	r = parse_range(http_header(v->req, "Range"), (uint64_t)st->st_size, &from, &to);
	/* If-Range with another validator: the whole file. */
	if (r != 0 && ifr && strcmp(ifr, tag) != 0 && strcmp(ifr, date) != 0)
		r = 0;
	if (r < 0) {
		snprintf(cr, sizeof(cr), "bytes */%lld", (long long)st->st_size);
		http_add_header(v->req, "Content-Range", cr);
		close(fd);
		http_reply_error(v->req, 416, "The range cannot be satisfied.");
		return;
	}
	if (r > 0) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%lld", (unsigned long long)from,
			 (unsigned long long)to, (long long)st->st_size);
		http_add_header(v->req, "Content-Range", cr);
		http_reply_fd(v->req, 206, mime_of(v->rel), fd, from, to - from + 1);
		return;
	}
	http_reply_fd(v->req, 200, mime_of(v->rel), fd, 0, (uint64_t)st->st_size);
}

static void get_zip(struct vfs_call *v, int fd)
{
	const char *leaf = strrchr(v->rel, '/');

	zipout_reply(v->req, fd, v->rel, *v->rel ? (leaf ? leaf + 1 : v->rel) : "home");
}

static void do_get(struct vfs_call *v)
{
	struct stat st;
	int fd = vfs_open(v->h->fd, v->rel, O_RDONLY, 0);

	if (fd < 0) {
		vfs_fail_errno(v, fd);
		return;
	}
	fstat(fd, &st);
	if (S_ISDIR(st.st_mode)) {
		if (v->zip) {
			get_zip(v, fd);
			return;
		}
		if (!v->dir) {
			close(fd);
			redirect(v, 1);
			return;
		}
		list_folder(v, fd);
		close(fd);
		return;
	}
	if (v->zip || !S_ISREG(st.st_mode)) {
		close(fd);
		http_reply_error(v->req, 404, "'/%s' is not a folder.", v->rel);
		return;
	}
	if (v->dir) {
		close(fd);
		redirect(v, 0);
		return;
	}
	get_file(v, fd, &st);
}

/* ---- DELETE ---- */

static void do_delete(struct vfs_call *v)
{
	char parent[PATH_MAX], tag[80];
	const char *leaf, *q = http_query(v->req);
	char *rec = route_query_get(q, "recursive");
	int recursive = rec && strcasecmp(rec, "true") == 0;
	struct stat st;
	int pfd;

	free(rec);
	if (!*v->rel) {
		http_reply_error(v->req, 403, "The home itself cannot be deleted.");
		return;
	}
	snprintf(parent, sizeof(parent), "%s", v->rel);
	leaf = strrchr(parent, '/');
	if (leaf) {
		parent[leaf - parent] = '\0';
		leaf = v->rel + (leaf - parent) + 1;
	} else {
		parent[0] = '\0';
		leaf = v->rel;
	}
	pfd = vfs_open(v->h->fd, parent, O_RDONLY | O_DIRECTORY, 0);
	if (pfd < 0 || fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (pfd >= 0)
			close(pfd);
		http_reply_error(v->req, 404, "'/%s' was not found.", v->rel);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		int rc = 0;

		if (recursive) {
			char trash[64];

			/* Renamed away at once, removed after. */
			files_temp_name(".deleted-", trash, sizeof(trash));
			if (renameat(pfd, leaf, v->h->fd, trash) < 0)
				rc = -errno;
			else
				rc = files_remove_tree(v->h->fd, trash);
		} else if (unlinkat(pfd, leaf, AT_REMOVEDIR) < 0) {
			rc = -errno;
		}
		close(pfd);
		if (rc == -ENOTEMPTY || rc == -EEXIST)
			http_reply_error(v->req, 409, "The folder '/%s' is not empty (use ?recursive=true).",
					 v->rel);
		else if (rc < 0)
			vfs_fail_errno(v, rc);
		else
			http_reply_empty(v->req, 200);
		return;
	}
	etag_of(&st, tag, sizeof(tag));
	if (!tag_in(http_header(v->req, "If-Match"), tag)) {
		close(pfd);
		http_reply_error(v->req, 412, "Deleting a file needs an If-Match header with its ETag or *.");
		return;
	}
	if (unlinkat(pfd, leaf, 0) < 0)
		vfs_fail_errno(v, -errno);
	else
		http_reply_empty(v->req, 200);
	close(pfd);
}

/* ---- PUT ---- */

/* Splits rel into its parent folder (opened, created when missing) and
 * leaf. Returns the parent's fd or a negative errno. */
static int open_parent(struct vfs_call *v, const char **leaf)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(v->rel, '/');
	int rc = vfs_make_folders(v->h->fd, v->rel, 0);

	if (rc < 0)
		return rc;
	snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - v->rel) : 0, v->rel);
	*leaf = slash ? slash + 1 : v->rel;
	return vfs_open(v->h->fd, parent, O_RDONLY | O_DIRECTORY, 0);
}

void vfs_body_to_temp(struct vfs_call *v, const char *prefix, int flags, mode_t mode)
{
	int fd;

	files_temp_name(prefix, v->tmp, sizeof(v->tmp));
	fd = openat(v->pfd, v->tmp, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		v->tmp[0] = '\0';
		vfs_fail_errno(v, -errno);
		return;
	}
	http_body_to_fd(v->req, fd);
	v->work_rc = fd; /* closed at completion */
}

/* Checks If-Match for a PUT over the leaf: 0 when it may go on, else the
 * status of the reply given. */
static unsigned put_check(struct vfs_call *v, const char *leaf)
{
	struct stat st;
	char tag[80];

	if (fstatat(v->pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		v->existed = 0;
		return 0;
	}
	v->existed = 1;
	if (!S_ISREG(st.st_mode)) {
		http_reply_error(v->req, 409, "'/%s' is a folder (or not a plain file).", v->rel);
		return 409;
	}
	etag_of(&st, tag, sizeof(tag));
	if (!tag_in(http_header(v->req, "If-Match"), tag)) {
		http_reply_error(v->req, 412,
				 "'/%s' exists: replacing it needs an If-Match header with its ETag or *.",
				 v->rel);
		return 412;
	}
	return 0;
}

static void begin_put(struct vfs_call *v)
{
	const char *leaf;

	if (v->dir || !*v->rel) {
		int rc = vfs_make_folders(v->h->fd, v->rel, 1);

		if (rc < 0)
			vfs_fail_errno(v, rc == -EEXIST ? -ENOTDIR : rc);
		return; /* answered at completion (201) */
	}
	v->pfd = open_parent(v, &leaf);
	if (v->pfd < 0) {
		vfs_fail_errno(v, v->pfd);
		return;
	}
	if (put_check(v, leaf))
		return;
	vfs_body_to_temp(v, ".vfs-upload-", O_WRONLY, 0644);
}

static void complete_put(struct vfs_call *v)
{
	const char *leaf = strrchr(v->rel, '/') ? strrchr(v->rel, '/') + 1 : v->rel;
	struct stat st;
	char tag[80];
	int rc = http_body_error(v->req);

	if (v->dir || !*v->rel) {
		http_reply_empty(v->req, 201);
		return;
	}
	if (rc == 0 && fsync(v->work_rc) < 0)
		rc = -errno;
	close(v->work_rc);
	v->work_rc = -1;
	if (rc < 0) {
		vfs_fail_errno(v, rc);
		return;
	}
	/* Check again: another request may have changed the file. */
	if (put_check(v, leaf))
		return;
	if (renameat(v->pfd, v->tmp, v->pfd, leaf) < 0) {
		vfs_fail_errno(v, -errno);
		return;
	}
	v->tmp[0] = '\0';
	if (fstatat(v->pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		etag_of(&st, tag, sizeof(tag));
		http_add_header(v->req, "ETag", tag);
	}
	http_reply_empty(v->req, v->existed ? 204 : 201);
}

/* ---- the request ---- */

struct vfs_call *vfs_begin(struct http_request *req, struct home *h, uv_loop_t *loop,
			   int zip, const char *base, const char *rest)
{
	struct vfs_call *v = calloc(1, sizeof(*v));
	int rc;

	if (!v) {
		http_reply_error(req, 500, "Out of memory.");
		return NULL;
	}
	v->req = req;
	v->h = h;
	v->loop = loop;
	v->zip = zip;
	v->pfd = -1;
	v->work_rc = -1;
	snprintf(v->base, sizeof(v->base), "%s", base);
	rc = vfs_clean_path(rest ? rest : "", v->rel, sizeof(v->rel), &v->dir);
	if (rest && !*v->rel)
		v->dir = 1; /* "/api/vfs/": the home, asked as a folder */
	if (rc == -EACCES) {
		http_reply_error(req, 403, "The path is not accessible.");
	} else if (rc < 0) {
		http_reply_error(req, 400, "The path is not valid (no '..', no control characters, correctly percent-encoded).");
	} else if (!rest) {
		/* "/api/vfs" without the slash: the home's listing. */
		redirect(v, 1);
	} else if (http_method(req) == HTTP_PUT) {
		if (zip)
			vfs_begin_zip_put(v);
		else
			begin_put(v);
	}
	return v;
}

void vfs_complete(struct vfs_call *v)
{
	if (http_replied(v->req))
		return;
	switch (http_method(v->req)) {
	case HTTP_GET:
	case HTTP_HEAD:
		do_get(v);
		break;
	case HTTP_DELETE:
		do_delete(v);
		break;
	case HTTP_PUT:
		if (v->zip)
			vfs_complete_zip_put(v);
		else
			complete_put(v);
		break;
	default:
		http_reply_error(v->req, 405, "Not allowed.");
	}
}

void vfs_done(struct vfs_call *v)
{
	if (!v)
		return;
	if (v->busy) {
		v->req = NULL; /* freed by the work's callback */
		return;
	}
	if (v->work_rc >= 0)
		close(v->work_rc);
	if (v->tmp[0] && v->pfd >= 0)
		unlinkat(v->pfd, v->tmp, 0);
	if (v->pfd >= 0)
		close(v->pfd);
	free(v);
}
