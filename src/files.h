/*
 * files: the file operations every writer of the home shares — records
 * written whole under a temporary name and renamed into place (durable when
 * asked), and folder trees removed or copied beneath a folder fd without
 * following links. Tree operations block: call them from the thread pool
 * when a tree may be large.
 */
#ifndef WEBJOBS_FILES_H
#define WEBJOBS_FILES_H

#include <dirent.h>
#include <stddef.h>

/* Writes data as name in folder dfd by way of the file spare, which is
 * then exchanged with name (renameat2 RENAME_EXCHANGE): readers see the
 * old or the new content whole, and after the first two writes no inode
 * is made or freed any more — spare keeps the previous content. Without a
 * name yet, or on a file system without the exchange, a plain rename.
 * Not synced. Returns 0 or -errno. */
int files_write_swap(int dfd, const char *name, const char *spare, const void *data,
		     size_t len);

/* Writes data over the content of name, an existing plain file of folder
 * dfd, and cuts it to len: one inode, no rename, and so no reader's
 * guarantee — for a file nobody may read whole meanwhile. Not synced.
 * Returns 0 or -errno (-ENOENT when there is no such file). */
int files_write_in_place(int dfd, const char *name, const void *data, size_t len);

/* Writes data as name in folder dfd: a temporary file, then rename. With
 * durable, the file and the folder are fsync'ed. Returns 0 or -errno. */
int files_write_atomic(int dfd, const char *name, const void *data,
		       size_t len, unsigned mode, int durable);

/* Removes name (a file or a whole tree) beneath dfd; links are removed,
 * never followed. Missing is success. Returns 0 or -errno. */
int files_remove_tree(int dfd, const char *name);

/* Copies the tree src (beneath sfd) to dst (beneath dfd, which must not
 * exist), keeping mode bits. Links are not followed (they are skipped).
 * Returns 0 or -errno. */
int files_copy_tree(int sfd, const char *src, int dfd, const char *dst);

/* openat(dfd, path, flags) for reading, with O_NOATIME where the kernel
 * allows it: on a disk mounted relatime, reading a folder or file after
 * each change of it would write its inode again (docs/DECISIONS.md, "The
 * run list kept from inotify's names"). */
int files_open_read(int dfd, const char *path, int flags);

/* Writes all of buf to fd (retrying short writes and EINTR). Returns 0 or
 * -errno. */
int files_write_all(int fd, const void *buf, size_t len);

/* Lists the names in folder dfd (not "." and ".."), sorted in byte order,
 * keeping those for which keep(name) is 1 (all when keep is NULL), at most
 * max. Returns the count or a negative errno; files_free_names frees. */
/* A folder read with getdents64 into a buffer: none of fdopendir's checks
 * (an fstat, two fcntls) and no second descriptor. fd is the caller's,
 * at offset 0 (freshly opened); "." and ".." are skipped; the end and an
 * error both end the names. */
struct files_dir {
	int fd;
	size_t pos, len;
	char buf[16384] __attribute__((aligned(8)));
};
void files_dir_init(struct files_dir *d, int fd);
const struct dirent *files_dir_next(struct files_dir *d);

int files_list(int dfd, int (*keep)(const char *name), size_t max, char ***out);
/* The same of the folder fd itself, which the caller opened and owns
 * (freshly opened: the listing moves its position): no second descriptor. */
int files_list_own(int fd, int (*keep)(const char *name), size_t max, char ***out);
void files_free_names(char **names, int n);

/* openat2 of rel beneath dfd, through no symbolic link (nor magic
 * link) and never above dfd; O_CLOEXEC added. An fd or -errno. */
int files_open_beneath(int dfd, const char *rel, int flags, unsigned mode);

/* mkdir -p of the folder that path (absolute) is in. 0 or -errno. */
int files_make_parent(const char *path);

/* Makes dst (an absolute path) a fresh copy of the tree src of sfd:
 * copied to "dst.new", given to uid:gid (when uid >= 0), then renamed
 * over the old copy. Blocking. Returns 0 or -errno. */
int files_refresh_copy(int sfd, const char *src, const char *dst, int uid, int gid);

/* A name for a temporary entry: prefix + random hex, in buf. */
void files_temp_name(const char *prefix, char *buf, size_t size);

/* 1 for a local file system (ext4, xfs, btrfs, tmpfs): one syncfs writes
 * every record's file and folder in one batch (docs/DECISIONS.md, "The
 * run journal"), and every change to it is seen by inotify here. Over
 * FUSE (GlusterFS) or NFS neither holds: another machine's changes make
 * no event. */
int files_local_fs(int fd);

#endif
