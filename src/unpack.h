/*
 * unpack: zip archives into a folder, treating every entry as hostile
 * (docs/API.md, "Deploying jobs"): absolute names, ".." components, links, devices and other
 * non-file entries are refused, as are archives past the limits on entry
 * count, unpacked size and per-entry compression ratio. Blocking: call it
 * from the thread pool.
 */
#ifndef WEBJOBS_UNPACK_H
#define WEBJOBS_UNPACK_H

#include <stddef.h>
#include <stdint.h>

struct unpack_limits {
	uint64_t max_entries;  /* default 65,536 */
	uint64_t max_total;    /* bytes unpacked, default 4 GiB */
	uint64_t max_ratio;    /* unpacked:compressed of one entry, default 1,000 */
	int overwrite;         /* replace existing files (zip PUT over a folder) */
};

#define UNPACK_LIMITS_DEFAULT { 65536, 4ULL << 30, 1000, 0 }

/* Checks and normalises one entry name into out (relative, '/'-separated,
 * no "." or empty components; '\\' counts as a separator). Returns 0, or
 * -EINVAL with the reason in err. Pure. */
int unpack_check_name(const char *name, char *out, size_t outsz, char *err,
		      size_t errsz);

/* Unpacks the zip file at zip_path beneath the folder dfd. Returns the
 * number of files written, or a negative errno with a reason naming the
 * entry in err: -EINVAL for a bad archive or entry, -EFBIG past a limit,
 * -ENOSPC (and other I/O errors) as they come. */
int unpack_zip(const char *zip_path, int dfd, const struct unpack_limits *lim,
	       char *err, size_t errsz);

/* Mode bits for an entry: masked to 0755, owner read (and for folders
 * owner search) always set; 0 means none given (0644 / 0755). Pure. */
unsigned unpack_mode(unsigned mode, int is_dir);

#endif
