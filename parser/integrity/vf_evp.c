/* vf_evp.c - OpenSSL's EVP digests through dlopen (see vf_evp.h). */
#include <dlfcn.h>
#include <openssl/opensslv.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vf_evp.h"

#define VF_STR2(x) #x
#define VF_STR(x) VF_STR2(x)
#define VF_LIBCRYPTO "libcrypto.so." VF_STR(OPENSSL_SHLIB_VERSION) /* the SONAME built against */

static vf_evp evp;
static bool evp_ok;
static char evp_why[160];
static pthread_once_t evp_once = PTHREAD_ONCE_INIT;

/* dlsym into a function pointer of any type (POSIX guarantees the conversion works). */
static bool look_up(void *lib, const char *name, void *fn, size_t size)
{
    void *p = dlsym(lib, name);
    if (p)
        memcpy(fn, &p, size);
    return p != NULL;
}

static void evp_load(void)
{
    void *lib = dlopen(VF_LIBCRYPTO, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        snprintf(evp_why, sizeof evp_why, "%.140s", why ? why : "cannot be loaded");
        return;
    }
    evp_ok = look_up(lib, "EVP_MD_CTX_new", &evp.ctx_new, sizeof evp.ctx_new) &&
             look_up(lib, "EVP_MD_CTX_free", &evp.ctx_free, sizeof evp.ctx_free) &&
             look_up(lib, "EVP_DigestInit_ex", &evp.init, sizeof evp.init) &&
             look_up(lib, "EVP_DigestUpdate", &evp.update, sizeof evp.update) &&
             look_up(lib, "EVP_DigestFinal_ex", &evp.final, sizeof evp.final) &&
             look_up(lib, "EVP_sha256", &evp.sha256, sizeof evp.sha256) &&
             look_up(lib, "EVP_sha1", &evp.sha1, sizeof evp.sha1);
    if (!evp_ok)
        snprintf(evp_why, sizeof evp_why, "lacks the EVP digest functions");
}

const vf_evp *vf_evp_get(vf_error *err)
{
    pthread_once(&evp_once, evp_load);
    if (evp_ok)
        return &evp;
    vf_error_set(err, VF_ERR_UNSUPPORTED, VF_LIBCRYPTO, NULL,
                 "SHA-256 needs OpenSSL's libcrypto (Debian package libssl3): %s", evp_why);
    return NULL;
}
