/*
 * unpack: reading zips with libarchive and writing their entries ourselves,
 * beneath a folder fd, never through a link. libarchive's own disk writer
 * would create a symlink entry pointing anywhere, even with its SECURE_*
 * flags (docs/DECISIONS.md, "Zips are unpacked by our own code"), so it is not
 * used: every name is checked here and every file is created with
 * O_EXCL | O_NOFOLLOW relative to a folder fd we opened.
 */
#define _GNU_SOURCE
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

#define RATIO_FLOOR (1024 * 1024) /* entries below this are never refused for ratio */
#define READ_BLOCK 65536

unsigned unpack_mode(unsigned mode, int is_dir)
{
	mode &= 07777;
	if (mode == 0)
		return is_dir ? 0755 : 0644;
	mode &= 0755;
	mode |= 0400;
	if (is_dir)
		mode |= 0500;
	return mode;
}

int unpack_check_name(const char *name, char *out, size_t outsz, char *err,
		      size_t errsz)
{
	size_t o = 0;
	const char *p = name;

	if (!name || !*name) {
		snprintf(err, errsz, "an entry has an empty name");
		return -EINVAL;
	}
	if (name[0] == '/' || name[0] == '\\' ||
	    (((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z') && name[1] == ':')) {
		snprintf(err, errsz, "entry '%.200s' has an absolute path", name);
		return -EINVAL;
	}
	while (*p) {
		const char *start = p;
		size_t len;

		while (*p && *p != '/' && *p != '\\') {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				snprintf(err, errsz, "entry '%.200s' has a control character",
					 name);
				return -EINVAL;
			}
			p++;
		}
		len = (size_t)(p - start);
		if (*p)
			p++;
		if (len == 0 || (len == 1 && start[0] == '.'))
			continue;
		if (len == 2 && start[0] == '.' && start[1] == '.') {
			snprintf(err, errsz, "entry '%.200s' has a '..' component", name);
			return -EINVAL;
		}
		if (len > NAME_MAX || o + len + 2 > outsz) {
			snprintf(err, errsz, "entry '%.200s' has a name that is too long",
				 name);
			return -EINVAL;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, start, len);
		o += len;
	}
	if (o == 0) {
		snprintf(err, errsz, "entry '%.200s' names no file", name);
		return -EINVAL;
	}
	out[o] = '\0';
	return 0;
}

/* Creates the folders of path's parent beneath dfd; returns an fd of the
 * parent (the caller closes it) and the last component in *leaf. */
static int open_parent(int dfd, char *path, const char **leaf, char *err,
		       size_t errsz)
{
	int cur = dup(dfd);
	char *p = path;

	if (cur < 0)
		return -errno;
	for (;;) {
		char *slash = strchr(p, '/');
		int next;

		if (!slash)
			break;
		*slash = '\0';
		if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST) {
			int e = errno;

			snprintf(err, errsz, "cannot create folder '%s': %s", path,
				 strerror(e));
			*slash = '/';
			close(cur);
			return -e;
		}
		next = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		close(cur);
		if (next < 0) {
			int e = errno;

			snprintf(err, errsz, "cannot open folder of '%s': %s", path,
				 e == ELOOP || e == ENOTDIR ? "not a folder" : strerror(e));
			return -(e == ELOOP || e == ENOTDIR ? EINVAL : e);
		}
		cur = next;
		p = slash + 1;
	}
	*leaf = p;
	return cur;
}

/* ---- compressed sizes from the central directory ----
 * libarchive does not tell an entry's compressed size, and its read-ahead
 * makes counting consumed bytes too coarse to see a 1,000:1 ratio (deflate
 * tops out near 1,032:1). So the central directory is read here: names and
 * compressed sizes, zip64 included. */

struct cd_entry {
	char *name;
	uint64_t packed;
};

struct cd {
	struct cd_entry *v;
	size_t n;
};

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static void cd_free(struct cd *cd)
{
	for (size_t i = 0; i < cd->n; i++)
		free(cd->v[i].name);
	free(cd->v);
	cd->v = NULL;
	cd->n = 0;
}

/* Reads the central directory of the zip file fd; leaves cd empty when it
 * cannot (the archive reader then reports the damage). */
static void cd_read(int fd, struct cd *cd)
{
	unsigned char tail[65557 + 22], *e = NULL, loc[20], e64[56];
	struct stat st;
	uint64_t off, size, count;
	ssize_t n;
	unsigned char *buf = NULL;

	cd->v = NULL;
	cd->n = 0;
	if (fstat(fd, &st) < 0 || st.st_size < 22)
		return;
	n = pread(fd, tail, sizeof(tail) < (size_t)st.st_size ? sizeof(tail) : (size_t)st.st_size,
		  st.st_size - (off_t)(sizeof(tail) < (size_t)st.st_size ? sizeof(tail) : (size_t)st.st_size));
	for (ssize_t i = n - 22; i >= 0; i--)
		if (le32(tail + i) == 0x06054b50) {
			e = tail + i;
			break;
		}
	if (!e)
		return;
	count = le16(e + 10);
	size = le32(e + 12);
	off = le32(e + 16);
	if ((off == 0xffffffff || count == 0xffff || size == 0xffffffff) &&
	    e - tail >= 20 && (memcpy(loc, e - 20, 20), le32(loc) == 0x07064b50) &&
	    pread(fd, e64, sizeof(e64), (off_t)le64(loc + 8)) == (ssize_t)sizeof(e64) &&
	    le32(e64) == 0x06064b50) {
		count = le64(e64 + 32);
		size = le64(e64 + 40);
		off = le64(e64 + 48);
	}
	if (size > (uint64_t)st.st_size || count > size / 46 + 1 ||
	    !(buf = malloc(size ? size : 1)) ||
	    pread(fd, buf, size, (off_t)off) != (ssize_t)size ||
	    !(cd->v = calloc(count + 1, sizeof(*cd->v)))) {
		free(buf);
		return;
	}
	for (uint64_t i = 0, p = 0; i < count && p + 46 <= size; i++) {
		unsigned char *h = buf + p;
		uint32_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
		uint64_t packed = le32(h + 20);

		if (le32(h) != 0x02014b50 || p + 46 + nlen + xlen > size)
			break;
		if (packed == 0xffffffff) {
			/* zip64 extra field: the original size comes first
			 * when it too is 0xffffffff. */
			unsigned char *x = h + 46 + nlen, *end = x + xlen;

			while (x + 4 <= end) {
				uint32_t id = le16(x), len = le16(x + 2);

				if (id == 1 && x + 4 + len <= end) {
					unsigned char *v = x + 4;

					if (le32(h + 24) == 0xffffffff)
						v += 8;
					if (v + 8 <= x + 4 + len)
						packed = le64(v);
					break;
				}
				x += 4 + len;
			}
		}
		cd->v[cd->n].name = strndup((char *)h + 46, nlen);
		cd->v[cd->n].packed = packed;
		if (cd->v[cd->n].name)
			cd->n++;
		p += 46 + nlen + xlen + clen;
	}
	free(buf);
}

/* The compressed size of an entry by name, or 0 when unknown. */
static uint64_t cd_packed(const struct cd *cd, const char *name)
{
	for (size_t i = 0; i < cd->n; i++)
		if (strcmp(cd->v[i].name, name) == 0)
			return cd->v[i].packed;
	return 0;
}

/* One unpacking: the archive, its limits, what was unpacked so far. */
struct unpacking {
	struct archive *a;
	const struct unpack_limits *lim;
	const struct cd *cd;
	uint64_t total;
	char *err;
	size_t errsz;
};

/* Copies the current entry's data into fd within the limits. */
static int copy_data(struct unpacking *u, int fd, const char *raw, uint64_t known)
{
	char buf[65536];
	int64_t before = archive_filter_bytes(u->a, -1), written = 0;

	for (;;) {
		la_ssize_t n = archive_read_data(u->a, buf, sizeof(buf));
		int64_t packed;
		int rc;

		if (n == 0)
			return 0;
		if (n < 0) {
			snprintf(u->err, u->errsz, "entry '%.200s' is damaged: %s", raw,
				 archive_error_string(u->a));
			return -EINVAL;
		}
		written += n;
		u->total += (uint64_t)n;
		packed = archive_filter_bytes(u->a, -1) - before;
		if (u->total > u->lim->max_total) {
			snprintf(u->err, u->errsz, "the archive unpacks to more than %llu bytes",
				 (unsigned long long)u->lim->max_total);
			return -EFBIG;
		}
		/* The input is read ahead in blocks: give the packed count one
		 * block of slack so a legitimate entry is never refused. */
		if (written > RATIO_FLOOR &&
		    (uint64_t)written > u->lim->max_ratio *
						(known ? known : (uint64_t)(packed + READ_BLOCK))) {
			snprintf(u->err, u->errsz, "entry '%.200s' is compressed more than %llu:1",
				 raw, (unsigned long long)u->lim->max_ratio);
			return -EFBIG;
		}
		if ((rc = files_write_all(fd, buf, (size_t)n)) < 0) {
			snprintf(u->err, u->errsz, "cannot write '%.200s': %s", raw, strerror(-rc));
			return rc;
		}
	}
}

/* Unpacks one entry beneath dfd: 1 for a file, 0 for a folder, or a
 * negative errno with the reason in u->err. */
static int unpack_entry(struct unpacking *u, int dfd, struct archive_entry *ae)
{
	const char *raw = archive_entry_pathname(ae), *leaf;
	mode_t type = archive_entry_filetype(ae);
	char name[PATH_MAX];
	int pfd, fd, rc;

	if ((rc = unpack_check_name(raw, name, sizeof(name), u->err, u->errsz)) < 0)
		return rc;
	if (archive_entry_hardlink(ae) || (type != AE_IFREG && type != AE_IFDIR)) {
		snprintf(u->err, u->errsz, "entry '%.200s' is not a plain file or folder%s", raw,
			 type == AE_IFLNK ? " (a link)" : "");
		return -EINVAL;
	}
	if (type == AE_IFDIR) {
		/* "a/" normalised to "a": make it and its parents. */
		size_t len = strlen(name);

		name[len] = '/';
		name[len + 1] = '\0';
		if ((pfd = open_parent(dfd, name, &leaf, u->err, u->errsz)) < 0)
			return pfd;
		name[len] = '\0';
		(void)!fchmodat(dfd, name, unpack_mode(archive_entry_perm(ae), 1), 0);
		close(pfd);
		return 0;
	}
	if ((pfd = open_parent(dfd, name, &leaf, u->err, u->errsz)) < 0)
		return pfd;
	fd = openat(pfd, leaf,
		    O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
			    (u->lim->overwrite ? O_TRUNC : O_EXCL),
		    unpack_mode(archive_entry_perm(ae), 0));
	if (fd < 0) {
		int e = errno;

		snprintf(u->err, u->errsz, "cannot create '%.200s': %s", raw,
			 e == EEXIST ? "the archive holds it twice" : strerror(e));
		close(pfd);
		return e == EEXIST || e == ELOOP || e == EISDIR ? -EINVAL : -e;
	}
	(void)!fchmod(fd, unpack_mode(archive_entry_perm(ae), 0));
	rc = copy_data(u, fd, raw, cd_packed(u->cd, raw));
	close(fd);
	close(pfd);
	return rc < 0 ? rc : 1;
}

int unpack_zip(const char *zip_path, int dfd, const struct unpack_limits *lim,
	       char *err, size_t errsz)
{
	struct cd cd = { 0 };
	struct unpacking u = { archive_read_new(), lim, &cd, 0, err, errsz };
	struct archive_entry *ae;
	uint64_t entries = 0;
	int rc = 0, files = 0, r, zfd;

	if (!u.a) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	/* The seekable reader: the central directory at the end of the file
	 * is the list of entries, so a zip cut short (its directory gone, or
	 * an entry's data cut) is refused, never unpacked in part. */
	archive_read_support_format_zip_seekable(u.a);
	if ((zfd = open(zip_path, O_RDONLY | O_CLOEXEC)) >= 0) {
		cd_read(zfd, &cd);
		close(zfd);
	}
	if (archive_read_open_filename(u.a, zip_path, READ_BLOCK) != ARCHIVE_OK) {
		snprintf(err, errsz,
			 "not a zip archive, or one cut short (no central directory at its end): %s",
			 archive_error_string(u.a));
		rc = -EINVAL;
		goto out;
	}
	while ((r = archive_read_next_header(u.a, &ae)) == ARCHIVE_OK) {
		if (++entries > lim->max_entries) {
			snprintf(err, errsz, "more than %llu entries",
				 (unsigned long long)lim->max_entries);
			rc = -EFBIG;
			goto out;
		}
		if ((rc = unpack_entry(&u, dfd, ae)) < 0)
			goto out;
		files += rc;
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errsz, "damaged zip archive: %s", archive_error_string(u.a));
		rc = -EINVAL;
		goto out;
	}
	rc = files;
out:
	archive_read_free(u.a);
	cd_free(&cd);
	return rc;
}
