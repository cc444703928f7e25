/*
 * lcurl: libcurl for the client commands, loaded with dlopen (see
 * lcurl.c). Include this instead of <curl/curl.h>.
 */
#ifndef WEBJOBS_LCURL_H
#define WEBJOBS_LCURL_H

#ifndef CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_TYPECHECK
#endif
#include <curl/curl.h>

/* Loads libcurl; -1 after saying why it cannot be loaded. Call it before
 * any curl_* function. */
int lcurl_load(void);

#endif
