/* libFuzzer target: the lenient settings.job reader and typed look-ups. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	json_t *o = settings_parse((const char *)data, size, err, sizeof(err));

	if (o) {
		settings_bool(o, "is_singleton", 0);
		settings_int(o, "stopping_wait_time", 5);
		settings_string(o, "schedule");
		json_decref(o);
	} else if (!memchr(err, '\0', sizeof(err))) {
		abort(); /* the reason must always be a terminated string */
	}
	return 0;
}
