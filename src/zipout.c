/*
 * zipout: a folder sent as a zip while it is walked. libarchive writes
 * each piece into a small buffer that MHD drains; a file is added 64 KiB
 * at a time, so neither a temporary file nor the whole archive ever
 * exists. Text files are deflated (fast level), the rest stored, chosen
 * between entries. Links and special files are left out, as is the
 * credentials folder of the home.
 */
#define _GNU_SOURCE
#include "zipout.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define CREDENTIALS "data/webjobs"


struct level {
	DIR *d;
	char *prefix; /* entry names of this folder start with it */
};

struct zipstream {
	struct archive *a;
	char *buf;
	size_t len, off, cap;
	struct level stack[64];
	int depth;
	int fd;             /* the file being added */
	int finished, failed;
	char root[PATH_MAX]; /* the zipped folder, relative to the home */
};

static la_ssize_t zip_write(struct archive *a, void *arg, const void *data, size_t n)
{
	struct zipstream *z = arg;

	(void)a;
	if (z->len + n > z->cap) {
		size_t cap = z->cap ? z->cap : 65536;
		char *b;

		while (cap < z->len + n)
			cap *= 2;
		b = realloc(z->buf, cap);
		if (!b)
			return -1;
		z->buf = b;
		z->cap = cap;
	}
	memcpy(z->buf + z->len, data, n);
	z->len += n;
	return (la_ssize_t)n;
}

static int zip_push(struct zipstream *z, int fd, const char *prefix)
{
	DIR *d = fdopendir(fd);

	if (!d || z->depth == 64) {
		if (d)
			closedir(d);
		else
			close(fd);
		return -1;
	}
	z->stack[z->depth].d = d;
	z->stack[z->depth].prefix = strdup(prefix);
	z->depth++;
	return 0;
}

/* 1 for the text files of jobs and logs, which deflate well; binaries
 * and archives are stored as they are. */
static int compressible(const char *name)
{
	static const char *const exts[] = { ".txt", ".log", ".json", ".job", ".sh", ".py",
					    ".js", ".php", ".cmd", ".bat", ".ps1", ".xml",
					    ".html", ".htm", ".css", ".csv", ".md", ".config",
					    ".yml", ".yaml", ".ini", ".sql", NULL };
	const char *dot = strrchr(name, '.');

	for (int i = 0; dot && exts[i]; i++)
		if (strcasecmp(dot, exts[i]) == 0)
			return 1;
	return !dot; /* "run" and other scripts without an extension */
}

/* Adds one more piece to the archive: a block of the current file, or the
 * next entry of the current folder. */
static void zip_step(struct zipstream *z)
{
	char block[65536];

	if (z->fd >= 0) {
		ssize_t n = read(z->fd, block, sizeof(block));

		if (n > 0) {
			archive_write_data(z->a, block, (size_t)n);
			return;
		}
		close(z->fd);
		z->fd = -1;
		archive_write_finish_entry(z->a);
		return;
	}
	if (z->depth == 0) {
		archive_write_close(z->a);
		z->finished = 1;
		return;
	}
	{
		struct level *lv = &z->stack[z->depth - 1];
		struct dirent *de = readdir(lv->d);
		struct archive_entry *ae;
		struct stat st;
		char name[PATH_MAX];

		if (!de) {
			closedir(lv->d);
			free(lv->prefix);
			z->depth--;
			return;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd(lv->d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
			return;
		snprintf(name, sizeof(name), "%s%s%s", lv->prefix, de->d_name,
			 S_ISDIR(st.st_mode) ? "/" : "");
		{
			/* The credentials folder is never part of a zip. */
			char full[PATH_MAX * 2 + 2];

			snprintf(full, sizeof(full), "%s%s%s%s", z->root, *z->root ? "/" : "",
				 lv->prefix, de->d_name);
			if (strcmp(full, CREDENTIALS) == 0)
				return;
		}
		ae = archive_entry_new();
		archive_entry_set_pathname(ae, name);
		archive_entry_set_mode(ae, st.st_mode);
		archive_entry_set_mtime(ae, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		archive_entry_set_size(ae, S_ISREG(st.st_mode) ? st.st_size : 0);
		if (S_ISREG(st.st_mode)) {
			/* Legal between entries (the last one was finished). */
			if (compressible(de->d_name))
				archive_write_zip_set_compression_deflate(z->a);
			else
				archive_write_zip_set_compression_store(z->a);
			z->fd = openat(dirfd(lv->d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (z->fd < 0) {
				archive_entry_free(ae);
				return;
			}
		}
		archive_write_header(z->a, ae);
		archive_entry_free(ae);
		if (S_ISDIR(st.st_mode)) {
			archive_write_finish_entry(z->a);
			int sub = openat(dirfd(lv->d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				zip_push(z, sub, name);
		}
	}
}

static long zip_read(void *arg, uint64_t pos, char *out, size_t max)
{
	struct zipstream *z = arg;
	size_t n;

	(void)pos;
	while (z->off == z->len && !z->finished) {
		z->off = z->len = 0;
		zip_step(z);
	}
	if (z->off == z->len)
		return -1;
	n = z->len - z->off < max ? z->len - z->off : max;
	memcpy(out, z->buf + z->off, n);
	z->off += n;
	return (long)n;
}

static void zip_free(void *arg)
{
	struct zipstream *z = arg;

	while (z->depth > 0) {
		z->depth--;
		closedir(z->stack[z->depth].d);
		free(z->stack[z->depth].prefix);
	}
	if (z->fd >= 0)
		close(z->fd);
	archive_write_free(z->a);
	free(z->buf);
	free(z);
}

void zipout_reply(struct http_request *req, int fd, const char *root, const char *name)
{
	struct zipstream *z = calloc(1, sizeof(*z));
	char disp[PATH_MAX + 64];

	if (!z || !(z->a = archive_write_new())) {
		free(z);
		close(fd);
		http_reply_error(req, 500, "Out of memory.");
		return;
	}
	z->fd = -1;
	snprintf(z->root, sizeof(z->root), "%s", root);
	archive_write_set_format_zip(z->a);
	/* A zip made while it is sent must keep up with the network: fast
	 * deflate for text, which shrinks, and none for the rest. */
	if (archive_write_set_options(z->a, "zip:compression-level=1") != ARCHIVE_OK)
		log_debug("zip: libarchive takes no compression level: %s",
			  archive_error_string(z->a));
	archive_write_set_bytes_per_block(z->a, 0);
	archive_write_open2(z->a, z, NULL, zip_write, NULL, NULL);
	zip_push(z, fd, "");
	snprintf(disp, sizeof(disp), "attachment; filename=%s.zip", name);
	http_add_header(req, "Content-Disposition", disp);
	http_reply_stream(req, 200, "application/zip", zip_read, z, zip_free);
}

