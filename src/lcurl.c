/*
 * lcurl: libcurl, loaded with dlopen by the client commands, and by the
 * host only once a webhook is configured (src/webhook.c).
 *
 * A host without webhooks never maps libcurl (and its TLS stack): the
 * functions used are defined here with curl's own prototypes and constants
 * (from <curl/curl.h>) and forward to the library, loaded by lcurl_load().
 * The client is single-threaded, and in the host only the webhook thread
 * calls curl (after lcurl_load on the loop thread), so resolving a symbol
 * on first use needs no lock.
 */
#define _GNU_SOURCE
#define CURL_DISABLE_TYPECHECK /* the forwarders take curl's variadic form */
#include "lcurl.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void *lib;

int lcurl_load(void)
{
	if (lib)
		return 0;
	lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "webjobs: cannot load libcurl (libcurl4): %s\n", dlerror());
		return -1;
	}
	return 0;
}

static void *sym(const char *name)
{
	void *p = lib ? dlsym(lib, name) : NULL;

	if (!p) {
		fprintf(stderr, "webjobs: libcurl has no %s\n", name);
		abort();
	}
	return p;
}

#define RESOLVE(ret, name, params)                                             \
	static ret(*call_) params;                                             \
	if (!call_)                                                            \
		*(void **)(&call_) = sym(#name)
#define FWD(ret, name, params, args)                                           \
	ret name params                                                        \
	{                                                                      \
		RESOLVE(ret, name, params);                                    \
		return call_ args;                                             \
	}

FWD(CURL *, curl_easy_init, (void), ())
FWD(CURLcode, curl_easy_perform, (CURL *c), (c))
FWD(const char *, curl_easy_strerror, (CURLcode rc), (rc))
FWD(struct curl_slist *, curl_slist_append, (struct curl_slist *l, const char *s), (l, s))
FWD(char *, curl_easy_escape, (CURL *c, const char *s, int n), (c, s, n))
FWD(CURLcode, curl_global_init, (long flags), (flags))
FWD(CURLM *, curl_multi_init, (void), ())
FWD(CURLMcode, curl_multi_add_handle, (CURLM *m, CURL *c), (m, c))
FWD(CURLMcode, curl_multi_remove_handle, (CURLM *m, CURL *c), (m, c))
FWD(CURLMcode, curl_multi_perform, (CURLM *m, int *running), (m, running))
FWD(CURLMcode, curl_multi_poll,
    (CURLM *m, struct curl_waitfd extra[], unsigned n, int ms, int *ret), (m, extra, n, ms, ret))
FWD(CURLMcode, curl_multi_wakeup, (CURLM *m), (m))
FWD(CURLMsg *, curl_multi_info_read, (CURLM *m, int *left), (m, left))
FWD(CURLMcode, curl_multi_cleanup, (CURLM *m), (m))

void curl_easy_cleanup(CURL *c)
{
	RESOLVE(void, curl_easy_cleanup, (CURL *));
	call_(c);
}

void curl_slist_free_all(struct curl_slist *l)
{
	RESOLVE(void, curl_slist_free_all, (struct curl_slist *));
	call_(l);
}

void curl_free(void *p)
{
	RESOLVE(void, curl_free, (void *));
	call_(p);
}

/* The option's number says the type of its argument (curl.h's
 * CURLOPTTYPE_* ranges). */
CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	va_list ap;
	CURLcode rc;

	RESOLVE(CURLcode, curl_easy_setopt, (CURL *, CURLoption, ...));
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = call_(c, opt, va_arg(ap, long));
	else if (opt >= CURLOPTTYPE_FUNCTIONPOINT && opt < CURLOPTTYPE_OFF_T)
		rc = call_(c, opt, va_arg(ap, void (*)(void)));
	else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB)
		rc = call_(c, opt, va_arg(ap, curl_off_t));
	else
		rc = call_(c, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	va_list ap;
	CURLcode rc;

	RESOLVE(CURLcode, curl_easy_getinfo, (CURL *, CURLINFO, ...));
	va_start(ap, info);
	rc = call_(c, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}
