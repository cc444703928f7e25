/*
 * sha256: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the
 * signature of webhook deliveries (docs/API.md, "Run control").
 */
#ifndef WEBJOBS_SHA256_H
#define WEBJOBS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t len;      /* bytes fed so far */
	uint8_t block[64];
	size_t used;       /* bytes in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

/* HMAC-SHA256 of data under key. */
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
		 uint8_t out[SHA256_LEN]);

/* out as 64 lower-case hex digits and a NUL. */
void sha256_hex(const uint8_t in[SHA256_LEN], char out[2 * SHA256_LEN + 1]);

#endif
