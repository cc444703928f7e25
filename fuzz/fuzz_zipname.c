/* libFuzzer target: zip entry name checks. An accepted name is relative,
 * has no empty, "." or ".." component and no backslash or control byte. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relative_path.h"
#include "unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = malloc(size + 1), out[4096], err[512];

	if (!name)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (unpack_check_name(name, out, sizeof(out), err, sizeof(err)) == 0) {
		assert_relative_path(out);
		if (strchr(out, '\\'))
			abort();
	}
	if (size >= 2) {
		unsigned m = unpack_mode((unsigned)data[0] << 8 | data[1], data[0] & 1);

		if (m & ~0755u || !(m & 0400))
			abort();
	}
	free(name);
	return 0;
}
