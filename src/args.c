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

/* Reads one word at *pp (not at a blank) into word, quotes and escapes
 * resolved; *pp moves past it. Returns its length, or -EINVAL with why. */
static long read_word(const char **pp, char *word, char *err, size_t errsz)
{
	const char *p = *pp;
	size_t w = 0;

	while (*p && !is_blank(*p)) {
		if (*p == '\'') {
			const char *end = strchr(p + 1, '\'');

			if (!end) {
				snprintf(err, errsz, "unterminated single quote");
				return -EINVAL;
			}
			memcpy(word + w, p + 1, (size_t)(end - p - 1));
			w += (size_t)(end - p - 1);
			p = end + 1;
		} else if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				/* Inside double quotes a backslash escapes only
				 * $ ` " \ and newline. */
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
				return -EINVAL;
			}
			p++;
		} else if (*p == '\\') {
			if (!p[1]) {
				snprintf(err, errsz, "trailing backslash");
				return -EINVAL;
			}
			if (p[1] != '\n')
				word[w++] = p[1];
			p += 2;
		} else {
			word[w++] = *p++;
		}
	}
	*pp = p;
	return (long)w;
}

/* Appends a copy of word to *words (n used, *cap slots). */
static int push_word(char ***words, size_t *n, size_t *cap, const char *word, char *err,
		     size_t errsz)
{
	if (*n + 1 >= *cap) {
		char **nw;

		if (*cap >= ARGS_MAX_WORDS) {
			snprintf(err, errsz, "more than %d arguments", ARGS_MAX_WORDS);
			return -E2BIG;
		}
		nw = realloc(*words, (*cap * 2) * sizeof(**words));
		if (!nw)
			return -ENOMEM;
		*words = nw;
		*cap *= 2;
	}
	if (!((*words)[*n] = strdup(word)))
		return -ENOMEM;
	(*words)[++*n] = NULL;
	return 0;
}

int args_split(const char *text, char ***out, char *err, size_t errsz)
{
	size_t n = 0, cap = 8;
	char **words = calloc(cap, sizeof(*words));
	char *word = malloc(strlen(text) + 1);
	const char *p = text;
	int rc = -ENOMEM;

	*out = NULL;
	if (!words || !word)
		goto fail;
	for (;;) {
		long w;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		if ((w = read_word(&p, word, err, errsz)) < 0) {
			rc = (int)w;
			goto fail;
		}
		word[w] = '\0';
		if ((rc = push_word(&words, &n, &cap, word, err, errsz)) < 0)
			goto fail;
	}
	free(word);
	*out = words;
	return (int)n;
fail:
	free(word);
	args_free(words);
	return rc;
}
