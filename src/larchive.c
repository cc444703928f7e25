/*
 * larchive: libarchive, loaded with dlopen on first use.
 *
 * Debian's libarchive13 pulls in libxml2, ICU and libstdc++: about 2.5 MB
 * of resident pages in every host, for code that only deploys and zips
 * run (docs/DECISIONS.md). So the binary is not linked against it; the
 * functions the host and the client use are defined here with libarchive's
 * own prototypes (from <archive.h>) and forward to the library, loaded the
 * first time one is called. Without the library (it is a package
 * dependency) the process stops with a clear message.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *lib;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Deploys unpack on the thread pool: the first load may race. */
static void load(void)
{
	lib = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "webjobs: cannot load libarchive (libarchive13): %s\n", dlerror());
		abort();
	}
}

static void *sym(const char *name)
{
	void *p;

	pthread_once(&once, load);
	p = dlsym(lib, name);
	if (!p) {
		fprintf(stderr, "webjobs: libarchive has no %s\n", name);
		abort();
	}
	return p;
}

/* Each forwarder resolves its symbol once; the pointer is published with
 * an atomic store because deploys unpack on thread-pool threads. */
#define RESOLVE(ret, name, params)                                             \
	static void *fp_;                                                      \
	void *p_ = __atomic_load_n(&fp_, __ATOMIC_ACQUIRE);                    \
	ret(*call_) params;                                                    \
	if (!p_) {                                                             \
		p_ = sym(#name);                                               \
		__atomic_store_n(&fp_, p_, __ATOMIC_RELEASE);                  \
	}                                                                      \
	*(void **)(&call_) = p_
#define FWD(ret, name, params, args)                                           \
	ret name params                                                        \
	{                                                                      \
		RESOLVE(ret, name, params);                                    \
		return call_ args;                                             \
	}
#define FWDV(name, params, args)                                               \
	void name params                                                       \
	{                                                                      \
		RESOLVE(void, name, params);                                   \
		call_ args;                                                    \
	}

FWD(struct archive *, archive_read_new, (void), ())
FWD(int, archive_read_support_format_zip, (struct archive *a), (a))
FWD(int, archive_read_support_format_zip_seekable, (struct archive *a), (a))
FWD(int, archive_read_open_filename, (struct archive *a, const char *f, size_t b), (a, f, b))
FWD(int, archive_read_next_header, (struct archive *a, struct archive_entry **e), (a, e))
FWD(la_ssize_t, archive_read_data, (struct archive *a, void *b, size_t n), (a, b, n))
FWD(int, archive_read_free, (struct archive *a), (a))
FWD(const char *, archive_error_string, (struct archive *a), (a))
FWD(la_int64_t, archive_filter_bytes, (struct archive *a, int n), (a, n))
FWD(struct archive *, archive_write_new, (void), ())
FWD(int, archive_write_set_format_zip, (struct archive *a), (a))
FWD(int, archive_write_set_options, (struct archive *a, const char *o), (a, o))
FWD(int, archive_write_set_bytes_per_block, (struct archive *a, int n), (a, n))
FWD(int, archive_write_open2,
    (struct archive *a, void *c, archive_open_callback *o, archive_write_callback *w,
     archive_close_callback *cl, archive_free_callback *fr),
    (a, c, o, w, cl, fr))
FWD(int, archive_write_header, (struct archive *a, struct archive_entry *e), (a, e))
FWD(la_ssize_t, archive_write_data, (struct archive *a, const void *b, size_t n), (a, b, n))
FWD(int, archive_write_finish_entry, (struct archive *a), (a))
FWD(int, archive_write_close, (struct archive *a), (a))
FWD(int, archive_write_free, (struct archive *a), (a))
FWD(int, archive_write_zip_set_compression_deflate, (struct archive *a), (a))
FWD(int, archive_write_zip_set_compression_store, (struct archive *a), (a))
FWD(struct archive_entry *, archive_entry_new, (void), ())
FWDV(archive_entry_free, (struct archive_entry *e), (e))
FWD(const char *, archive_entry_pathname, (struct archive_entry *e), (e))
FWD(const char *, archive_entry_hardlink, (struct archive_entry *e), (e))
FWD(__LA_MODE_T, archive_entry_filetype, (struct archive_entry *e), (e))
FWD(__LA_MODE_T, archive_entry_perm, (struct archive_entry *e), (e))
FWDV(archive_entry_set_pathname, (struct archive_entry *e, const char *p), (e, p))
FWDV(archive_entry_set_mode, (struct archive_entry *e, __LA_MODE_T m), (e, m))
FWDV(archive_entry_set_mtime, (struct archive_entry *e, time_t t, long n), (e, t, n))
FWDV(archive_entry_set_size, (struct archive_entry *e, la_int64_t s), (e, s))
