/* libFuzzer target: route matching, percent-decoding and query look-up.
 * The input is a request target ("/path?query"); the first byte picks the
 * method. Checks that captured names never hold NUL and that a match or a
 * clean error always results. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

static const struct route table[] = {
	{ HTTP_GET | HTTP_HEAD, "/healthz", 0, 0 },
	{ HTTP_GET, "/api/triggeredwebjobsswagger", 1, 0 },
	{ HTTP_GET, "{J}", 2, 0 },
	{ HTTP_GET, "{T}", 3, 0 },
	{ HTTP_GET, "{C}", 3, 0 },
	{ HTTP_GET | HTTP_PUT | HTTP_DELETE, "{T}/{name}", 4, 0 },
	{ HTTP_POST, "{T}/{name}/run", 5, 0 },
	{ HTTP_GET, "{T}/{name}/history/{id}", 6, 0 },
	{ HTTP_GET | HTTP_PUT, "{C}/{name}/settings", 7, 0 },
	{ HTTP_GET | HTTP_PUT | HTTP_DELETE | HTTP_HEAD, "/api/vfs/{*}", 8, 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned methods[] = { HTTP_GET, HTTP_HEAD, HTTP_POST,
					    HTTP_PUT, HTTP_DELETE, HTTP_OTHER };
	struct route_match m;
	unsigned allow = 0;
	char *target, *q, *v;
	int rc;

	if (size < 1)
		return 0;
	target = malloc(size);
	if (!target)
		return 0;
	memcpy(target, data + 1, size - 1);
	target[size - 1] = '\0';
	q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	rc = route_match(table, sizeof(table) / sizeof(table[0]),
			 methods[data[0] % 6], target, &m, &allow);
	if (rc == 0) {
		for (int i = 0; i < m.nparams; i++)
			if (m.params[i][0] == '\0')
				abort(); /* params are never empty */
		route_match_free(&m);
	} else if (rc == -EPERM && allow == 0) {
		abort();
	} else if (rc != -ENOENT && rc != -EPERM && rc != -EINVAL) {
		abort();
	}
	if (q) {
		v = route_query_get(q, "arguments");
		free(v);
	}
	free(target);
	return 0;
}
