/*
 * swap: the exchange of two folders, with a fallback of three renames where
 * RENAME_EXCHANGE is refused. The fallback's states, as a crash may leave
 * them ("aside" is .swap-{dst}.{random}):
 *   1. dst old, src new              nothing happened: src is removed by
 *                                    the caller's clean-up (or by recovery
 *                                    once untouched for an hour)
 *   2. aside old, src new, no dst    recovery moves aside back to dst
 *   3. aside old, dst new            recovery removes aside
 *   4. src old, dst new              done; the caller removes src
 * Readers that find dst missing while an aside exists (state 2) keep what
 * they knew (swap_pending), so on every instance the job goes from old to
 * new without a moment of absence. An old folder is removed marked
 * (home_remove_marked): a reader a network client still leads there by
 * the name does not take it, half-emptied, for the job.
 */
#define _GNU_SOURCE
#include "swap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "home.h"
#include "log.h"

#define STALE_UPLOAD 3600 /* seconds */

/* errnos by which a file system says it cannot exchange names. */
static int no_exchange(int e)
{
	return e == EINVAL || e == ENOSYS || e == EXDEV || e == EOPNOTSUPP;
}

/* Moves src to dst when dst does not exist. */
static int put_new(int dfd, const char *src, const char *dst)
{
	struct stat st;

	if (renameat2(dfd, src, dfd, dst, RENAME_NOREPLACE) == 0)
		return 0;
	if (!no_exchange(errno))
		return -errno;
	/* No RENAME_NOREPLACE either: a plain rename, which replaces only an
	 * empty folder (one made at this moment by another writer: fine). */
	if (fstatat(dfd, dst, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	return renameat(dfd, src, dfd, dst) < 0 ? -errno : 0;
}

int swap_in(int dfd, const char *src, const char *dst)
{
	char aside[NAME_MAX + 1], prefix[NAME_MAX + 1];
	int rc;

	if (renameat2(dfd, src, dfd, dst, RENAME_EXCHANGE) == 0)
		return 0;
	if (errno == ENOENT)
		return put_new(dfd, src, dst);
	if (!no_exchange(errno))
		return -errno;
	if (snprintf(prefix, sizeof(prefix), SWAP_PREFIX "%s.", dst) >= (int)sizeof(prefix) - 17)
		return -ENAMETOOLONG;
	files_temp_name(prefix, aside, sizeof(aside));
	if (renameat(dfd, dst, dfd, aside) < 0)
		return errno == ENOENT ? put_new(dfd, src, dst) : -errno;
	if (renameat(dfd, src, dfd, dst) < 0) {
		rc = -errno;
		/* Another writer's dst came in between: ours lost; theirs stays. */
		if (renameat(dfd, aside, dfd, dst) < 0)
			home_remove_marked(dfd, aside);
		return rc == -EEXIST ? -ENOTEMPTY : rc;
	}
	/* The old content under src's name: the caller removes it. */
	if (renameat(dfd, aside, dfd, src) < 0)
		home_remove_marked(dfd, aside);
	return 0;
}

/* The dst an aside name belongs to ("" when name is not an aside). */
static void aside_of(const char *name, char *dst, size_t size)
{
	size_t n = strlen(name), p = strlen(SWAP_PREFIX);

	dst[0] = '\0';
	if (strncmp(name, SWAP_PREFIX, p) != 0 || n < p + 18 || name[n - 17] != '.' ||
	    strspn(name + n - 16, "0123456789abcdef") != 16 || n - 17 - p >= size)
		return;
	memcpy(dst, name + p, n - 17 - p);
	dst[n - 17 - p] = '\0';
}

int swap_pending(int dfd, const char *dst)
{
	int fd, found = 0;
	DIR *d;
	struct dirent *de;
	struct stat st;
	char of[NAME_MAX + 1];

	/* A folder there after all: put in place since (a file or a link
	 * by the name is no job's folder). */
	if (fstatat(dfd, dst, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISDIR(st.st_mode);
	if (errno != ENOENT)
		return errno == ESTALE;
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	if (!(d = fdopendir(fd))) {
		close(fd);
		return 0;
	}
	while (!found && (de = readdir(d))) {
		aside_of(de->d_name, of, sizeof(of));
		found = strcmp(of, dst) == 0 || strcmp(de->d_name, dst) == 0;
	}
	closedir(d);
	return found;
}

void swap_recover(int dfd, int min_age, int lock)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char **names, of[NAME_MAX + 1];
	int n;
	time_t now = time(NULL);

	/* One recoverer at a time across instances: two that both saw an
	 * aside would race, and one might remove, through a name its client
	 * still caches, the folder the other just put back. */
	if (lock >= 0 && fcntl(lock, F_OFD_SETLK, &fl) < 0)
		return;
	n = files_list(dfd, NULL, SIZE_MAX, &names);

	for (int i = 0; i < n; i++) {
		struct stat st, now_st;

		aside_of(names[i], of, sizeof(of));
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* An upload or a staging folder untouched for an hour was left
		 * by a host that died in the middle of a deploy. */
		if ((strncmp(names[i], ".staging-", 9) == 0 || strncmp(names[i], ".upload-", 8) == 0) &&
		    now - st.st_mtime > STALE_UPLOAD) {
			files_remove_tree(dfd, names[i]);
			continue;
		}
		if (!of[0] || now - st.st_ctime < min_age)
			continue;
		if (fstatat(dfd, of, &now_st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (now_st.st_ino == st.st_ino && now_st.st_dev == st.st_dev)
				continue; /* one folder under two names: a stale cache */
			log_warn("a deploy of %s was cut short after the new files were in place: "
				 "removing the old ones (%s)", of, names[i]);
			home_remove_marked(dfd, names[i]);
		} else if (renameat(dfd, names[i], dfd, of) == 0) {
			log_warn("a deploy of %s was cut short before the new files were in place: "
				 "the old ones are back", of);
		}
	}
	files_free_names(names, n < 0 ? 0 : n);
	fl.l_type = F_UNLCK;
	if (lock >= 0)
		fcntl(lock, F_OFD_SETLK, &fl);
}
