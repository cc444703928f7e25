/* libFuzzer target: the VFS path canonicaliser. An accepted path is
 * relative, has no "..", "." or empty component, no control byte, and is
 * never the credentials folder or below it. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relative_path.h"
#include "vfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw = malloc(size + 1), out[PATH_MAX];
	int dir, rc;

	if (!raw)
		return 0;
	memcpy(raw, data, size);
	raw[size] = '\0';
	rc = vfs_clean_path(raw, out, sizeof(out), &dir);
	if (rc == 0) {
		assert_relative_path(out);
		if (strcmp(out, "data/webjobs") == 0 || strncmp(out, "data/webjobs/", 13) == 0)
			abort();
	} else if (rc != -EINVAL && rc != -EACCES) {
		abort();
	}
	free(raw);
	return 0;
}
