/* fuzz_snapshot.c - libFuzzer target for the snapshot reader (vf_snapshot_parse, from bytes).
 *
 * Two kinds of input, told apart by the first bytes:
 *  - starting with the snapshot magic: the whole .vfsnap image, given as is (outer header, sizes,
 *    gzip stream, fingerprint);
 *  - anything else: an uncompressed payload. The harness first recomputes every per-file XXH3-128
 *    fingerprint it can locate (walking the payload grammar of vf_snapshot.h), then gzips it and
 *    wraps it in a valid outer header with the right snapshot fingerprint. Without this step the
 *    fuzzer could never get past the checksums into the payload parser, the header parser and the
 *    checkpoint cross-checks that a snapshot feeds.
 * An accepted snapshot must re-encode (vf_snapshot_write) into a snapshot that parses to the same
 * shards, headers and auxiliary files. */
#include <string.h>
#include <xxhash.h>
#include <zlib.h>

#include "vf_fuzz.h"
#include "vramfit/vf_parser.h"
#include "vramfit/vf_snapshot.h"

#define FP 16u

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fp_of(const uint8_t *d, size_t n, uint8_t out[FP])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(d, n));
    memcpy(out, c.digest, FP);
}

/* Walks the payload grammar as far as the bytes allow, rewriting each stored fingerprint. */
static void fix_fingerprints(uint8_t *p, size_t len)
{
    size_t at = 0;
#define NEED(n)                                                                                      \
    do {                                                                                             \
        if (len - at < (size_t)(n))                                                                  \
            return;                                                                                  \
    } while (0)
    NEED(4);
    uint64_t olen = le(p + at, 4);
    at += 4;
    NEED(olen);
    at += (size_t)olen;
    for (int part = 0; part < 2; part++) { /* shards, then auxiliary files */
        NEED(4);
        uint64_t count = le(p + at, 4);
        at += 4;
        for (uint64_t i = 0; i < count; i++) {
            NEED(2);
            uint64_t nlen = le(p + at, 2);
            at += 2;
            NEED(nlen);
            at += (size_t)nlen;
            if (part == 0) {
                NEED(8);
                at += 8;
            }
            NEED(4);
            uint64_t dlen = le(p + at, 4);
            at += 4;
            NEED(FP);
            uint8_t *fp = p + at;
            at += FP;
            NEED(dlen);
            fp_of(p + at, (size_t)dlen, fp);
            at += (size_t)dlen;
        }
    }
#undef NEED
}

/* gzip(payload) behind a valid outer header; NULL on allocation failure. */
static uint8_t *wrap(const uint8_t *payload, size_t len, size_t *out_len)
{
    uLong bound = compressBound((uLong)len) + 64;
    uint8_t *buf = malloc(VF_SNAPSHOT_HEADER_BYTES + bound);
    if (!buf)
        return NULL;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(buf);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)payload;
    z.avail_in = (uInt)len;
    z.next_out = buf + VF_SNAPSHOT_HEADER_BYTES;
    z.avail_out = (uInt)bound;
    int zr = deflate(&z, Z_FINISH);
    size_t clen = bound - z.avail_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        free(buf);
        return NULL;
    }
    memcpy(buf, VF_SNAPSHOT_MAGIC, VF_SNAPSHOT_MAGIC_BYTES);
    put_le(buf + 8, VF_SNAPSHOT_VERSION, 4);
    put_le(buf + 12, 0, 4);
    put_le(buf + 16, len, 8);
    put_le(buf + 24, clen, 8);
    XXH3_state_t *st = XXH3_createState();
    if (!st) {
        free(buf);
        return NULL;
    }
    XXH3_128bits_reset(st);
    XXH3_128bits_update(st, buf, 32);
    XXH3_128bits_update(st, payload, len);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    XXH3_freeState(st);
    memcpy(buf + 32, c.digest, FP);
    *out_len = VF_SNAPSHOT_HEADER_BYTES + clen;
    return buf;
}

static void check_same(const vf_checkpoint *a, const vf_checkpoint *b)
{
    VF_FUZZ_CHECK(strcmp(vf_checkpoint_name(a), vf_checkpoint_name(b)) == 0);
    VF_FUZZ_CHECK(vf_checkpoint_shard_count(a) == vf_checkpoint_shard_count(b));
    for (size_t i = 0; i < vf_checkpoint_shard_count(a); i++) {
        const vf_shard *x = vf_checkpoint_shard(a, i), *y = vf_checkpoint_shard(b, i);
        VF_FUZZ_CHECK(strcmp(x->name, y->name) == 0);
        VF_FUZZ_CHECK(i == 0 || strcmp(vf_checkpoint_shard(a, i - 1)->name, x->name) < 0);
        size_t lx, ly;
        const uint8_t *rx = vf_st_header_raw(x->header, &lx), *ry = vf_st_header_raw(y->header, &ly);
        VF_FUZZ_CHECK(lx == ly && memcmp(rx, ry, lx) == 0);
        VF_FUZZ_CHECK(vf_st_header_file_size(x->header) == vf_st_header_file_size(y->header));
    }
    const char *aux[] = {"config.json", "generation_config.json", "adapter_config.json",
                         "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof aux / sizeof aux[0]; i++) {
        size_t lx = 0, ly = 0;
        const uint8_t *x = vf_checkpoint_aux(a, aux[i], &lx), *y = vf_checkpoint_aux(b, aux[i], &ly);
        VF_FUZZ_CHECK((x == NULL) == (y == NULL));
        VF_FUZZ_CHECK(!x || (lx == ly && memcmp(x, y, lx) == 0));
    }
}

static void parse_and_check(const uint8_t *img, size_t len)
{
    vf_checkpoint *cp = (vf_checkpoint *)&cp;
    vf_error err;
    vf_fuzz_error_init(&err);
    int rc = vf_snapshot_parse(img, len, "fuzz.vfsnap", &cp, &err);
    if (rc != VF_OK) {
        VF_FUZZ_CHECK(cp == NULL);
        vf_fuzz_check_error(rc, &err, "dm");
        return;
    }
    VF_FUZZ_CHECK(cp && vf_checkpoint_shard_count(cp) >= 1);
    uint8_t *again = NULL;
    size_t again_len = 0;
    rc = vf_snapshot_write(cp, &again, &again_len, &err);
    VF_FUZZ_CHECK(rc == VF_OK || rc == VF_ERR_NOMEM);
    if (rc == VF_OK) {
        vf_checkpoint *cp2 = NULL;
        rc = vf_snapshot_parse(again, again_len, "again.vfsnap", &cp2, &err);
        VF_FUZZ_CHECK(rc == VF_OK || rc == VF_ERR_NOMEM);
        if (cp2)
            check_same(cp, cp2);
        vf_checkpoint_free(cp2);
    }
    free(again);
    vf_checkpoint_free(cp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (vf_snapshot_has_magic(data, size)) {
        parse_and_check(data, size);
        return 0;
    }
    uint8_t *payload = malloc(size ? size : 1);
    if (!payload)
        return 0;
    memcpy(payload, data, size);
    fix_fingerprints(payload, size);
    size_t len = 0;
    uint8_t *img = wrap(payload, size, &len);
    free(payload);
    if (img)
        parse_and_check(img, len);
    free(img);
    return 0;
}
