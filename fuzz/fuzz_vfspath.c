/* libFuzzer target: the VFS path canonicaliser. An accepted path is
 * relative, has no "..", "." or empty component, no control byte, and is
 * never the credentials folder or below it. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
		char *copy = strdup(out), *save, *tok;

		if (out[0] == '/' || strstr(out, "//") ||
		    strcmp(out, "data/webjobs") == 0 || strncmp(out, "data/webjobs/", 13) == 0)
			abort();
		for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
			if (strcmp(tok, ".") == 0 || strcmp(tok, "..") == 0)
				abort();
		for (const char *p = out; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		free(copy);
	} else if (rc != -EINVAL && rc != -EACCES) {
		abort();
	}
	free(raw);
	return 0;
}
