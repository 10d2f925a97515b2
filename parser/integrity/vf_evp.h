/* vf_evp.h - OpenSSL's EVP message digests, loaded on first use (private to parser/integrity).
 *
 * Only `verify --sha256` (vf_hubhash.c) hashes with OpenSSL, yet linking libcrypto costs every
 * process ~0.9 ms of start-up (its relocations; BENCHMARKS.md, issue 15): so it is opened with
 * dlopen the first time a digest is needed, by the SONAME of the OpenSSL the build compiled against,
 * and only the seven EVP functions used are looked up. */
#ifndef VRAMFIT_VF_EVP_H
#define VRAMFIT_VF_EVP_H

#include <openssl/evp.h>

#include "vramfit/vf_error.h"

typedef struct vf_evp {
    EVP_MD_CTX *(*ctx_new)(void);
    void (*ctx_free)(EVP_MD_CTX *ctx);
    int (*init)(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl);
    int (*update)(EVP_MD_CTX *ctx, const void *data, size_t n);
    int (*final)(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *n);
    const EVP_MD *(*sha256)(void);
    const EVP_MD *(*sha1)(void);
} vf_evp;

/* The functions, loaded once per process (thread-safe); NULL with VF_ERR_UNSUPPORTED in err (naming
 * the library) when libcrypto cannot be loaded or lacks one of them. The library stays loaded. */
const vf_evp *vf_evp_get(vf_error *err);

#endif
