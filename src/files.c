/*
 * files: atomic record writes and tree removal/copy, all relative to
 * folder fds and with O_NOFOLLOW, so that nothing is ever reached through a
 * link planted in the home.
 */
#define _GNU_SOURCE
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

void files_temp_name(const char *prefix, char *buf, size_t size)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint64_t)getpid() * 2654435761u ^ (uint64_t)(uintptr_t)buf;
	snprintf(buf, size, "%s%016llx", prefix, (unsigned long long)r);
}

int files_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void files_dir_init(struct files_dir *d, int fd)
{
	d->fd = fd;
	d->pos = d->len = 0;
}

const struct dirent *files_dir_next(struct files_dir *d)
{
	for (;;) {
		const struct dirent *de;

		if (d->pos >= d->len) {
			ssize_t n = d->fd >= 0 ? getdents64(d->fd, d->buf, sizeof(d->buf)) : -1;

			if (n <= 0)
				return NULL;
			d->len = (size_t)n;
			d->pos = 0;
		}
		/* The kernel's linux_dirent64 is glibc's struct dirent here. */
		de = (const struct dirent *)(const void *)(d->buf + d->pos);
		d->pos += de->d_reclen;
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			return de;
	}
}

int files_open_read(int dfd, const char *path, int flags)
{
	static int noatime = O_NOATIME;
	int fd = openat(dfd, path, flags | noatime);

	/* Refused when the host owns neither the file nor CAP_FOWNER: then
	 * it is not asked for again. */
	if (fd < 0 && errno == EPERM && noatime) {
		fd = openat(dfd, path, flags);
		if (fd >= 0)
			noatime = 0;
	}
	return fd;
}

/* Lists the open folder fd from where its position stands. */
static int list_fd(int fd, int (*keep)(const char *name), size_t max, char ***out)
{
	struct files_dir d;
	const struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	files_dir_init(&d, fd);
	while (n < max && (de = files_dir_next(&d))) {
		if (keep && !keep(de->d_name))
			continue;
		if (n == cap) {
			char **nv = realloc(v, sizeof(*v) * (cap = cap ? cap * 2 : 16));

			if (!nv)
				break;
			v = nv;
		}
		if (!(v[n] = strdup(de->d_name)))
			break;
		n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), by_name);
	*out = v;
	return (int)n;
}

int files_list(int dfd, int (*keep)(const char *name), size_t max, char ***out)
{
	int fd = files_open_read(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n;

	*out = NULL;
	if (fd < 0)
		return -errno;
	n = list_fd(fd, keep, max, out);
	close(fd);
	return n;
}

int files_list_own(int fd, int (*keep)(const char *name), size_t max, char ***out)
{
	return list_fd(fd, keep, max, out);
}

void files_free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int files_write_atomic(int dfd, const char *name, const void *data,
		       size_t len, unsigned mode, int durable)
{
	char tmp[64];
	int fd, rc;

	files_temp_name(".tmp-", tmp, sizeof(tmp));
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	rc = files_write_all(fd, data, len);
	if (rc == 0 && durable && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dfd, tmp, dfd, name) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(dfd, tmp, 0);
		return rc;
	}
	if (durable)
		fsync(dfd);
	return 0;
}

