/*
 * args: splitting a run's `arguments` into words like a POSIX shell does —
 * whitespace separates; single quotes, double quotes and backslashes group
 * and escape — with no expansion of any kind (docs/API.md, "The job's process"). Pure.
 */
#ifndef WEBJOBS_ARGS_H
#define WEBJOBS_ARGS_H

#include <stddef.h>

#define ARGS_MAX_WORDS 4096

/* Splits text into a NULL-terminated array of new strings in *out
 * (args_free frees it). Returns the number of words, or -EINVAL with a
 * reason in err for an unterminated quote or a trailing backslash,
 * -E2BIG past ARGS_MAX_WORDS. */
int args_split(const char *text, char ***out, char *err, size_t errsz);
void args_free(char **words);

#endif
