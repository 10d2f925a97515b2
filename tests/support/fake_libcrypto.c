/* fake_libcrypto.c - a library named libcrypto.so.3 with none of OpenSSL's functions, put first on
 * LD_LIBRARY_PATH by test_hubhash.c to show that only SHA-256 needs libcrypto, loaded on first use
 * (parser/integrity/vf_evp.h), and that its absence is one clear error. */
int vft_fake_libcrypto;