int files_write_swap(int dfd, const char *name, const char *spare, const void *data,
		     size_t len)
{
	int fd = openat(dfd, spare, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	struct stat st;
	int rc;

	if (fd < 0)
		return -errno;
	/* Overwritten, then cut to size — not O_TRUNC: ext4 flushes a file
	 * truncated to 0 when it is closed (auto_da_alloc), one disk write
	 * per status record (docs/DECISIONS.md, "This machine's ext4"). Cut
	 * only when it was longer: a record grows as its run goes on, and on
	 * ext4 an fstat costs 2-3 µs less than a truncate to the same size
	 * (which still journals the inode). */
	if (fstat(fd, &st) < 0)
		st.st_size = -1;
	rc = files_write_all(fd, data, len);
	if (rc == 0 && (st.st_size < 0 || st.st_size > (off_t)len) && ftruncate(fd, (off_t)len) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		return rc;
	if (renameat2(dfd, spare, dfd, name, RENAME_EXCHANGE) == 0)
		return 0;
	/* The first write (no name yet), or a file system without
	 * RENAME_EXCHANGE (FUSE, NFS): a plain rename. */
	if ((errno == ENOENT || errno == EINVAL) && renameat(dfd, spare, dfd, name) == 0)
		return 0;
	return -errno;
}

int files_write_in_place(int dfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = files_write_all(fd, data, len); /* a fresh fd: from offset 0 */
	if (rc == 0 && ftruncate(fd, (off_t)len) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int files_remove_tree(int dfd, const char *name)
{
	int rc = 0;
	struct files_dir *d;
	const struct dirent *de;

	if (unlinkat(dfd, name, 0) == 0)
		return 0;
	if (errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	/* On the heap: the walk recurses once per level. */
	if (!(d = malloc(sizeof(*d))))
		return -ENOMEM;
	files_dir_init(d, openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
	if (d->fd < 0) {
		rc = errno == ENOENT ? 0 : -errno;
		free(d);
		return rc;
	}
	while ((de = files_dir_next(d))) {
		int r = files_remove_tree(d->fd, de->d_name);

		if (r < 0 && rc == 0)
			rc = r;
	}
	close(d->fd);
	free(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && rc == 0)
		rc = -errno;
	return rc;
}

static int copy_file(int sfd, const char *src, int dfd, const char *dst,
		     mode_t mode)
{
	int in = openat(sfd, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out, rc = 0;
	char buf[65536];

	if (in < 0)
		return -errno;
	out = openat(dfd, dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     mode & 07777);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);

		if (n > 0)
			continue;
		if (n == 0)
			break;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL) {
			rc = -errno;
			break;
		}
		/* Fall back to read/write. */
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n) {
				rc = -(errno ? errno : EIO);
				break;
			}
		if (n < 0)
			rc = -errno;
		break;
	}
	(void)!fchmod(out, mode & 07777);
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int files_copy_tree(int sfd, const char *src, int dfd, const char *dst)
{
	struct stat st;
	int in, out, rc = 0;
	DIR *d;
	struct dirent *de;

	if (fstatat(sfd, src, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		return copy_file(sfd, src, dfd, dst, st.st_mode);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (mkdirat(dfd, dst, (st.st_mode & 07777) | 0700) < 0)
		return -errno;
	in = openat(sfd, src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	out = openat(dfd, dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || out < 0) {
		rc = -errno;
		goto out;
	}
	d = fdopendir(in);
	if (!d) {
		rc = -errno;
		goto out;
	}
	in = -1;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((rc = files_copy_tree(dirfd(d), de->d_name, out, de->d_name)) < 0)
			break;
	}
	closedir(d);
	(void)!fchmod(out, st.st_mode & 07777);
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* Gives the tree name (beneath dfd) to uid:gid, links untouched. */
static void chown_tree(int dfd, const char *name, int uid, int gid)
{
	int fd;
	DIR *d;
	struct dirent *de;

	if (fchownat(dfd, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			chown_tree(dirfd(d), de->d_name, uid, gid);
	closedir(d);
}

int files_open_beneath(int dfd, const char *rel, int flags, unsigned mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dfd, rel, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

int files_make_parent(const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int rc = 0;

	if (!slash || slash == path)
		return 0;
	if ((size_t)(slash - path) >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	/* Mostly only the last is missing: one call, not one per component. */
	if (mkdir(parent, 0755) == 0 || errno == EEXIST)
		return 0;
	/* mkdir -p, one component at a time. */
	for (char *p = parent + 1; rc == 0; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(parent, 0755) < 0 && errno != EEXIST)
				rc = -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return rc;
}

int files_refresh_copy(int sfd, const char *src, const char *dst, int uid, int gid)
{
	char tmp[PATH_MAX];
	int rc;

	if (snprintf(tmp, sizeof(tmp), "%s.new", dst) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	files_remove_tree(AT_FDCWD, tmp);
	rc = files_make_parent(dst);
	if (rc == 0)
		rc = files_copy_tree(sfd, src, AT_FDCWD, tmp);
	if (rc == 0 && uid >= 0)
		chown_tree(AT_FDCWD, tmp, uid, gid);
	if (rc == 0)
		rc = files_remove_tree(AT_FDCWD, dst);
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc < 0)
		files_remove_tree(AT_FDCWD, tmp);
	return rc;
}

int files_local_fs(int fd)
{
	struct statfs s;

	if (fstatfs(fd, &s) < 0)
		return 0;
	switch ((unsigned long)s.f_type) {
	case EXT4_SUPER_MAGIC:
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
		return 1;
	default:
		return 0;
	}
}
