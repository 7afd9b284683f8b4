#ifndef HOGMAIL_CSHA256_H
#define HOGMAIL_CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// A SHA-256 state from libcrypto, as a plain value: copying it (a hash of a fixed prefix, such
/// as an HMAC key's pads) is a copy of these bytes, with no allocation.
typedef struct {
    _Alignas(8) unsigned char bytes[128];
} hogmail_sha256;

void hogmail_sha256_start(hogmail_sha256 *state);
void hogmail_sha256_update(hogmail_sha256 *state, const void *data, size_t length);
/// The digest of what `state` has hashed followed by `data`; `state` itself is not changed.
void hogmail_sha256_digest(const hogmail_sha256 *state, const void *data, size_t length, void *digest);

#endif
