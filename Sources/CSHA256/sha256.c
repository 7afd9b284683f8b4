// SHA-256 through libcrypto's low-level calls, whose context is a plain struct: swift-crypto's
// SHA256 keeps its context behind a reference, so each copy of a keyed state (two per HMAC)
// allocated and copied on write. OpenSSL 3 marks these calls deprecated in favour of EVP,
// whose contexts are allocated too; they stay supported.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "CSHA256.h"

#include <openssl/sha.h>
#include <string.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((hogmail_sha256 *)0)->bytes), "SHA256_CTX does not fit hogmail_sha256");
_Static_assert(_Alignof(SHA256_CTX) <= _Alignof(hogmail_sha256), "hogmail_sha256 is less aligned than SHA256_CTX");

void hogmail_sha256_start(hogmail_sha256 *state) {
    SHA256_Init((SHA256_CTX *)state->bytes);
}

void hogmail_sha256_update(hogmail_sha256 *state, const void *data, size_t length) {
    SHA256_Update((SHA256_CTX *)state->bytes, data, length);
}

void hogmail_sha256_digest(const hogmail_sha256 *state, const void *data, size_t length, void *digest) {
    SHA256_CTX copy;
    memcpy(&copy, state->bytes, sizeof copy);
    SHA256_Update(&copy, data, length);
    SHA256_Final(digest, &copy);
}
