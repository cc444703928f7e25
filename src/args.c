/*
 * args: a small tokenizer with the quoting rules of the POSIX shell
 * (XCU 2.2) and none of its expansions: $, `, *, ?, ~, & and ; are plain
 * characters.
 */
#define _GNU_SOURCE
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

void args_free(char **words)
{
	if (!words)
		return;
	for (char **w = words; *w; w++)
		free(*w);
	free(words);
}

int args_split(const char *text, char ***out, char *err, size_t errsz)
{
	size_t len = strlen(text), n = 0, cap = 8;
	char **words = calloc(cap, sizeof(*words));
	char *word = malloc(len + 1);
	const char *p = text;
	int rc;

	*out = NULL;
	if (!words || !word) {
		rc = -ENOMEM;
		goto fail;
	}
	for (;;) {
		size_t w = 0;
		int in_word = 0;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		while (*p && !is_blank(*p)) {
			in_word = 1;
			if (*p == '\'') {
				const char *end = strchr(p + 1, '\'');

				if (!end) {
					snprintf(err, errsz, "unterminated single quote");
					rc = -EINVAL;
					goto fail;
				}
				memcpy(word + w, p + 1, (size_t)(end - p - 1));
				w += (size_t)(end - p - 1);
				p = end + 1;
			} else if (*p == '"') {
				p++;
				while (*p && *p != '"') {
					/* Inside double quotes a backslash
					 * escapes only $ ` " \ and newline. */
					if (*p == '\\' && p[1] && strchr("$`\"\\\n", p[1])) {
						if (p[1] != '\n')
							word[w++] = p[1];
						p += 2;
					} else {
						word[w++] = *p++;
					}
				}
				if (*p != '"') {
					snprintf(err, errsz, "unterminated double quote");
					rc = -EINVAL;
					goto fail;
				}
				p++;
			} else if (*p == '\\') {
				if (!p[1]) {
					snprintf(err, errsz, "trailing backslash");
					rc = -EINVAL;
					goto fail;
				}
				if (p[1] != '\n')
					word[w++] = p[1];
				p += 2;
			} else {
				word[w++] = *p++;
			}
		}
		if (!in_word)
			continue;
		if (n + 1 >= cap) {
			char **nw;

			if (cap >= ARGS_MAX_WORDS) {
				snprintf(err, errsz, "more than %d arguments", ARGS_MAX_WORDS);
				rc = -E2BIG;
				goto fail;
			}
			nw = realloc(words, (cap *= 2) * sizeof(*words));
			if (!nw) {
				rc = -ENOMEM;
				goto fail;
			}
			words = nw;
		}
		word[w] = '\0';
		if (!(words[n] = strdup(word))) {
			rc = -ENOMEM;
			goto fail;
		}
		words[++n] = NULL;
	}
	free(word);
	*out = words;
	return (int)n;
fail:
	free(word);
	args_free(words);
	return rc;
}
