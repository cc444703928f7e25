/* What every accepted path of the fuzz targets must be: relative, with no
 * empty, "." or ".." component and no control byte. Aborts otherwise. */
#ifndef WEBJOBS_FUZZ_RELATIVE_PATH_H
#define WEBJOBS_FUZZ_RELATIVE_PATH_H

#include <stdlib.h>
#include <string.h>

static void assert_relative_path(const char *path)
{
	char *copy, *save, *tok;

	if (path[0] == '/' || strstr(path, "//"))
		abort();
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	copy = strdup(path);
	if (!copy)
		return;
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		if (strcmp(tok, ".") == 0 || strcmp(tok, "..") == 0)
			abort();
	free(copy);
}

#endif
