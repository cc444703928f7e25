/*
 * notify: libsystemd's sd_notify, loaded with dlopen on first use and only
 * under systemd. Linking libsystemd outright maps it and its dependencies
 * (libgcrypt, libzstd, liblz4, liblzma...) into every host and costs about
 * 1 MB of resident memory for one datagram sent at start-up; see
 * docs/DECISIONS.md for the measurement.
 */
#define _GNU_SOURCE
#include "notify.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>

#include "log.h"

typedef int (*sd_notify_fn)(int unset_environment, const char *state);

int notify_systemd(const char *state)
{
	static sd_notify_fn fn;
	static int tried;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	if (!tried) {
		void *lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);

		tried = 1;
		if (lib)
			fn = (sd_notify_fn)(void (*)(void))dlsym(lib, "sd_notify");
		if (!fn)
			log_warn("NOTIFY_SOCKET is set but libsystemd.so.0 cannot be loaded: %s",
				 dlerror());
	}
	return fn ? fn(0, state) : -ENOSYS;
}
