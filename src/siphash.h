/*
 * siphash: SipHash-2-4, a keyed 64-bit hash. Used where an attacker must
 * not be able to predict or collide hashes (the credential cache) and for
 * opaque ETags.
 */
#ifndef WEBJOBS_SIPHASH_H
#define WEBJOBS_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
