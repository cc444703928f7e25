/*
 * zipout: replying with a folder of the home as a zip, made as it is sent
 * (docs/VFS.md: GET /api/zip/...).
 */
#ifndef WEBJOBS_ZIPOUT_H
#define WEBJOBS_ZIPOUT_H

#include "http.h"

/* Replies 200 application/zip with the folder fd (taken), whose path
 * relative to the home is root, as NAME.zip. */
void zipout_reply(struct http_request *req, int fd, const char *root, const char *name);

#endif
