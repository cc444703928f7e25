/*
 * jsonw: JSON text written straight into a growing buffer, byte for byte
 * as jansson's json_dumps(JSON_COMPACT) writes the same values — for the
 * run records and their journal lines, written twice a run, where
 * building jansson objects and dumping them was 8 % of the host's CPU
 * (docs/DECISIONS.md, "The cost of a scheduled run").
 */
#ifndef WEBJOBS_JSONW_H
#define WEBJOBS_JSONW_H

#include <stddef.h>

struct jsonw {
	char *p;
	size_t len, cap;
	int members; /* of the object being written */
	int failed;  /* out of memory, or a string that is not UTF-8 */
};

/* Decodes the code point at s[0..len): its length in bytes, or 0 when
 * the bytes are not well-formed UTF-8 (overlong forms, surrogates and
 * code points past U+10FFFF are not). */
size_t utf8_next(const unsigned char *s, size_t len, unsigned *cp);
/* 1 when s is well-formed UTF-8 throughout. */
int utf8_valid(const char *s);

void jsonw_init(struct jsonw *w);
/* Bytes as they are. */
void jsonw_raw(struct jsonw *w, const char *s, size_t n);
/* s as a JSON string: quoted, with '"', '\\' and control characters
 * escaped; a string that is not UTF-8 fails the text (as jansson refuses
 * it). */
void jsonw_str(struct jsonw *w, const char *s);
/* An object's member: "," before all but the first, then "key":value
 * (key: plain ASCII without characters to escape, as the record's).
 * A string member whose value is not UTF-8 is left out, as
 * json_object_set_new leaves out the NULL json_string gave it. */
void jsonw_member_str(struct jsonw *w, const char *key, const char *value);
void jsonw_member_int(struct jsonw *w, const char *key, long long value);
void jsonw_member_raw(struct jsonw *w, const char *key, const char *value);
/* The text, NUL-terminated, to free(); NULL when anything failed (the
 * buffer is freed then). */
char *jsonw_end(struct jsonw *w);

#endif
