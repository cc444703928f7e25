/* libFuzzer target: whole zip files through unpack_zip, as an upload is.
 * Whatever the bytes, only plain files and folders land beneath the
 * folder, never outside it; a zip cut short is refused whole (nothing is
 * unpacked from it); the limits hold. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "unpack.h"

static char base[64];

static void cleanup(void)
{
	files_remove_tree(AT_FDCWD, base);
}

/* Aborts unless everything beneath dfd is a plain file or a folder. */
static void check_tree(int dfd)
{
	DIR *d = fdopendir(dup(dfd));
	struct dirent *de;

	if (!d)
		abort();
	while ((de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			abort();
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

			if (sub < 0)
				abort();
			check_tree(sub);
			close(sub);
		} else if (!S_ISREG(st.st_mode) || (st.st_mode & 07022)) {
			abort();
		}
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unpack_limits lim = { 64, 1 << 20, 1000, 0 };
	char zip[128], dir[128], err[512];
	int fd, dfd, rc;

	if (!base[0]) {
		snprintf(base, sizeof(base), "/tmp/webjobs-fuzz-unpack-XXXXXX");
		if (!mkdtemp(base))
			abort();
		atexit(cleanup);
	}
	snprintf(zip, sizeof(zip), "%s/in.zip", base);
	snprintf(dir, sizeof(dir), "%s/out", base);
	fd = open(zip, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || files_write_all(fd, data, size) < 0)
		abort();
	close(fd);
	files_remove_tree(AT_FDCWD, dir);
	if (mkdir(dir, 0755) < 0 || (dfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
		abort();
	rc = unpack_zip(zip, dfd, &lim, err, sizeof(err));
	check_tree(dfd);
	/* A zip without the end-of-central-directory record in its last
	 * 65,557 bytes (22 + the longest comment) is never unpacked. */
	if (rc > 0) {
		size_t from = size > 65557 ? size - 65557 : 0;

		if (!memmem(data + from, size - from, "PK\x05\x06", 4))
			abort();
	}
	close(dfd);
	return 0;
}
