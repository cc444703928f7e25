/*
 * dashboard: the web app behind extra_info_url (docs/API.md, "Dashboard"):
 * its files, compiled into the binary from web/ (tools/embed.c), served
 * under /azurejobs/ with gzip, ETags and the browser-safety headers; and
 * the cross-site refusal every state-changing request goes through.
 */
#ifndef WEBJOBS_DASHBOARD_H
#define WEBJOBS_DASHBOARD_H

#include <stddef.h>
#include <stdint.h>

struct dashboard_asset {
	const char *name;           /* "app.js" */
	const unsigned char *data;  /* as written in web/ */
	size_t len;
	const unsigned char *gz;    /* gzip -9n of it */
	size_t gzlen;
	uint64_t hash;              /* FNV-1a 64 of data: the ETag */
};

/* Made at build time (build/gen/assets.c). */
extern const struct dashboard_asset dashboard_assets[];
extern const unsigned dashboard_nassets;

struct http_request;

/* GET/HEAD /azurejobs/{rest} (rest "" is index.html). */
void dashboard_serve(struct http_request *req, const char *rest);

/* 1 when a POST, PUT or DELETE comes from another origin (Origin names
 * another host than Host or X-Forwarded-Host, or is "null"; or
 * Sec-Fetch-Site is "cross-site"): it gets 403 Cross-site request refused.
 * Clients that send neither header pass. */
int dashboard_cross_site(struct http_request *req);

#endif
