/* libFuzzer target: the arguments tokenizer. Checks that every word comes
 * out NUL-free and no longer than the input, and that the count matches. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), **w, err[128];
	int n;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	n = args_split(text, &w, err, sizeof(err));
	if (n >= 0) {
		int i = 0;

		for (; w[i]; i++)
			if (strlen(w[i]) > size)
				abort();
		if (i != n)
			abort();
		args_free(w);
	} else if (w) {
		abort();
	}
	free(text);
	return 0;
}
