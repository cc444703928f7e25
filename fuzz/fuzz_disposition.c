/* libFuzzer target: the Content-Disposition file name parser. A name that
 * comes out is never empty, ".", "..", and holds no separator or control
 * byte. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), out[300];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (deploy_filename(text, out, sizeof(out)) == 0) {
		if (!out[0] || strcmp(out, ".") == 0 || strcmp(out, "..") == 0 ||
		    strchr(out, '/') || strchr(out, '\\'))
			abort();
		for (const char *p = out; *p; p++)
			if ((unsigned char)*p < 0x20)
				abort();
	}
	free(text);
	return 0;
}
